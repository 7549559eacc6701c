//! One delivery per job outcome: claim, send, record, or give the claim back. The notice and
//! the job's event both go through here, each with an item of its own, so a retry that finds
//! one told sends only the other.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::{timeout, Instant};

use super::{Claim, Ledger, Receipt, Told};
use crate::error::Error;

/// The most a failed delivery waits to give its claim back.
const RELEASE_BUDGET: Duration = Duration::from_secs(2);

/// Sends `delivery` of `output`'s outcome through `send` within `left`, unless `ledger` says it
/// was sent before: then the first delivery's receipt is the answer. `send` gets the time left
/// after the claim and must answer within it.
///
/// One another invocation is sending now fails as `NotificationFailed`, so the poll runs again
/// and finds it told (or the claim abandoned, and takes it over). A ledger that cannot answer
/// never stands between an outcome and its delivery: it goes out unclaimed, at least once.
pub async fn tell_once<F, Fut>(
    ledger: Option<&Ledger>,
    told: Told<'_>,
    left: Duration,
    send: F,
) -> Result<Receipt, Error>
where
    F: FnOnce(Duration) -> Fut,
    Fut: Future<Output = Result<Receipt, Error>>,
{
    let Some(ledger) = ledger else {
        return send(left).await;
    };
    let started = Instant::now();
    let token = match claim(ledger, told, left).await {
        Some(Claim::Ours { token }) => Some(token),
        Some(Claim::Told(first)) => {
            tracing::info!(
                id = %crate::text::truncate(&first.id, 100),
                what = told.what(),
                "told before: not sent again"
            );
            return Ok(first);
        }
        Some(Claim::Held { until }) => return Err(held(ledger, told, until)),
        None => None,
    };
    let left = left.saturating_sub(started.elapsed());
    let started = Instant::now();
    let receipt = match (send(left).await, token) {
        (Ok(receipt), token) => (receipt, token),
        (Err(err), Some(token)) => {
            // Past the deadline the claim simply expires (src/ledger/mod.rs).
            let _ = timeout(RELEASE_BUDGET, ledger.release(told, &token)).await;
            return Err(err);
        }
        (Err(err), None) => return Err(err),
    };
    if let (receipt, Some(token)) = &receipt {
        let left = left.saturating_sub(started.elapsed());
        record(ledger, told, token, receipt, left).await;
    }
    Ok(receipt.0)
}

/// Another invocation holds the claim: this one fails, retryably, and its retry finds the
/// outcome told or the claim expired.
fn held(ledger: &Ledger, told: Told<'_>, until: std::time::SystemTime) -> Error {
    Error::NotificationFailed {
        destination: ledger.destination(),
        message: format!(
            "another invocation is {} {}; its claim holds until {}",
            match told {
                Told::Job(_, crate::ledger::Delivery::Event) => "putting",
                _ => "publishing",
            },
            told.what(),
            crate::carried::rfc3339(until).unwrap_or_default()
        ),
    }
}

/// Records a delivery that went out. It is out: a record that fails only leaves the claim to
/// expire, the one window in which the outcome may be told twice (src/ledger/mod.rs).
async fn record(ledger: &Ledger, told: Told<'_>, token: &str, receipt: &Receipt, left: Duration) {
    let what = told.what();
    match timeout(left, ledger.record(told, token, receipt)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, what, "the delivery was not recorded"),
        Err(_) => tracing::warn!(what, "the delivery was not recorded before the deadline"),
    }
}

/// The ledger's claim, within a third of `left` (the rest is the delivery's); None when the
/// ledger did not answer, logged.
async fn claim(ledger: &Ledger, told: Told<'_>, left: Duration) -> Option<Claim> {
    let until = SystemTime::now() + left;
    let what = told.what();
    match timeout(left / 3, ledger.claim(told, until)).await {
        Ok(Ok(claim)) => Some(claim),
        Ok(Err(err)) => {
            tracing::error!(error = %err, what, "the ledger could not claim it: it goes out unclaimed");
            None
        }
        Err(_) => {
            tracing::error!(
                what,
                "the ledger did not answer in time: it goes out unclaimed"
            );
            None
        }
    }
}
