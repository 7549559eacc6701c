//! The `detail` of a job's event: the job's output, redacted, under names that stay stable
//! for the rules and programs that read it (docs/job-event.schema.json). It never holds a
//! credential: the caller is named by role and user only, and the output never carries a token.

use serde::Serialize;

use crate::contract::{
    Caller, ErrorDetail, FileResult, JobInfo, Notification, PollOutput, Status, UserType,
};

/// The detail's layout; a consumer may match on it. Raised only when a field changes meaning
/// or goes away, never for a field added.
pub const SCHEMA_VERSION: &str = "1";

/// What the detail says of a job.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail<'a> {
    schema_version: &'static str,
    status: Status,
    job_status: Option<&'a str>,
    job: &'a JobInfo,
    label: Option<&'a str>,
    created_time: Option<&'a str>,
    last_updated_time: Option<&'a str>,
    age_seconds: Option<u64>,
    attempt: u32,
    error: Option<&'a ErrorDetail>,
    rerunnable: bool,
    caller: Option<CallerDetail<'a>>,
    notification: Option<&'a Notification>,
    counts: FileCounts,
    files: Vec<File<'a>>,
    files_omitted: Option<Omitted>,
}

/// Whom the job was polled as, without anything that served one invocation only.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CallerDetail<'a> {
    role_arn: &'a str,
    user_arn: Option<&'a str>,
    user_name: Option<&'a str>,
    email: Option<&'a str>,
    namespace: Option<&'a str>,
}

/// How many files the job was asked for, how many were written and how many failed.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
struct FileCounts {
    files: usize,
    written: usize,
    failed: usize,
}

/// One file of the job.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct File<'a> {
    format: Option<&'a str>,
    s3_uri: Option<&'a str>,
    /// A presigned HTTPS link, when `PRESIGN_SECONDS` turns links on.
    download_url: Option<&'a str>,
    user_type: UserType,
    user_index: usize,
    file_group_index: usize,
    errors: &'a [ErrorDetail],
}

/// Why `files` is empty although `counts.files` is not.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Omitted {
    count: usize,
    reason: &'static str,
}

impl<'a> Detail<'a> {
    /// The detail of `output`, with `links[i]` as the download link of `output.results[i]`.
    pub fn of(output: &'a PollOutput, links: &'a [Option<String>]) -> Self {
        let results = &output.results;
        Detail {
            schema_version: SCHEMA_VERSION,
            status: output.status,
            job_status: output.job_status.as_deref(),
            job: &output.job,
            label: output.label.as_deref(),
            created_time: output.created_time.as_deref(),
            last_updated_time: output.last_updated_time.as_deref(),
            age_seconds: output.age_seconds,
            attempt: output.attempt,
            error: output.error.as_ref(),
            rerunnable: output.rerunnable,
            caller: output.caller.as_ref().map(CallerDetail::of),
            notification: output.notification.as_ref(),
            counts: FileCounts {
                files: results.len(),
                written: results.iter().filter(|f| f.s3_uri.is_some()).count(),
                failed: results.iter().filter(|f| f.s3_uri.is_none()).count(),
            },
            files: results
                .iter()
                .enumerate()
                .map(|(index, file)| File::of(file, links.get(index).and_then(Option::as_deref)))
                .collect(),
            files_omitted: None,
        }
    }

    /// The same detail without its file list, saying so; the counts stay.
    pub fn without_files(mut self, reason: &'static str) -> Self {
        if !self.files.is_empty() {
            self.files_omitted = Some(Omitted {
                count: self.files.len(),
                reason,
            });
            self.files.clear();
        }
        self
    }
}

impl<'a> CallerDetail<'a> {
    fn of(caller: &'a Caller) -> Self {
        CallerDetail {
            role_arn: &caller.role_arn,
            user_arn: caller.user_arn.as_deref(),
            user_name: caller.user_name.as_deref(),
            email: caller.email.as_deref(),
            namespace: caller.namespace.as_deref(),
        }
    }
}

impl<'a> File<'a> {
    fn of(file: &'a FileResult, link: Option<&'a str>) -> Self {
        File {
            format: file.format.as_deref(),
            s3_uri: file.s3_uri.as_deref(),
            download_url: link,
            user_type: file.user_type,
            user_index: file.user_index,
            file_group_index: file.file_group_index,
            errors: &file.errors,
        }
    }
}
