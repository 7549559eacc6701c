//! The notice ledger (`LEDGER_TABLE_NAME`, DynamoDB): one item per job outcome and [`Delivery`]
//! (the notice, the job's event) decides whether it goes out. A conditional write claims the
//! outcome before it is sent and the item records the id the destination gave after, so a
//! retried invocation, a duplicate delivery, a second tick or a split chain finds the claim and
//! sends nothing; [`tell_once`] is that flow for every delivery.
//!
//! The one case left at least once: an invocation that dies between its publish and its record
//! leaves a claim without a message id. Its claim holds until the deadline the claimer had
//! (`claimedUntil`, at most the function's timeout) plus [`TAKEOVER_GRACE`]; after that the next
//! poll of the job takes it over and publishes again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use sha2::{Digest, Sha256};

use crate::contract::PollOutput;
use crate::error::Error;
use crate::sdk_error::{credentials_error, credentials_problem, describe_sdk_error};

mod history;
mod once;
mod runs;
mod settings;

pub use once::tell_once;
pub use runs::RunRecord;
pub use settings::LedgerSettings;

/// How long past its holder's deadline a claim without a message id still holds: the time a
/// publish sent at the deadline may take to be answered and recorded.
pub const TAKEOVER_GRACE: Duration = Duration::from_secs(10);

/// What the ledger tells once per job outcome, each in an item of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The notice (SNS). Its item also keeps the job's run history.
    Notice,
    /// The job's EventBridge event (src/job_event/).
    Event,
}

/// What is told once: a job's outcome by one [`Delivery`], or a reports run's summary notice.
#[derive(Debug, Clone, Copy)]
pub enum Told<'a> {
    /// A finished job's outcome.
    Job(&'a PollOutput, Delivery),
    /// The summary of the reports run with this run key (`run/<run key>/summary`).
    RunSummary(&'a str),
}

impl Told<'_> {
    /// The ledger item's key: one per delivery and job outcome (the job's ARN and the status
    /// told), one per run.
    pub fn key(self) -> String {
        match self {
            Told::Job(output, delivery) => format!(
                "{}/{}/{}",
                match delivery {
                    Delivery::Notice => "job",
                    Delivery::Event => "event",
                },
                output.job.arn,
                output.status.as_str()
            ),
            Told::RunSummary(run_key) => format!("run/{run_key}/summary"),
        }
    }

    /// The attribute that records where it went.
    fn destination_attribute(self) -> &'static str {
        match self {
            Told::Job(_, Delivery::Event) => "eventBus",
            _ => "topicArn",
        }
    }

    /// What is being sent, as a log line or an error names it.
    pub fn what(self) -> &'static str {
        match self {
            Told::Job(_, Delivery::Notice) => "this outcome's notice",
            Told::Job(_, Delivery::Event) => "this outcome's event",
            Told::RunSummary(_) => "this run's summary",
        }
    }
}

/// What was delivered: the id its destination gave it (SNS MessageId, EventBridge EventId), and
/// the destination (a topic's ARN, a bus's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The destination's id for it.
    pub id: String,
    /// Where it went.
    pub destination: String,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This invocation tells the outcome; `token` proves the claim when it is recorded.
    Ours {
        /// Random per claim.
        token: String,
    },
    /// Told before: the first delivery.
    Told(Receipt),
    /// Another invocation is telling it, and may until `until`.
    Held {
        /// When that claim may be taken over.
        until: SystemTime,
    },
}

/// The ledger table, with a client built at the first claim.
pub struct Ledger {
    config: aws_sdk_dynamodb::Config,
    client: OnceLock<aws_sdk_dynamodb::Client>,
    table: String,
    retention: Duration,
    started_by: &'static str,
}

impl Ledger {
    /// The ledger `settings` name; its items expire after their retention (the table's TTL
    /// attribute `expiresAt`).
    pub fn new(config: aws_sdk_dynamodb::Config, settings: LedgerSettings) -> Self {
        Ledger {
            config,
            client: OnceLock::new(),
            table: settings.table,
            retention: settings.retention,
            started_by: settings.started_by,
        }
    }

    fn client(&self) -> &aws_sdk_dynamodb::Client {
        self.client
            .get_or_init(|| aws_sdk_dynamodb::Client::from_conf(self.config.clone()))
    }

    /// The item of what is `told`: its key, the run history (a job notice's item only) or the
    /// run's mark (a run's summary), `notice` (claimed, none) and `extra`, expiring after the
    /// retention.
    fn item<const N: usize>(
        &self,
        told: Told<'_>,
        notice: &str,
        extra: [(&'static str, AttributeValue); N],
    ) -> HashMap<String, AttributeValue> {
        let expires = epoch(SystemTime::now() + self.retention);
        let history = match told {
            Told::Job(output, Delivery::Notice) => history::item(output, self.started_by),
            Told::Job(_, Delivery::Event) => Vec::new(),
            Told::RunSummary(_) => vec![("source", s("reports-run"))],
        };
        history
            .into_iter()
            .chain([
                ("pk", s(&told.key())),
                ("notice", s(notice)),
                ("expiresAt", n(expires)),
            ])
            .chain(extra)
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }

    /// Where the ledger is, as error messages name it.
    pub fn destination(&self) -> String {
        format!("notice ledger (DynamoDB table {})", self.table)
    }

    /// Claims what is `told` until `until` (the claimer's deadline).
    pub async fn claim(&self, told: Told<'_>, until: SystemTime) -> Result<Claim, Error> {
        let key = told.key();
        let now = SystemTime::now();
        let token = token(&key);
        let item = self.item(
            told,
            "claimed",
            [
                ("claim", s(&token)),
                ("claimedUntil", n(epoch(until + TAKEOVER_GRACE))),
            ],
        );
        let put = self
            .client()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Free, expired (TTL deletes within days, not at once), or claimed by an invocation
            // whose deadline has passed with no message id.
            .condition_expression(
                "attribute_not_exists(pk) OR expiresAt < :now \
                 OR (#notice = :claimed AND claimedUntil < :now)",
            )
            // The item met comes back with the refusal: no second read.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .expression_attribute_names("#notice", "notice")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":now", n(epoch(now)))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Ours { token }),
            Err(SdkError::ServiceError(refused))
                if refused.err().is_conditional_check_failed_exception() =>
            {
                match refused.into_err() {
                    PutItemError::ConditionalCheckFailedException(met) if met.item.is_some() => {
                        Ok(found(met.item.unwrap_or_default(), told))
                    }
                    _ => self.read(&key, told).await,
                }
            }
            Err(err) => Err(self.classify("PutItem", &err)),
        }
    }

    /// Records the id of the delivery `token` claimed. A claim taken over meanwhile keeps the
    /// newer holder's record.
    pub async fn record(
        &self,
        told: Told<'_>,
        token: &str,
        receipt: &Receipt,
    ) -> Result<(), Error> {
        let put = self
            .client()
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&told.key()))
            .update_expression(
                "SET #notice = :told, messageId = :id, #destination = :destination \
                 REMOVE claimedUntil",
            )
            .condition_expression("claim = :token")
            .expression_attribute_names("#notice", "notice")
            .expression_attribute_names("#destination", told.destination_attribute())
            .expression_attribute_values(":told", s("told"))
            .expression_attribute_values(":id", s(&receipt.id))
            .expression_attribute_values(":destination", s(&receipt.destination))
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                tracing::warn!("the notice's claim was taken over before it was recorded");
                Ok(())
            }
            Err(err) => Err(self.classify("UpdateItem", &err)),
        }
    }

    /// Keeps the run history of a job that ended without a notice (a clean success). An item
    /// already there (a repeat of this end) is left as it is; a failure is only logged.
    pub async fn remember(&self, output: &PollOutput) {
        let item = self.item(Told::Job(output, Delivery::Notice), "none", []);
        let put = self
            .client()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => {}
            Err(SdkError::ServiceError(refused))
                if refused.err().is_conditional_check_failed_exception() => {}
            Err(err) => {
                let err = self.classify("PutItem", &err);
                tracing::warn!(error = %err, "the job's end was not kept in the run history");
            }
        }
    }

    /// Gives up the claim `token` made after a delivery that failed, so the retry that follows
    /// sends at once instead of waiting out the claim. Best effort: a claim left behind only
    /// delays that retry until it expires.
    pub async fn release(&self, told: Told<'_>, token: &str) {
        let deleted = self
            .client()
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&told.key()))
            .condition_expression("claim = :token")
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        if let Err(err) = deleted {
            let err = self.classify("DeleteItem", &err);
            tracing::warn!(error = %err, "the notice's claim was not released");
        }
    }

    /// Reads the item a claim met, when the refusal did not carry it (strongly consistent: the
    /// claim may be a moment old).
    async fn read(&self, key: &str, told: Told<'_>) -> Result<Claim, Error> {
        let item = self
            .client()
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| self.classify("GetItem", &err))?
            .item
            .unwrap_or_default();
        Ok(found(item, told))
    }

    fn classify<E>(&self, operation: &'static str, err: &SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if let Some(problem) = credentials_problem(err) {
            return credentials_error("DynamoDB", operation, problem, err);
        }
        Error::NotificationFailed {
            destination: self.destination(),
            message: format!("{operation}: {}", describe_sdk_error(err)),
        }
    }
}

/// What the item a claim met says: told (with its receipt), or held until when.
fn found(item: HashMap<String, AttributeValue>, told: Told<'_>) -> Claim {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    if let Some(id) = text("messageId") {
        return Claim::Told(Receipt {
            id,
            destination: text(told.destination_attribute()).unwrap_or_default(),
        });
    }
    let until = item
        .get("claimedUntil")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(SystemTime::now(), |secs| {
            UNIX_EPOCH + Duration::from_secs(secs)
        });
    Claim::Held { until }
}

/// Unique per claim: the key, the time, the process and a counter, hashed.
fn token(key: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seed = format!(
        "{key}|{nanos}|{}|{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let digest = Sha256::digest(seed.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{JobInfo, Status};

    #[test]
    fn one_key_per_job_outcome() {
        let mut output = PollOutput::new(JobInfo::sample("d", "j"), 3);
        output.status = Status::Failed;
        let key = |output: &PollOutput, delivery| Told::Job(output, delivery).key();
        let failed = key(&output, Delivery::Notice);
        output.error = Some(crate::contract::ErrorDetail {
            kind: "QuickSightThrottled".into(),
            message: "escalated".into(),
        });
        assert_eq!(
            key(&output, Delivery::Notice),
            failed,
            "the error's kind is not the outcome"
        );
        assert_ne!(
            key(&output, Delivery::Event),
            failed,
            "one item per delivery"
        );
        output.status = Status::TimedOut;
        assert_ne!(key(&output, Delivery::Notice), failed);
        assert!(failed.starts_with("job/arn:aws:quicksight:"), "{failed}");
        assert!(failed.ends_with("/snapshot-job/j/FAILED"), "{failed}");
        assert_eq!(Told::RunSummary("abc").key(), "run/abc/summary");
    }

    #[test]
    fn tokens_differ_from_claim_to_claim() {
        assert_ne!(token("k"), token("k"));
        assert_eq!(token("k").len(), 32);
    }
}
