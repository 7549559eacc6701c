//! One EventBridge event per finished job, so other systems can act on it with a rule of their
//! own: detail-type `Snapshot Job Finished`, the job's ARN in `resources`, the redacted output
//! as `detail` ([`Detail`]). It goes through the notice ledger like the notice, in an item of
//! its own: a retry that finds the notice told puts only the event, and the other way round.

mod detail;
mod settings;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use tokio::time::{timeout, Instant};

pub use detail::Detail;
pub use settings::EventSettings;

use crate::contract::{EventReceipt, PollOutput};
use crate::error::Error;
use crate::ledger::{tell_once, Delivery, Ledger, Receipt, Told};
use crate::presign::Presigner;
use crate::sdk_error::delivery_error;

/// The event's `detail-type`.
pub const DETAIL_TYPE: &str = "Snapshot Job Finished";

/// EventBridge's limit on one entry: 14 bytes for the time, plus the UTF-8 bytes of the source,
/// the detail-type, the detail and the resources.
pub const ENTRY_MAX_BYTES: usize = 256 * 1024;

/// Why a detail has no file list.
const OVER_SIZE: &str =
    "the file list would take the event over EventBridge's 256 KB limit; the job's output has it";

/// PutEvents errors that the same request meets again however often it is retried: the bus is
/// gone or not ours to use, or the request is invalid. Throttling and internal errors pass.
const PERMANENT_ERRORS: &[&str] = &[
    "ResourceNotFoundException",
    "AccessDeniedException",
    "ValidationException",
    "InvalidArgument",
];

/// Puts each finished job's event on one bus, with a client built at the first event.
pub struct JobEvents {
    config: aws_sdk_eventbridge::Config,
    client: OnceLock<aws_sdk_eventbridge::Client>,
    settings: EventSettings,
    ledger: Option<Arc<Ledger>>,
    presigner: Option<Presigner>,
}

impl JobEvents {
    /// Events on the bus `settings` name, through a client built from `config`.
    pub fn new(config: aws_sdk_eventbridge::Config, settings: EventSettings) -> Self {
        JobEvents {
            config,
            client: OnceLock::new(),
            settings,
            ledger: None,
            presigner: None,
        }
    }

    /// Claims each event in `ledger` before it is put (one event per job outcome).
    pub fn with_ledger(mut self, ledger: Arc<Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Signs a download link for each `s3://` file of an event.
    pub fn with_presigner(mut self, presigner: Presigner) -> Self {
        self.presigner = Some(presigner);
        self
    }

    fn client(&self) -> &aws_sdk_eventbridge::Client {
        self.client
            .get_or_init(|| aws_sdk_eventbridge::Client::from_conf(self.config.clone()))
    }

    /// Where the events go, as error messages name it.
    fn destination(&self) -> String {
        format!("EventBridge bus {}", self.settings.bus)
    }

    /// Puts the event of a finished `output` within `left` and records it in the output; an
    /// outcome whose event the ledger has seen put is not put again ([`tell_once`]).
    pub async fn announce(&self, output: &mut PollOutput, left: Duration) -> Result<(), Error> {
        let receipt = tell_once(
            self.ledger.as_deref(),
            Told::Job(output, Delivery::Event),
            left,
            |left| self.put(output, left),
        )
        .await?;
        output.event = Some(EventReceipt {
            event_id: receipt.id,
            event_bus: receipt.destination,
        });
        Ok(())
    }

    async fn put(&self, output: &PollOutput, left: Duration) -> Result<Receipt, Error> {
        let started = Instant::now();
        let links = match &self.presigner {
            Some(presigner) => presigner.links_within(output, left / 4).await,
            None => Vec::new(),
        };
        let entry = entry(output, &links, &self.settings);
        let left = left.saturating_sub(started.elapsed());
        let put = timeout(left, self.client().put_events().entries(entry).send())
            .await
            .map_err(|_| self.failed(crate::text::no_answer_before_deadline(left)))?
            .map_err(|err| self.classify(&err))?;
        // The call succeeds when an entry fails: its failure is in the entry, and counted.
        let answer = put.entries().first();
        match answer.and_then(|entry| entry.event_id()) {
            Some(id) if put.failed_entry_count() == 0 => Ok(Receipt {
                id: id.to_owned(),
                destination: self.settings.bus.clone(),
            }),
            _ => {
                let code = answer
                    .and_then(|entry| entry.error_code())
                    .unwrap_or("none");
                let message = answer
                    .and_then(|entry| entry.error_message())
                    .unwrap_or("no message");
                Err(self.failed(format!(
                    "PutEvents did not take the event ({} of 1 failed): {}: {}",
                    put.failed_entry_count(),
                    crate::text::truncate(code, 100),
                    crate::text::truncate(message, 300)
                )))
            }
        }
    }

    /// Sorts a failed PutEvents: the caller's credentials, a refusal no retry will change, or
    /// a transient failure.
    fn classify<E>(&self, err: &SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        delivery_error(
            "EventBridge",
            "PutEvents",
            self.destination(),
            PERMANENT_ERRORS,
            err,
        )
    }

    fn failed(&self, message: String) -> Error {
        Error::NotificationFailed {
            destination: self.destination(),
            message,
        }
    }
}

/// The PutEvents entry of `output`'s event; a detail over the size limit goes without its file
/// list.
fn entry(
    output: &PollOutput,
    links: &[Option<String>],
    settings: &EventSettings,
) -> PutEventsRequestEntry {
    let json = |detail: &Detail| serde_json::to_string(detail).unwrap_or_default();
    let mut detail = json(&Detail::of(output, links));
    let fixed = 14 + settings.source.len() + DETAIL_TYPE.len() + output.job.arn.len();
    if fixed + detail.len() > ENTRY_MAX_BYTES {
        detail = json(&Detail::of(output, links).without_files(OVER_SIZE));
    }
    PutEventsRequestEntry::builder()
        .event_bus_name(&settings.bus)
        .source(&settings.source)
        .detail_type(DETAIL_TYPE)
        .resources(&output.job.arn)
        .detail(detail)
        .build()
}

#[cfg(test)]
mod tests;
