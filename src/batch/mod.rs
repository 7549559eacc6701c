//! Many jobs in one invocation: paced under QuickSight's per-account call rate, a bounded number
//! in flight, one normalized result per job and an aggregate a Choice state can branch on.

mod aggregate;
mod failure;
mod limits;

use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;

pub use aggregate::aggregate;
pub use limits::BatchLimits;

use failure::{after_failure, backoff_seconds, notice_may_wait, AfterFailure};

use crate::contract::{BatchOutput, ErrorDetail, PollOutput, Status};
use crate::error::Error;
use crate::metrics::{Outcome, PollMetrics};
use crate::pace::{Pace, RateLimiter};
use crate::poller::{Polled, Poller};
use crate::reference::{BatchItem, BatchRequest, PollRequest, NOT_POLLED};
use crate::status::{build_output, Observation};
use crate::text::{truncate_bytes, ERROR_MESSAGE_MAX};

/// A describe starting later than this before the deadline is put off to the next round.
const LAST_START: Duration = Duration::from_millis(1500);

/// Polls a batch's unfinished jobs by `deadline` and answers for all of them; the jobs'
/// allow-lists were checked before. Returns what the polls measured alongside, for the
/// invocation's one metrics line.
pub async fn poll_batch(
    poller: &Poller,
    limits: &BatchLimits,
    batch: BatchRequest,
    deadline: Instant,
) -> (Result<BatchOutput, Error>, Vec<PollMetrics>) {
    let limiter = RateLimiter::new(limits.rate_per_second);
    // Jobs the last round had no time for go first, so a batch larger than one round can
    // poll never starves its tail; answers are put back in input order.
    let mut items: Vec<(usize, BatchItem)> = batch.items.into_iter().enumerate().collect();
    items.sort_by_key(|(_, item)| !matches!(item, BatchItem::Poll { overdue: true, .. }));
    let results: Vec<Result<Job, Error>> = stream::iter(items)
        .map(|(index, item)| {
            let limiter = &limiter;
            async move {
                match item {
                    BatchItem::Finished(output) => Ok((index, *output, None)),
                    BatchItem::Poll { request, .. } => {
                        let (output, metrics) =
                            poll_round(poller, limits, &request, deadline, limiter).await?;
                        Ok((index, output, Some(metrics)))
                    }
                }
            }
        })
        // `buffered` keeps at most this many polls (and their futures) alive, however
        // long the batch.
        .buffered(limits.concurrency)
        .collect()
        .await;
    // An escalated job whose notice could not be published fails the whole invocation
    // (retried), so that failure is told rather than lost.
    let mut jobs = match results.into_iter().collect::<Result<Vec<_>, Error>>() {
        Ok(jobs) => jobs,
        Err(err) => return (Err(err), Vec::new()),
    };
    jobs.sort_by_key(|(index, _, _)| *index);
    // Polls the round had no time for made no call: not counted as polls.
    let polls: Vec<PollMetrics> = jobs
        .iter_mut()
        .filter_map(|(_, output, metrics)| {
            metrics
                .take()
                .filter(|_| output.error.as_ref().is_none_or(|e| e.kind != NOT_POLLED))
        })
        .collect();
    let jobs = jobs.into_iter().map(|(_, output, _)| output).collect();
    let mut answer = aggregate(jobs, batch.previous_attempt.saturating_add(1));
    answer.loop_kind = batch.loop_kind;
    (Ok(answer), polls)
}

/// One job's place in the batch, its output, and what its poll measured (none when carried over).
type Job = (usize, PollOutput, Option<PollMetrics>);

/// One job's round in a batch; a poll that failed follows the rule of `failure.rs`.
async fn poll_round(
    poller: &Poller,
    limits: &BatchLimits,
    request: &PollRequest,
    deadline: Instant,
    limiter: &RateLimiter,
) -> Result<(PollOutput, PollMetrics), Error> {
    let policy = poller.policy();
    // The describe must start early enough to leave room for its answer and a notice.
    let pace = Pace {
        limiter,
        start_by: deadline.checked_sub(LAST_START).unwrap_or(deadline),
    };
    let Polled {
        result,
        mut metrics,
    } = poller.poll(request, deadline, Some(&pace)).await;
    let err = match result {
        Ok(output) => return Ok((output, metrics)),
        Err(err) => err,
    };
    let streak = request.carried.error_streak.saturating_add(1);
    let mut output = build_output(request, Observation::NotPolled, SystemTime::now(), policy)
        .after_failed_rounds(streak, backoff_seconds(streak, policy));
    let why = match after_failure(output.error_streak, output.age_seconds, policy, limits) {
        AfterFailure::Retry => {
            output.error = Some(detail(err.error_type(), err.message()));
            return Ok((output, metrics));
        }
        AfterFailure::Escalate { why } => format!("{why}: {}", err.message()),
    };
    let mut escalated = output
        .clone()
        .ended(Status::Failed, detail(err.error_type(), why.clone()));
    match poller.tell(&mut escalated, deadline).await {
        Ok(()) => {
            metrics.notified = escalated.notification.is_some();
            metrics.outcome = Outcome::Status(Status::Failed);
            Ok((escalated, metrics))
        }
        Err(notice) if notice_may_wait(output.error_streak, limits) => {
            let message = format!(
                "FAILED after {why}; its notice or event could not be sent yet: {}",
                notice.message()
            );
            output.error = Some(detail(notice.error_type(), message));
            Ok((output, metrics))
        }
        Err(notice) => Err(notice),
    }
}

/// An error detail whose message is bounded.
fn detail(kind: &str, message: String) -> ErrorDetail {
    ErrorDetail {
        kind: kind.into(),
        message: truncate_bytes(&message, ERROR_MESSAGE_MAX).into_owned(),
    }
}
