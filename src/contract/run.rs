//! A reports run's summary: what `{"summarize": ...}` answers at the end of a run, and what the
//! run's one notice carries.

use serde::{Deserialize, Serialize};

use super::{Counts, Notification, Status};

/// Most failed reports a summary names; the rest are counted (`moreFailed`), so the answer and
/// the notice stay bounded however large the run.
pub const FAILED_LISTED: usize = 20;

/// How a reports run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// SUCCEEDED when every report succeeded, FAILED otherwise.
    pub status: Status,
    /// The run key (a SHA-256): the reports' job ids are `run-<runKey>-<index>`.
    pub run_key: String,
    /// How many reports the run had.
    pub reports: u32,
    /// How many ended in each status; a report that never reached a job's end is FAILED.
    pub counts: Counts,
    /// The failed reports, in manifest order, at most [`FAILED_LISTED`].
    pub failed: Vec<FailedReport>,
    /// Failed reports beyond those listed.
    pub more_failed: u32,
    /// One line for the notice's subject.
    pub subject: String,
    /// Where the run's results file is; None when the function has nowhere to write it
    /// (`RUN_RESULTS`).
    pub results: Option<String>,
    /// The run's one notice (its first, for a summary asked again); None without a topic.
    pub notification: Option<Notification>,
}

/// One report that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedReport {
    /// Its place in the manifest, from 0.
    pub index: u32,
    /// The manifest's label for it (a tenant, a report), when the summary has the manifest.
    pub label: Option<String>,
    /// Its job, when one was started.
    pub job_arn: Option<String>,
    /// FAILED or TIMED_OUT.
    pub status: Status,
    /// Why: the job's error type, or why no job ended (`InvalidStartRequest`, `NotStarted`).
    pub error: String,
}

/// Who asked for a summary: the reports run's execution, named in its notice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunExecution {
    /// The execution's ARN.
    pub execution: Option<String>,
    /// The execution's name.
    pub execution_name: Option<String>,
    /// The state machine's ARN.
    pub state_machine: Option<String>,
}

/// The results file of a run (`<RUN_RESULTS><run key>.json`): every report, in manifest order.
/// It holds labels, job ARNs, statuses, S3 URIs and reasons; never a request's tag values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResults {
    /// The run key.
    pub run_key: String,
    /// SUCCEEDED when every report succeeded, FAILED otherwise.
    pub status: Status,
    /// How many ended in each status.
    pub counts: Counts,
    /// Every report of the run.
    pub reports: Vec<ReportResult>,
}

/// One report of a run, as its results file gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportResult {
    /// Its place in the manifest, from 0.
    pub index: u32,
    /// The manifest's label for it.
    pub label: Option<String>,
    /// Its job, when one ended.
    pub job_arn: Option<String>,
    /// How it ended.
    pub status: Status,
    /// Where its files are (`s3://` URIs), for a job that wrote them.
    pub files: Vec<String>,
    /// Why it did not succeed.
    pub error: Option<String>,
}
