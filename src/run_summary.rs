//! The end of a reports run (statemachine/reports.asl.json): `{"summarize": {"runKey": K,
//! "count": N, "reports": ...}}` reads the records the function kept of the run's N reports
//! (src/run_item.rs) and answers how the run ended, bounded, for the run's one notice. A report
//! without a record never reached a job's end: its request was invalid, its start was refused,
//! or its polls failed for good. An inline manifest (`reports` an array) gives each report its
//! label and names the field an invalid request lacks; nothing else of it is read, and no tag
//! value leaves.

use serde_json::{Map, Value};

use crate::contract::{Counts, FailedReport, RunSummary, Status, FAILED_LISTED};
use crate::error::Error;
use crate::ledger::{Ledger, RunRecord};

/// The most reports a run may have (a Distributed Map's items are far fewer in practice).
const MAX_REPORTS: u64 = 1_000_000;
/// The fields StartJob reads from a report's request (the poller's `Start?` checks them).
const REQUIRED: [&str; 4] = [
    "AwsAccountId",
    "DashboardId",
    "SnapshotConfiguration",
    "UserConfiguration",
];

/// What a summary is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummarizeRequest {
    run_key: String,
    reports: u32,
    /// Per report of an inline manifest: its label, and the first field it lacks.
    inline: Vec<(Option<String>, Option<&'static str>)>,
}

impl SummarizeRequest {
    /// Reads `{"runKey": K, "count": N, "reports": [...] or {...}}` (the `summarize` object).
    pub fn parse(value: &Value) -> Result<Self, Error> {
        let object = value.as_object().ok_or_else(|| {
            Error::invalid("summarize must be an object {runKey, count, reports}")
        })?;
        let run_key = object
            .get("runKey")
            .and_then(Value::as_str)
            .filter(|key| key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| Error::invalid("summarize.runKey must be the run key (64 hex digits)"))?
            .to_ascii_lowercase();
        let reports = object
            .get("count")
            .and_then(Value::as_u64)
            .filter(|n| *n <= MAX_REPORTS)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "summarize.count must be the number of reports, 0 to {MAX_REPORTS}"
                ))
            })? as u32;
        let inline = match object.get("reports") {
            Some(Value::Array(items)) => items.iter().map(inline_report).collect(),
            _ => Vec::new(),
        };
        Ok(SummarizeRequest {
            run_key,
            reports,
            inline,
        })
    }

    /// How the run ended, from the ledger's records of its reports.
    pub async fn summarize(&self, ledger: &Ledger) -> Result<RunSummary, Error> {
        let records = ledger.run_records(&self.run_key, self.reports).await?;
        Ok(self.summary(&records))
    }

    fn summary(&self, records: &[Option<RunRecord>]) -> RunSummary {
        let mut counts = Counts::default();
        let mut failed = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let (label, missing) = self.inline.get(index).cloned().unwrap_or((None, None));
            let (status, job_arn, error) = match record {
                Some(record) => (
                    status_of(&record.status),
                    Some(record.job_arn.clone()),
                    record.error_type.clone(),
                ),
                None => (
                    Status::Failed,
                    None,
                    Some(match missing {
                        Some(field) => format!("InvalidStartRequest: {field} is missing"),
                        None => "NotStarted".to_owned(),
                    }),
                ),
            };
            match status {
                Status::Succeeded => counts.succeeded += 1,
                Status::TimedOut => counts.timed_out += 1,
                Status::InProgress => counts.in_progress += 1,
                Status::Failed => counts.failed += 1,
            }
            if status != Status::Succeeded {
                failed.push(FailedReport {
                    index: index as u32,
                    label,
                    job_arn,
                    status,
                    error: error.unwrap_or_else(|| status.as_str().to_owned()),
                });
            }
        }
        let not_succeeded = failed.len();
        let more_failed = not_succeeded.saturating_sub(FAILED_LISTED) as u32;
        failed.truncate(FAILED_LISTED);
        let short = &self.run_key[..12];
        RunSummary {
            status: if not_succeeded == 0 {
                Status::Succeeded
            } else {
                Status::Failed
            },
            subject: match not_succeeded {
                0 => format!("Reports run {short}: all {} succeeded", self.reports),
                n => format!(
                    "Reports run {short}: {n} of {} did not succeed",
                    self.reports
                ),
            },
            run_key: self.run_key.clone(),
            reports: self.reports,
            counts,
            failed,
            more_failed,
        }
    }
}

/// A report of an inline manifest: its label (when it is text), and the first field StartJob
/// reads that it lacks. No other field is read.
fn inline_report(item: &Value) -> (Option<String>, Option<&'static str>) {
    let empty = Map::new();
    let object = item.as_object().unwrap_or(&empty);
    let label = object
        .get("label")
        .and_then(Value::as_str)
        .map(|label| crate::text::truncate(label, 256).into_owned());
    let missing = REQUIRED
        .into_iter()
        .find(|field| !object.contains_key(*field));
    (label, missing)
}

fn status_of(text: &str) -> Status {
    match text {
        "SUCCEEDED" => Status::Succeeded,
        "TIMED_OUT" => Status::TimedOut,
        _ => Status::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn record(status: &str, error: Option<&str>) -> Option<RunRecord> {
        Some(RunRecord {
            job_arn: format!(
                "arn:aws:quicksight:us-east-1:123456789012:dashboard/d/snapshot-job/{status}"
            ),
            status: status.into(),
            error_type: error.map(str::to_owned),
        })
    }

    #[test]
    fn a_summary_counts_every_report_and_names_each_that_did_not_succeed() {
        let reports = json!([
            {"AwsAccountId": "1", "DashboardId": "d", "SnapshotConfiguration": {},
             "UserConfiguration": {"AnonymousUsers": [{"RowLevelPermissionTags": [
                 {"Key": "tenant", "Value": "secret-tag"}]}]}, "label": "emea"},
            {"label": "apac", "AwsAccountId": "1"},
            {"label": "amer"},
            {"label": "anz"},
        ]);
        let request =
            SummarizeRequest::parse(&json!({"runKey": KEY, "count": 4, "reports": reports}))
                .expect("valid");
        let summary = request.summary(&[
            record("SUCCEEDED", None),
            None,
            record("FAILED", Some("INTERNAL_FAILURE")),
            record("TIMED_OUT", Some("JobTimedOut")),
        ]);

        assert_eq!(summary.status, Status::Failed);
        assert_eq!(summary.reports, 4);
        assert_eq!(
            (
                summary.counts.succeeded,
                summary.counts.failed,
                summary.counts.timed_out
            ),
            (1, 2, 1)
        );
        let named: Vec<(u32, Option<&str>, &str)> = summary
            .failed
            .iter()
            .map(|f| (f.index, f.label.as_deref(), f.error.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                (
                    1,
                    Some("apac"),
                    "InvalidStartRequest: DashboardId is missing"
                ),
                (2, Some("amer"), "INTERNAL_FAILURE"),
                (3, Some("anz"), "JobTimedOut"),
            ]
        );
        assert_eq!(
            summary.subject,
            "Reports run 0123456789ab: 3 of 4 did not succeed"
        );
        let text = serde_json::to_string(&summary).expect("serializes");
        assert!(!text.contains("secret-tag"), "{text}");
    }

    #[test]
    fn a_large_runs_failures_are_listed_up_to_the_bound_and_counted_beyond() {
        let request = SummarizeRequest::parse(&json!({"runKey": KEY, "count": 50,
                                                      "reports": {"bucket": "b", "key": "k"}}))
        .expect("valid");
        let summary = request.summary(&vec![None; 50]);
        assert_eq!(summary.failed.len(), FAILED_LISTED);
        assert_eq!(summary.more_failed, 30);
        assert!(summary
            .failed
            .iter()
            .all(|f| f.label.is_none() && f.error == "NotStarted"));
        let all_ok = SummarizeRequest::parse(&json!({"runKey": KEY, "count": 2}))
            .expect("valid")
            .summary(&[record("SUCCEEDED", None), record("SUCCEEDED", None)]);
        assert_eq!(all_ok.status, Status::Succeeded);
        assert_eq!(all_ok.subject, "Reports run 0123456789ab: all 2 succeeded");
    }

    #[test]
    fn a_bad_summarize_request_names_what_is_wrong() {
        for (value, field) in [
            (json!("x"), "summarize"),
            (json!({"runKey": "short", "count": 1}), "runKey"),
            (json!({"runKey": KEY, "count": -1}), "count"),
            (json!({"runKey": KEY}), "count"),
        ] {
            let err = SummarizeRequest::parse(&value).unwrap_err();
            assert_eq!(err.error_type(), "InvalidJobReference");
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}
