//! The notice ledger (`LEDGER_TABLE_NAME`, DynamoDB): one item per job outcome decides whether
//! a notice goes out. A conditional write claims the outcome before the notice is published and
//! the item records the message id after, so a retried invocation, a duplicate delivery, a
//! second tick or a split chain finds the claim and publishes nothing.
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

use crate::contract::{Notification, PollOutput};
use crate::error::{credentials_error, credentials_problem, describe_sdk_error, Error};
use crate::settings::{self, Setting};
use crate::text::quote;

/// How long past its holder's deadline a claim without a message id still holds: the time a
/// publish sent at the deadline may take to be answered and recorded.
pub const TAKEOVER_GRACE: Duration = Duration::from_secs(10);

/// `LEDGER_TABLE_NAME` and `LEDGER_RETENTION_DAYS` (docs/configuration.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSettings {
    /// The table: a name or a table ARN.
    pub table: String,
    /// How long an item is kept.
    pub retention: Duration,
    /// What the run history says started a job that is not a chain's: `invocation` in Lambda
    /// (a state machine, a direct invoke, a schedule), `terminal` outside it.
    pub started_by: &'static str,
}

impl LedgerSettings {
    /// None without a table: notices then go out at least once.
    pub fn read(
        get: &impl Fn(&str) -> Option<String>,
        number: impl Fn(&Setting) -> Result<u64, Error>,
    ) -> Result<Option<Self>, Error> {
        let Some(table) = get(settings::LEDGER_TABLE_NAME.name).map(|t| t.trim().to_owned()) else {
            return Ok(None);
        };
        let is_name = (3..=255).contains(&table.len())
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        let is_arn = table.starts_with("arn:")
            && table.contains(":dynamodb:")
            && table.contains(":table/")
            && table.len() <= 1024;
        if !is_name && !is_arn {
            return Err(Error::InvalidConfiguration(format!(
                "LEDGER_TABLE_NAME must be a DynamoDB table name (3-255 letters, digits, '_', '-' \
                 or '.') or a table ARN, got {}",
                quote(&table)
            )));
        }
        let days = number(&settings::LEDGER_RETENTION_DAYS)?;
        Ok(Some(LedgerSettings {
            table,
            retention: Duration::from_secs(days * 86_400),
            // Lambda sets the Runtime API's address in every function's environment.
            started_by: if get("AWS_LAMBDA_RUNTIME_API").is_some() {
                "invocation"
            } else {
                "terminal"
            },
        }))
    }
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This invocation tells the outcome; `token` proves the claim when it is recorded.
    Ours {
        /// Random per claim.
        token: String,
    },
    /// Told before: the first notice.
    Told(Notification),
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

    /// The item of `output`'s outcome: its key, its run history, `notice` (claimed, none) and
    /// `extra`, expiring after the retention.
    fn item<const N: usize>(
        &self,
        output: &PollOutput,
        notice: &str,
        extra: [(&'static str, AttributeValue); N],
    ) -> HashMap<String, AttributeValue> {
        let expires = epoch(SystemTime::now() + self.retention);
        history(output, self.started_by)
            .into_iter()
            .chain([
                ("pk", s(&key(output))),
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

    /// Claims the notice of `output`'s outcome until `until` (the claimer's deadline).
    pub async fn claim(&self, output: &PollOutput, until: SystemTime) -> Result<Claim, Error> {
        let key = key(output);
        let now = SystemTime::now();
        let token = token(&key);
        let item = self.item(
            output,
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
                        Ok(found(met.item.unwrap_or_default()))
                    }
                    _ => self.read(&key).await,
                }
            }
            Err(err) => Err(self.classify("PutItem", &err)),
        }
    }

    /// Records the message id of the notice `token` claimed. A claim taken over meanwhile keeps
    /// the newer holder's record.
    pub async fn record(
        &self,
        output: &PollOutput,
        token: &str,
        notification: &Notification,
    ) -> Result<(), Error> {
        let put = self
            .client()
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&key(output)))
            .update_expression(
                "SET #notice = :told, messageId = :id, topicArn = :topic REMOVE claimedUntil",
            )
            .condition_expression("claim = :token")
            .expression_attribute_names("#notice", "notice")
            .expression_attribute_values(":told", s("told"))
            .expression_attribute_values(":id", s(&notification.message_id))
            .expression_attribute_values(":topic", s(&notification.topic_arn))
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
        let item = self.item(output, "none", []);
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

    /// The latest `count` finished jobs, newest first, as JSON objects (the `history` index;
    /// items past their expiry, which TTL deletes within days, are left out).
    pub async fn history(&self, count: usize) -> Result<Vec<serde_json::Value>, Error> {
        let now = epoch(SystemTime::now());
        let mut jobs = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(&self.table)
                .index_name(HISTORY_INDEX)
                .key_condition_expression("kind = :job")
                .expression_attribute_values(":job", s("job"))
                .scan_index_forward(false)
                .limit(i32::try_from(count.min(1_000)).unwrap_or(1_000))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| self.classify("Query", &err))?;
            for item in page.items() {
                let expires = item.get("expiresAt").and_then(|v| v.as_n().ok());
                if expires
                    .and_then(|e| e.parse::<u64>().ok())
                    .is_some_and(|e| e < now)
                {
                    continue;
                }
                jobs.push(history_entry(item));
                if jobs.len() == count {
                    return Ok(jobs);
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(jobs),
            }
        }
    }

    /// Gives up the claim `token` made after a publish that failed, so the retry that follows
    /// publishes at once instead of waiting out the claim. Best effort: a claim left behind
    /// only delays that retry until it expires.
    pub async fn release(&self, output: &PollOutput, token: &str) {
        let deleted = self
            .client()
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&key(output)))
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
    async fn read(&self, key: &str) -> Result<Claim, Error> {
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
        Ok(found(item))
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

/// What the item a claim met says: told (with its notice), or held until when.
fn found(item: HashMap<String, AttributeValue>) -> Claim {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    if let Some(message_id) = text("messageId") {
        return Claim::Told(Notification {
            message_id,
            topic_arn: text("topicArn").unwrap_or_default(),
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

/// One notice per job outcome: the job's ARN and the status told.
pub fn key(output: &PollOutput) -> String {
    format!("job/{}/{}", output.job.arn, output.status.as_str())
}

/// The index of finished jobs by end time (template.yaml, NoticeLedger).
const HISTORY_INDEX: &str = "history";

/// What `--history` prints of an item, in this order; `endedAt` as RFC 3339.
const HISTORY_FIELDS: [&str; 16] = [
    "endedAt",
    "status",
    "jobStatus",
    "errorType",
    "awsAccountId",
    "region",
    "dashboardId",
    "snapshotJobId",
    "jobArn",
    "files",
    "attempt",
    "createdTime",
    "lastUpdatedTime",
    "notice",
    "messageId",
    "startedBy",
];

fn history_entry(item: &HashMap<String, AttributeValue>) -> serde_json::Value {
    let mut entry = serde_json::Map::new();
    for name in HISTORY_FIELDS {
        let value = match item.get(name) {
            Some(AttributeValue::N(number)) if name == "endedAt" => number
                .parse::<u64>()
                .ok()
                .and_then(|secs| crate::carried::rfc3339(UNIX_EPOCH + Duration::from_secs(secs)))
                .map(serde_json::Value::from),
            Some(AttributeValue::N(number)) => {
                number.parse::<u64>().ok().map(serde_json::Value::from)
            }
            Some(AttributeValue::S(text)) => Some(serde_json::Value::from(text.as_str())),
            _ => None,
        };
        entry.insert(name.to_owned(), value.unwrap_or(serde_json::Value::Null));
    }
    serde_json::Value::Object(entry)
}

/// The run history an item keeps beside its claim (`--history` reads it): no token, no tag
/// value, no S3 URI, only what names the job, how it ended and what started it.
fn history(output: &PollOutput, started_by: &'static str) -> Vec<(&'static str, AttributeValue)> {
    let job = &output.job;
    let started_by = match output.loop_kind {
        Some(crate::contract::LoopKind::Scheduler) => "chain",
        None => started_by,
    };
    let mut item = vec![
        ("kind", s("job")),
        ("startedBy", s(started_by)),
        ("endedAt", n(epoch(SystemTime::now()))),
        ("jobArn", s(&job.arn)),
        ("awsAccountId", s(&job.aws_account_id)),
        ("region", s(&job.region)),
        ("dashboardId", s(&job.dashboard_id)),
        ("snapshotJobId", s(&job.snapshot_job_id)),
        ("status", s(output.status.as_str())),
        ("files", n(output.results.len() as u64)),
        ("attempt", n(u64::from(output.attempt))),
    ];
    let optional = [
        ("jobStatus", output.job_status.as_deref()),
        ("createdTime", output.created_time.as_deref()),
        ("lastUpdatedTime", output.last_updated_time.as_deref()),
        ("errorType", output.error.as_ref().map(|e| e.kind.as_str())),
    ];
    item.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| value.filter(|v| !v.is_empty()).map(|v| (name, s(v)))),
    );
    item
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

fn epoch(time: SystemTime) -> u64 {
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
        let failed = key(&output);
        output.error = Some(crate::contract::ErrorDetail {
            kind: "QuickSightThrottled".into(),
            message: "escalated".into(),
        });
        assert_eq!(key(&output), failed, "the error's kind is not the outcome");
        output.status = Status::TimedOut;
        assert_ne!(key(&output), failed);
        assert!(failed.ends_with("/snapshot-job/j/FAILED"), "{failed}");
    }

    #[test]
    fn the_history_names_the_job_and_no_file() {
        let mut output = PollOutput::new(JobInfo::sample("d", "j"), 3);
        output.status = Status::Succeeded;
        output.results.push(crate::contract::FileResult {
            user_type: crate::contract::UserType::Anonymous,
            user_index: 0,
            file_group_index: 0,
            format: Some("PDF".into()),
            s3_uri: Some("s3://bucket/tenant-secret/report.pdf".into()),
            bucket_region: None,
            errors: Vec::new(),
        });
        let item = history(&output, "terminal");
        let text = format!("{item:?}");
        assert!(!text.contains("tenant-secret"), "{text}");
        let get = |name: &str| item.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
        assert_eq!(get("files"), Some(&n(1)));
        assert_eq!(get("status"), Some(&s("SUCCEEDED")));
        assert_eq!(get("jobStatus"), None, "absent, not empty");
    }

    #[test]
    fn tokens_differ_from_claim_to_claim() {
        assert_ne!(token("k"), token("k"));
        assert_eq!(token("k").len(), 32);
    }
}
