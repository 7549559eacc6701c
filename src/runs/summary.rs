//! The end of a reports run (statemachine/reports.asl.json): `{"summarize": {"runKey": K,
//! "count": N, "reports": ...}}` reads the records the function kept of the run's N reports
//! (src/runs/item.rs) and answers how the run ended: a bounded summary for the run's one notice,
//! and every report's line for its results file. A report without a record never reached a
//! job's end: its request was invalid, its start was refused, or its polls failed for good. The
//! manifest gives each report its label and names the field an invalid request lacks; nothing
//! else of it is read, and no tag value leaves.

use serde_json::Value;

use super::manifest::{self, Report};
use crate::contract::{
    Counts, FailedReport, ReportResult, RunExecution, RunResults, RunSummary, Status, FAILED_LISTED,
};
use crate::error::Error;
use crate::ledger::RunRecord;

/// The most reports a run may have (a Distributed Map's items are far fewer in practice).
const MAX_REPORTS: u64 = 1_000_000;

/// Where a run's requests are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestSource {
    /// Given inline: what the function reads of each.
    Inline(Vec<Report>),
    /// An S3 object.
    S3 {
        /// Its bucket.
        bucket: String,
        /// Its key.
        key: String,
    },
}

impl ManifestSource {
    /// `reports` as the run's input gives it: an array of requests or `{"bucket", "key"}`.
    pub fn parse(value: Option<&Value>) -> Option<ManifestSource> {
        match value? {
            Value::Array(items) => Some(ManifestSource::Inline(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| match item {
                        Value::Object(object) => manifest::of_json(object),
                        _ => Report {
                            label: None,
                            invalid: Some(format!("report {index} is not a JSON object")),
                        },
                    })
                    .collect(),
            )),
            Value::Object(place) => {
                let text = |name: &str| place.get(name).and_then(Value::as_str);
                Some(ManifestSource::S3 {
                    bucket: text("bucket")?.to_owned(),
                    key: text("key")?.to_owned(),
                })
            }
            _ => None,
        }
    }
}

/// What a summary is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummarizeRequest {
    /// The run key.
    pub run_key: String,
    /// How many reports the run had.
    pub reports: u32,
    /// Its manifest, for labels.
    pub manifest: Option<ManifestSource>,
    /// The run's execution, for the notice.
    pub execution: RunExecution,
}

impl SummarizeRequest {
    /// Reads `{"runKey": K, "count": N, "reports": [...] or {...}, "execution": {...}}` (the
    /// `summarize` object).
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
        let execution = match object.get("execution") {
            None | Some(Value::Null) => RunExecution::default(),
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|err| Error::invalid(format!("summarize.execution: {err}")))?,
        };
        Ok(SummarizeRequest {
            run_key,
            reports,
            manifest: ManifestSource::parse(object.get("reports")),
            execution,
        })
    }

    /// How the run ended, from the ledger's `records` of its reports and what the manifest
    /// says of each (`manifest`, by index; empty when it could not be read): the summary, and
    /// the results file's content.
    pub fn outcome(
        &self,
        records: &[Option<RunRecord>],
        manifest: &[Report],
    ) -> (RunSummary, RunResults) {
        let reports: Vec<ReportResult> = records
            .iter()
            .enumerate()
            .map(|(index, record)| report(index, record.as_ref(), manifest.get(index)))
            .collect();
        let counts = count(&reports);
        let not_succeeded = reports.len() - counts.succeeded;
        let failed: Vec<FailedReport> = reports
            .iter()
            .filter(|report| report.status != Status::Succeeded)
            .take(FAILED_LISTED)
            .map(|report| FailedReport {
                index: report.index,
                label: report.label.clone(),
                job_arn: report.job_arn.clone(),
                status: report.status,
                error: report
                    .error
                    .clone()
                    .unwrap_or_else(|| report.status.as_str().to_owned()),
            })
            .collect();
        let status = if not_succeeded == 0 {
            Status::Succeeded
        } else {
            Status::Failed
        };
        let short = &self.run_key[..12];
        let summary = RunSummary {
            status,
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
            more_failed: (not_succeeded - failed.len()) as u32,
            failed,
            results: None,
            notification: None,
        };
        let results = RunResults {
            run_key: self.run_key.clone(),
            status,
            counts,
            reports,
        };
        (summary, results)
    }
}

/// One report's line: its record's end, or why it has none.
fn report(index: usize, record: Option<&RunRecord>, manifest: Option<&Report>) -> ReportResult {
    let label = manifest.and_then(|report| report.label.clone());
    match record {
        Some(record) => ReportResult {
            index: index as u32,
            label,
            job_arn: Some(record.job_arn.clone()),
            status: status_of(&record.status),
            files: record.files.clone(),
            error: record.error_type.clone(),
        },
        None => ReportResult {
            index: index as u32,
            label,
            job_arn: None,
            status: Status::Failed,
            files: Vec::new(),
            error: Some(
                match manifest.and_then(|report| report.invalid.as_deref()) {
                    Some(why) => format!("InvalidStartRequest: {why}"),
                    None => "NotStarted".to_owned(),
                },
            ),
        },
    }
}

fn count(reports: &[ReportResult]) -> Counts {
    let mut counts = Counts::default();
    for report in reports {
        match report.status {
            Status::Succeeded => counts.succeeded += 1,
            Status::TimedOut => counts.timed_out += 1,
            Status::InProgress => counts.in_progress += 1,
            Status::Failed => counts.failed += 1,
        }
    }
    counts
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
            files: match status {
                "SUCCEEDED" => vec!["s3://reports/exports/emea.pdf".into()],
                _ => Vec::new(),
            },
        })
    }

    /// The summary and results of `request` from `records`, its inline manifest giving labels.
    fn outcome(
        request: &SummarizeRequest,
        records: &[Option<RunRecord>],
    ) -> (RunSummary, RunResults) {
        let manifest = match &request.manifest {
            Some(ManifestSource::Inline(reports)) => reports.clone(),
            _ => Vec::new(),
        };
        request.outcome(records, &manifest)
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
        let (summary, results) = outcome(
            &request,
            &[
                record("SUCCEEDED", None),
                None,
                record("FAILED", Some("INTERNAL_FAILURE")),
                record("TIMED_OUT", Some("JobTimedOut")),
            ],
        );

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
        assert_eq!(
            results.reports.len(),
            4,
            "the results file has every report"
        );
        assert_eq!(results.reports[0].label.as_deref(), Some("emea"));
        assert_eq!(results.reports[0].files, ["s3://reports/exports/emea.pdf"]);
        assert_eq!(
            results.reports[2].error.as_deref(),
            Some("INTERNAL_FAILURE")
        );
        for text in [
            serde_json::to_string(&summary).expect("serializes"),
            serde_json::to_string(&results).expect("serializes"),
        ] {
            assert!(!text.contains("secret-tag"), "{text}");
        }
    }

    #[test]
    fn a_large_runs_failures_are_listed_up_to_the_bound_and_counted_beyond() {
        let request = SummarizeRequest::parse(&json!({"runKey": KEY, "count": 50,
                                                      "reports": {"bucket": "b", "key": "k"}}))
        .expect("valid");
        let (summary, results) = outcome(&request, &vec![None; 50]);
        assert_eq!(results.reports.len(), 50);
        assert_eq!(summary.failed.len(), FAILED_LISTED);
        assert_eq!(summary.more_failed, 30);
        assert!(summary
            .failed
            .iter()
            .all(|f| f.label.is_none() && f.error == "NotStarted"));
        let request = SummarizeRequest::parse(&json!({"runKey": KEY, "count": 2})).expect("valid");
        let (all_ok, _) = outcome(
            &request,
            &[record("SUCCEEDED", None), record("SUCCEEDED", None)],
        );
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
            (
                json!({"runKey": KEY, "count": 1, "execution": {"execution": 3}}),
                "execution",
            ),
        ] {
            let err = SummarizeRequest::parse(&value).unwrap_err();
            assert_eq!(err.error_type(), "InvalidJobReference");
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}
