//! The two QuickSight calls of a poll, and what their answers and errors mean.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_quicksight::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_quicksight::operation::describe_dashboard_snapshot_job::DescribeDashboardSnapshotJobOutput;
use aws_sdk_quicksight::operation::describe_dashboard_snapshot_job_result::DescribeDashboardSnapshotJobResultOutput;
use aws_sdk_quicksight::operation::RequestId;
use aws_sdk_quicksight::primitives::{DateTime, DateTimeFormat};
use aws_sdk_quicksight::types::{SnapshotJobResultFileGroup, SnapshotJobStatus};
use aws_sdk_quicksight::Client;

use crate::contract::{ErrorDetail, FileResult, UserType};
use crate::error::Error;
use crate::reference::JobReference;
use crate::sdk_error::{
    credentials_error, credentials_problem, describe_sdk_error, is_request_timeout,
};
use crate::text::truncate;

const DESCRIBE: &str = "DescribeDashboardSnapshotJob";
const DESCRIBE_RESULT: &str = "DescribeDashboardSnapshotJobResult";

/// One QuickSight client per region (and per assumed-role session), built on first use and
/// kept for the life of the execution environment: a job's ARN decides its region, and
/// building a client costs more than a poll.
pub struct QuickSightClients {
    base: aws_sdk_quicksight::config::Builder,
    clients: Mutex<HashMap<String, Client>>,
    /// Per region and access key of an assumed role's credentials: a session's polls share one.
    sessions: Mutex<HashMap<(String, String), Client>>,
}

/// Sessions kept at most: each lives an hour, so more than this means many callers, and
/// starting over costs one client build each.
const MAX_SESSION_CLIENTS: usize = 64;

impl QuickSightClients {
    /// Clients configured like `base`, one per region.
    pub fn new(base: aws_sdk_quicksight::config::Builder) -> Self {
        QuickSightClients {
            base,
            clients: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `region` signing with `credentials` (an assumed role's session), built
    /// on the session's first call.
    pub fn for_region_as(
        &self,
        region: &str,
        credentials: aws_credential_types::Credentials,
    ) -> Client {
        let key = (region.to_owned(), credentials.access_key_id().to_owned());
        // A poisoned lock only means another poll panicked mid-insert; the map is still usable.
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if !sessions.contains_key(&key) && sessions.len() >= MAX_SESSION_CLIENTS {
            sessions.clear();
        }
        sessions
            .entry(key)
            .or_insert_with(|| self.build(region, Some(credentials)))
            .clone()
    }

    /// The client for `region`, built on first use.
    pub fn for_region(&self, region: &str) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| self.build(region, None))
            .clone()
    }

    /// Whether the client for `region` is built already.
    #[cfg(test)]
    pub fn has_client_for(&self, region: &str) -> bool {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.contains_key(region)
    }

    fn build(
        &self,
        region: &str,
        credentials: Option<aws_credential_types::Credentials>,
    ) -> Client {
        let mut config = self
            .base
            .clone()
            .region(aws_sdk_quicksight::config::Region::new(region.to_owned()));
        if let Some(credentials) = credentials {
            config = config.credentials_provider(credentials);
        }
        Client::from_conf(config.build())
    }
}

/// What DescribeDashboardSnapshotJob said about the job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDescription {
    /// QuickSight's JobStatus as sent, so statuses added after this build still come through.
    pub job_status: String,
    pub arn: Option<String>,
    pub created: Option<DateTime>,
    pub last_updated: Option<DateTime>,
    pub request_id: Option<String>,
}

impl JobDescription {
    pub fn is_terminal(&self) -> bool {
        matches!(self.job_status.as_str(), "COMPLETED" | "FAILED")
    }

    /// Whether QuickSight last updated the job no longer than `grace` before `now` (a job
    /// without a LastUpdatedTime never is).
    pub fn finished_within(&self, grace: std::time::Duration, now: std::time::SystemTime) -> bool {
        self.last_updated
            .and_then(|updated| std::time::SystemTime::try_from(updated).ok())
            .is_some_and(|updated| now.duration_since(updated).unwrap_or_default() <= grace)
    }
}

/// What DescribeDashboardSnapshotJobResult said about a finished job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobResult {
    pub error: Option<ErrorDetail>,
    pub files: Vec<FileResult>,
    pub request_id: Option<String>,
}

/// A call QuickSight answered with an error that retrying will not fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: String,
    pub message: String,
    /// The refused call's request id, for a support case.
    pub request_id: Option<String>,
}

impl Rejection {
    pub fn is_not_found(&self) -> bool {
        self.code == "ResourceNotFoundException"
    }

    /// How the Result call answers while it lags a Describe that already said COMPLETED or
    /// FAILED: "has not reached a terminal state" (InvalidParameterValue), or not found.
    pub fn may_be_result_lag(&self) -> bool {
        matches!(
            self.code.as_str(),
            "InvalidParameterValueException" | "ResourceNotFoundException"
        )
    }
}

/// What QuickSight said to a call it answered: the answer, or a refusal that is the job's own
/// (reported as FAILED and notified).
#[derive(Debug)]
pub enum Said<T> {
    /// The call's answer.
    Answer(T),
    /// QuickSight refused the call for this job, for good.
    Refusal(Rejection),
}

/// What QuickSight said, or an `Error` for the transient failures that fail the invocation so
/// it is retried.
pub type CallOutcome<T> = Result<Said<T>, Error>;

pub async fn describe(client: &Client, job: &JobReference) -> CallOutcome<JobDescription> {
    let sent = client
        .describe_dashboard_snapshot_job()
        .aws_account_id(&job.account)
        .dashboard_id(&job.dashboard)
        .snapshot_job_id(&job.job)
        .send()
        .await;
    match sent {
        Ok(output) => description(output).map(Said::Answer),
        Err(err) => classify(DESCRIBE, err).map(Said::Refusal),
    }
}

pub async fn describe_result(client: &Client, job: &JobReference) -> CallOutcome<JobResult> {
    let sent = client
        .describe_dashboard_snapshot_job_result()
        .aws_account_id(&job.account)
        .dashboard_id(&job.dashboard)
        .snapshot_job_id(&job.job)
        .send()
        .await;
    match sent {
        Ok(output) => Ok(Said::Answer(job_result(&output))),
        Err(err) => classify(DESCRIBE_RESULT, err).map(Said::Refusal),
    }
}

fn description(output: DescribeDashboardSnapshotJobOutput) -> Result<JobDescription, Error> {
    // Without a JobStatus the answer says nothing; treat it like a garbled reply and retry.
    let job_status = output
        .job_status()
        .map(SnapshotJobStatus::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::QuickSightUnavailable {
            operation: DESCRIBE,
            message: "the response has no JobStatus".into(),
        })?
        .to_owned();
    Ok(JobDescription {
        job_status,
        arn: output.arn().map(str::to_owned),
        created: output.created_time().copied(),
        last_updated: output.last_updated_time().copied(),
        request_id: output.request_id().map(str::to_owned),
    })
}

/// Collects every S3 result of every user and file group, with the job's and each file's errors.
pub fn job_result(output: &DescribeDashboardSnapshotJobResultOutput) -> JobResult {
    let mut files = Vec::new();
    if let Some(result) = output.result() {
        let anonymous = result
            .anonymous_users()
            .iter()
            .map(|user| (UserType::Anonymous, user.file_groups()));
        let registered = result
            .registered_users()
            .iter()
            .map(|user| (UserType::Registered, user.file_groups()));
        let mut user_index = HashMap::new();
        for (user_type, groups) in anonymous.chain(registered) {
            let index = user_index.entry(user_type).or_insert(0usize);
            collect_groups(user_type, *index, groups, &mut files);
            *index += 1;
        }
    }
    let error = output.error_info().map(|info| ErrorDetail {
        kind: truncate(info.error_type().unwrap_or("SnapshotJobFailed"), 100).into_owned(),
        message: truncate(
            info.error_message()
                .unwrap_or("QuickSight gave no error message"),
            MESSAGE_MAX,
        )
        .into_owned(),
    });
    JobResult {
        error,
        files,
        request_id: output.request_id().map(str::to_owned),
    }
}

fn collect_groups(
    user_type: UserType,
    user_index: usize,
    groups: &[SnapshotJobResultFileGroup],
    files: &mut Vec<FileResult>,
) {
    for (file_group_index, group) in groups.iter().enumerate() {
        let formats: Vec<&str> = group
            .files()
            .iter()
            .map(|f| f.format_type().as_str())
            .collect();
        let format = (!formats.is_empty()).then(|| formats.join(","));
        for s3 in group.s3_results() {
            files.push(FileResult {
                user_type,
                user_index,
                file_group_index,
                format: format.clone(),
                s3_uri: s3.s3_uri().map(str::to_owned),
                bucket_region: s3
                    .s3_destination_configuration()
                    .and_then(|destination| destination.bucket_configuration())
                    .map(|bucket| bucket.bucket_region().to_owned())
                    .filter(|region| crate::arn::is_valid_region(region)),
                errors: s3
                    .error_info()
                    .iter()
                    .map(|e| ErrorDetail {
                        kind: truncate(e.error_type().unwrap_or("FileFailed"), 100).into_owned(),
                        message: truncate(e.error_message().unwrap_or_default(), MESSAGE_MAX)
                            .into_owned(),
                    })
                    .collect(),
            });
        }
    }
}

/// Sorts a failed call (after the SDK's own retries) into retryable errors and terminal
/// rejections.
fn classify<E>(operation: &'static str, err: SdkError<E>) -> Result<Rejection, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(problem) = credentials_problem(&err) {
        return Err(credentials_error("QuickSight", operation, problem, &err));
    }
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(|code| truncate(code, 100).into_owned());
    let request_id = err.request_id().map(str::to_owned);
    // Only a service's own answer has a message worth quoting; the SDK's message for a
    // transport failure is a debug dump of the whole error chain.
    let message = match (&err, err.message()) {
        (SdkError::ServiceError(_), Some(message)) => truncate(message, MESSAGE_MAX).into_owned(),
        _ => describe_sdk_error(&err),
    };
    let throttled = status == Some(429)
        || code.as_deref().is_some_and(|c| {
            matches!(
                c,
                "ThrottlingException" | "Throttling" | "TooManyRequestsException"
            )
        });
    if throttled {
        let message = with_request_id(message, request_id.as_deref());
        return Err(Error::QuickSightThrottled { operation, message });
    }
    match (err, code) {
        // Codes QuickSight documents for these calls that no retry will change.
        (SdkError::ServiceError(_), Some(code))
            if status.is_some_and(|s| (400..500).contains(&s))
                && !is_request_timeout(Some(&code)) =>
        {
            Ok(Rejection {
                code,
                message,
                request_id,
            })
        }
        _ => {
            let message = with_request_id(message, request_id.as_deref());
            Err(Error::QuickSightUnavailable { operation, message })
        }
    }
}

/// The longest service message quoted in an output or error; QuickSight echoes parameters.
const MESSAGE_MAX: usize = 300;

/// A raised error's message names the call's request id, so a support case can quote it.
fn with_request_id(message: String, request_id: Option<&str>) -> String {
    match request_id {
        Some(id) => format!("{message} (request id {})", truncate(id, 64)),
        None => message,
    }
}

/// RFC 3339 for the output contract.
pub fn rfc3339(time: &DateTime) -> Option<String> {
    time.fmt(DateTimeFormat::DateTime).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients() -> QuickSightClients {
        QuickSightClients::new(
            aws_sdk_quicksight::config::Builder::new()
                .behavior_version(aws_sdk_quicksight::config::BehaviorVersion::latest()),
        )
    }

    fn session(key: &str) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(key, "secret", Some("token".into()), None, "test")
    }

    fn sessions(clients: &QuickSightClients) -> usize {
        clients.sessions.lock().map_or(0, |sessions| sessions.len())
    }

    #[test]
    fn a_sessions_polls_share_one_client_until_its_credentials_change() {
        let clients = clients();
        clients.for_region_as("us-east-1", session("ASIA1"));
        clients.for_region_as("us-east-1", session("ASIA1"));
        assert_eq!(sessions(&clients), 1);
        clients.for_region_as("us-east-1", session("ASIA2"));
        clients.for_region_as("eu-west-1", session("ASIA2"));
        assert_eq!(sessions(&clients), 3);
    }

    #[test]
    fn session_clients_are_bounded() {
        let clients = clients();
        for i in 0..=MAX_SESSION_CLIENTS {
            clients.for_region_as("us-east-1", session(&format!("ASIA{i}")));
        }
        assert_eq!(sessions(&clients), 1, "started over when full");
    }
}
