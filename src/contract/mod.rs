//! The poller's output contract: the JSON a Step Functions Choice state branches on and that a
//! wait loop passes straight back as the next poll's input. docs/contract.md documents it as a table;
//! change both together, and only additively.

use serde::{Deserialize, Serialize};

mod answer;
mod passed_back;
mod run;

pub use answer::{Answer, BatchOutput, Counts, Survey};
pub use passed_back::{JobKey, PassedBack, Time};
pub use run::{FailedReport, ReportResult, RunExecution, RunResults, RunSummary, FAILED_LISTED};

/// The normalized status a Choice state branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// QUEUED or RUNNING (or a job QuickSight does not show yet): wait `waitSeconds`, poll again.
    InProgress,
    /// COMPLETED: `results` holds the S3 URIs.
    Succeeded,
    /// FAILED, or QuickSight refused to describe the job: `error` says why.
    Failed,
    /// Still not finished past the configured deadline.
    TimedOut,
}

impl Status {
    /// The status as it is spelled on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "IN_PROGRESS",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
        }
    }

    /// Whether the loop ends here (anything but IN_PROGRESS).
    pub fn is_done(self) -> bool {
        self != Status::InProgress
    }
}

/// One poll's answer. Every key is always present (null when unknown) so that a Choice state or
/// a JSONPath in a later state never fails on a missing field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollOutput {
    /// The normalized status a Choice state branches on.
    pub status: Status,
    /// True when `status` is not IN_PROGRESS: the loop ends.
    pub done: bool,
    /// QuickSight's own JobStatus (QUEUED, RUNNING, COMPLETED, FAILED, or a value added later);
    /// null when QuickSight did not describe the job.
    pub job_status: Option<String>,
    /// The job polled.
    pub job: JobInfo,
    /// The caller's own name for the job (a tenant, a report), carried from the input to every
    /// output, notice and event; null when none was given.
    #[serde(default)]
    pub label: Option<String>,
    /// 1 on the first poll; +1 each time the previous output comes back as input.
    pub attempt: u32,
    /// Seconds a Wait state should wait before the next poll (`SecondsPath: $.waitSeconds`);
    /// 0 once `done`.
    pub wait_seconds: u64,
    /// RFC 3339.
    pub created_time: Option<String>,
    /// RFC 3339.
    pub last_updated_time: Option<String>,
    /// Seconds since QuickSight's CreatedTime, as of this poll.
    pub age_seconds: Option<u64>,
    /// The request id of the last QuickSight call.
    pub request_id: Option<String>,
    /// Every S3 object QuickSight reported, for every user and file group.
    pub results: Vec<FileResult>,
    /// Why the job failed, timed out or lacks files; or why this poll could not tell.
    pub error: Option<ErrorDetail>,
    /// QuickSight said the job can be re-run as it is and succeed (RLS_CHANGED, CLS_CHANGED:
    /// "re-run the job with current settings"). Absent in outputs of older builds.
    #[serde(default)]
    pub rerunnable: bool,
    /// STARTED when the loop started the job (its input was StartDashboardSnapshotJob's
    /// answer): only such a job gets the not-found grace. NAMED otherwise.
    #[serde(default)]
    pub origin: JobOrigin,
    /// RFC 3339: when a poll first saw the job described; a job without a CreatedTime gets its
    /// deadline from it.
    #[serde(default)]
    pub first_seen_time: Option<String>,
    /// Consecutive batch rounds whose poll of this job raised a retryable error; at
    /// `BATCH_MAX_ERROR_ROUNDS` the job is FAILED with that error and notified. 0 otherwise.
    #[serde(default)]
    pub error_streak: u32,
    /// The notice published on this poll, if one was.
    pub notification: Option<Notification>,
    /// The job's EventBridge event ("Snapshot Job Finished"), put when the job finished;
    /// null before, and with `EVENT_BUS_NAME` empty.
    #[serde(default)]
    pub event: Option<EventReceipt>,
    /// `scheduler` when the poller schedules its own next poll (EventBridge Scheduler); null
    /// under a Step Functions wait loop. Carried from the input.
    #[serde(default, rename = "loop")]
    pub loop_kind: Option<LoopKind>,
    /// Whom the job is polled as (a role, and a registered user); null: the function itself.
    #[serde(default)]
    pub caller: Option<Caller>,
    /// The one-time schedule this poll created for the next one, in a `scheduler` loop.
    #[serde(default)]
    pub next_poll: Option<NextPoll>,
}

/// Whom the job is polled as: a role assumed for its QuickSight calls (a job in another account),
/// and, for a registered user's job, the user, whose identity context the function fetches
/// itself (QuickSight `GetIdentityContext`). Carried from the input to the output so a loop
/// keeps polling as the same caller. It never holds a credential: an `identityContext` or
/// `externalId` given in an input serves that invocation only and is named in `withheld`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    /// The role to assume (it must be in `ALLOWED_ROLE_ARNS`).
    pub role_arn: String,
    /// The registered user, by QuickSight user ARN (its region is the identity region).
    #[serde(default)]
    pub user_arn: Option<String>,
    /// The registered user, by user name in `namespace`.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The registered user, by e-mail address in `namespace`.
    #[serde(default)]
    pub email: Option<String>,
    /// The QuickSight namespace of `userName` or `email` (`default` when not given).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Where the user's identity lives, for `userName` or `email` (default: the job's region).
    #[serde(default)]
    pub identity_region: Option<String>,
    /// Caller fields the input gave that no output carries (`identityContext`, `externalId`):
    /// a later poll must get them another way (a named user, `ROLE_EXTERNAL_IDS`).
    #[serde(default)]
    pub withheld: Vec<Withheld>,
}

/// A caller field that served one invocation and is never written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Withheld {
    /// A caller-supplied identity token (STS `ProvidedContexts`).
    IdentityContext,
    /// The role's `sts:ExternalId`.
    ExternalId,
}

impl Withheld {
    /// The field's name in an input.
    pub fn field(self) -> &'static str {
        match self {
            Withheld::IdentityContext => "identityContext",
            Withheld::ExternalId => "externalId",
        }
    }
}

impl Caller {
    /// Whether the caller names a registered user (by ARN, name or e-mail).
    pub fn names_user(&self) -> bool {
        self.user_arn.is_some() || self.user_name.is_some() || self.email.is_some()
    }
}

/// Who runs the next poll when the poller runs it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoopKind {
    /// A chain of EventBridge Scheduler one-time schedules, each invoking the function with
    /// the previous output.
    Scheduler,
}

/// The one-time schedule that runs the next poll of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextPoll {
    /// The schedule's name in `SCHEDULE_GROUP_NAME`: the same for a tick delivered twice.
    pub schedule_name: String,
    /// RFC 3339 (UTC): the minute the next poll runs in.
    pub at: String,
}

/// Where the job of an output came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobOrigin {
    /// The loop started it (StartDashboardSnapshotJob's answer was the first input).
    Started,
    /// Someone named an existing job.
    #[default]
    Named,
}

impl JobOrigin {
    /// The origin as it is spelled on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            JobOrigin::Started => "STARTED",
            JobOrigin::Named => "NAMED",
        }
    }
}

impl PollOutput {
    /// An IN_PROGRESS output that knows nothing yet beyond the job and the attempt.
    pub fn new(job: JobInfo, attempt: u32) -> Self {
        PollOutput {
            status: Status::InProgress,
            done: false,
            job_status: None,
            job,
            label: None,
            attempt,
            wait_seconds: 0,
            created_time: None,
            last_updated_time: None,
            age_seconds: None,
            request_id: None,
            results: Vec::new(),
            error: None,
            rerunnable: false,
            origin: JobOrigin::Named,
            first_seen_time: None,
            error_streak: 0,
            notification: None,
            event: None,
            loop_kind: None,
            caller: None,
            next_poll: None,
        }
    }
}

impl PollOutput {
    /// This output, ended with `status` (not IN_PROGRESS) and `error`: done, with no wait, as
    /// the contract has it for every finished output.
    pub fn ended(mut self, status: Status, error: ErrorDetail) -> Self {
        debug_assert!(status.is_done());
        self.status = status;
        self.done = status.is_done();
        self.wait_seconds = 0;
        self.error = Some(error);
        self
    }

    /// This output after `error_streak` rounds in a row whose poll failed: unless it is done,
    /// the next poll waits at least `backoff_seconds`.
    pub fn after_failed_rounds(mut self, error_streak: u32, backoff_seconds: u64) -> Self {
        self.error_streak = error_streak;
        if !self.done {
            self.wait_seconds = self.wait_seconds.max(backoff_seconds);
        }
        self
    }
}

/// The job this output is about, resolved from whatever shape of reference came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    /// The snapshot job's ARN.
    pub arn: String,
    /// Its partition (`aws`, `aws-cn`, `aws-us-gov`, ...).
    pub partition: String,
    /// Its region.
    pub region: String,
    /// The account that owns the dashboard.
    pub aws_account_id: String,
    /// The dashboard exported.
    pub dashboard_id: String,
    /// The snapshot job's id.
    pub snapshot_job_id: String,
}

#[cfg(test)]
impl JobInfo {
    /// A job of dashboard `dashboard` in us-east-1, for unit tests.
    pub(crate) fn sample(dashboard: &str, job: &str) -> JobInfo {
        JobInfo {
            arn: format!(
                "arn:aws:quicksight:us-east-1:123456789012:dashboard/{dashboard}/snapshot-job/{job}"
            ),
            partition: "aws".into(),
            region: "us-east-1".into(),
            aws_account_id: "123456789012".into(),
            dashboard_id: dashboard.into(),
            snapshot_job_id: job.into(),
        }
    }
}

/// Which kind of user a snapshot file was generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserType {
    /// An anonymous user's files (`UserConfiguration.AnonymousUsers`).
    Anonymous,
    /// A registered user's files.
    Registered,
}

/// One S3 result of one file group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileResult {
    /// Whose files these are.
    pub user_type: UserType,
    /// Position of the user in QuickSight's list, so results of several users stay apart.
    pub user_index: usize,
    /// The file group's place in the user's list (0-based).
    pub file_group_index: usize,
    /// PDF, CSV or EXCEL (several joined by `,` should QuickSight ever put more than one file in a group).
    pub format: Option<String>,
    /// null when this file failed; see `errors`.
    pub s3_uri: Option<String>,
    /// Why this file was not written, as QuickSight reported it.
    pub errors: Vec<ErrorDetail>,
    /// The bucket's region, as QuickSight reported it, to sign a download link in; not part of
    /// the output.
    #[serde(skip)]
    pub bucket_region: Option<String>,
}

/// Why a job or one of its files failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// QuickSight's ErrorType for a failed job or file (e.g. `DASHBOARD_ACCESS_DENIED`), the API
    /// error code when QuickSight refused the call (e.g. `AccessDeniedException`), or
    /// `JobDeadlineExceeded`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong, in words (bounded).
    pub message: String,
}

/// The SNS message published for this poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The id the channel gave the notice (SNS MessageId).
    pub message_id: String,
    /// Where it was published.
    pub topic_arn: String,
}

/// The EventBridge event put for a finished job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventReceipt {
    /// The id EventBridge gave the event.
    pub event_id: String,
    /// The bus it was put on.
    pub event_bus: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_serializes_as_the_names_a_choice_state_compares() {
        for status in [
            Status::InProgress,
            Status::Succeeded,
            Status::Failed,
            Status::TimedOut,
        ] {
            let json = serde_json::to_value(status).expect("serializes");
            assert_eq!(json, serde_json::Value::String(status.as_str().into()));
        }
        assert!(!Status::InProgress.is_done());
        assert!(Status::TimedOut.is_done());
    }
}
