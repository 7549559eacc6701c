//! The run history: what an item keeps of a finished job beside its claim, and the `history`
//! index read newest first (`--history`).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{epoch, n, s, Ledger};
use crate::contract::PollOutput;
use crate::error::Error;
use crate::runs::RunItem;

impl Ledger {
    /// The latest `count` finished jobs, newest first, as JSON objects (the `history` index;
    /// items past their expiry, which TTL deletes within days, are left out).
    pub async fn history(&self, count: usize) -> Result<Vec<serde_json::Value>, Error> {
        let now = epoch(SystemTime::now());
        let mut jobs = Vec::new();
        let mut start = None;
        loop {
            let limit = i32::try_from(count.min(1_000)).unwrap_or(1_000);
            let page = self.history_page("job", Some(limit), start).await?;
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

    /// One page of the `history` index's partition `kind`, newest first, from `start`.
    pub(super) async fn history_page(
        &self,
        kind: &str,
        limit: Option<i32>,
        start: Option<HashMap<String, AttributeValue>>,
    ) -> Result<QueryOutput, Error> {
        self.client()
            .query()
            .table_name(&self.table)
            .index_name(HISTORY_INDEX)
            .key_condition_expression("kind = :kind")
            .expression_attribute_values(":kind", s(kind))
            .scan_index_forward(false)
            .set_limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| self.classify("Query", &err))
    }
}

/// The index of finished jobs by end time (template.yaml, NoticeLedger).
const HISTORY_INDEX: &str = "history";

/// What `--history` prints of an item, in this order; `endedAt` as RFC 3339.
const HISTORY_FIELDS: [&str; 17] = [
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
    // The state machine writes it after the execution's last poll.
    "execution",
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
pub(super) fn item(
    output: &PollOutput,
    started_by: &'static str,
) -> Vec<(&'static str, AttributeValue)> {
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

/// A reports run's record of one of its jobs: which item it is, the job, and how it ended. Like
/// the run history, no token, tag value or S3 URI.
pub(super) fn run_record(
    output: &PollOutput,
    item: RunItem<'_>,
) -> Vec<(&'static str, AttributeValue)> {
    let mut record = vec![
        ("pk", s(&item.key())),
        ("kind", s(&item.kind())),
        ("endedAt", n(epoch(SystemTime::now()))),
        ("item", n(u64::from(item.index))),
        ("jobArn", s(&output.job.arn)),
        ("status", s(output.status.as_str())),
        ("files", n(output.results.len() as u64)),
    ];
    if let Some(error) = &output.error {
        record.push(("errorType", s(&error.kind)));
    }
    // Where the files are, for the run's results file: S3 URIs QuickSight gave, never a link.
    let uris: Vec<AttributeValue> = output
        .results
        .iter()
        .filter_map(|file| file.s3_uri.as_deref())
        .map(s)
        .collect();
    if !uris.is_empty() {
        record.push(("s3Uris", AttributeValue::L(uris)));
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{JobInfo, Status};

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
        let item = item(&output, "terminal");
        let text = format!("{item:?}");
        assert!(!text.contains("tenant-secret"), "{text}");
        let get = |name: &str| item.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
        assert_eq!(get("files"), Some(&n(1)));
        assert_eq!(get("status"), Some(&s("SUCCEEDED")));
        assert_eq!(get("jobStatus"), None, "absent, not empty");
    }

    #[test]
    fn a_run_record_names_the_run_the_item_and_how_its_job_ended() {
        let key = "ab".repeat(32);
        let job = format!("run-{key}-7");
        let mut output = PollOutput::new(JobInfo::sample("d", &job), 2);
        output.status = Status::Failed;
        output.error = Some(crate::contract::ErrorDetail {
            kind: "INTERNAL_FAILURE".into(),
            message: "tenant-secret was in the message".into(),
        });
        let item = RunItem::of(&job).expect("a run item");
        let record = run_record(&output, item);
        let get = |name: &str| record.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
        assert_eq!(get("pk"), Some(&s(&format!("run/{key}/7"))));
        assert_eq!(get("kind"), Some(&s(&format!("run/{key}"))));
        assert_eq!(get("item"), Some(&n(7)));
        assert_eq!(get("status"), Some(&s("FAILED")));
        assert_eq!(get("errorType"), Some(&s("INTERNAL_FAILURE")));
        assert!(
            !format!("{record:?}").contains("tenant-secret"),
            "no message"
        );
    }
}
