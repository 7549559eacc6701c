//! The notice itself, whatever carries it: a subject, the JSON output for machines (with the
//! download links), text for people, attributes to filter on, and ids that stay the same for
//! the same outcome of the same job so a retried poll can be recognised.

use sha2::{Digest, Sha256};

pub use super::run::RunNotice;
use crate::contract::{PollOutput, UserType};
use crate::text::truncate;

/// Subjects stay under SNS's limit (printable ASCII, "less than 100 characters"), the
/// strictest of the channels people read.
const SUBJECT_MAX: usize = 99;
/// A group id longer than this (SNS FIFO's limit) is replaced by its digest.
const GROUP_ID_MAX: usize = 128;

/// One poll's notice, built once from its output.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// One line, printable ASCII, at most 99 characters.
    pub subject: String,
    /// Name and value pairs to filter on; never an empty value.
    pub attributes: Vec<(&'static str, String)>,
    /// The same for every notice of one job.
    pub group_id: String,
    /// The same for the same outcome of the same job, so a poll retried after a delivery
    /// whose answer was lost can be dropped instead of notifying twice.
    pub dedup_id: String,
    body: Body,
}

/// What a notice tells.
// Nearly every notice is a job's, built once and sent: boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
enum Body {
    /// A job's end, with a download link per result (or none), for the notice only.
    Job {
        output: PollOutput,
        links: Vec<Option<String>>,
    },
    /// A reports run's end.
    Run(Box<RunNotice>),
}

impl Notice {
    /// The notice for `output`; `links` are its results' download links, in order.
    pub fn of(output: &PollOutput, links: Vec<Option<String>>) -> Notice {
        let error_type = output.error.as_ref().map(|e| e.kind.clone());
        let attributes = [
            ("status", Some(output.status.as_str().to_owned())),
            ("jobStatus", output.job_status.clone()),
            ("errorType", error_type.clone()),
            ("dashboardId", Some(output.job.dashboard_id.clone())),
            ("awsAccountId", Some(output.job.aws_account_id.clone())),
        ]
        .into_iter()
        // An absent attribute is what filter policies expect, and SNS rejects empty values.
        .filter_map(|(name, value)| value.filter(|v| !v.is_empty()).map(|v| (name, v)))
        .collect();
        let job = &output.job;
        let group = format!(
            "{}:{}:{}",
            job.aws_account_id, job.dashboard_id, job.snapshot_job_id
        );
        let group_id = if group.len() <= GROUP_ID_MAX {
            group
        } else {
            hex_digest(&group)
        };
        let outcome = format!(
            "{}|{}|{}|{}",
            job.arn,
            output.status.as_str(),
            output.job_status.as_deref().unwrap_or(""),
            error_type.as_deref().unwrap_or("")
        );
        Notice {
            subject: subject(output),
            attributes,
            group_id,
            dedup_id: hex_digest(&outcome),
            body: Body::Job {
                output: output.clone(),
                links,
            },
        }
    }

    /// The notice of a reports run's end: its summary, with the results file's download link
    /// when there is one. One per run: its ids are the run's.
    pub fn of_run(run: RunNotice) -> Notice {
        let summary = &run.summary;
        Notice {
            subject: printable(&summary.subject),
            attributes: vec![
                ("source", "reports-run".to_owned()),
                ("status", summary.status.as_str().to_owned()),
            ],
            group_id: summary.run_key.clone(),
            dedup_id: hex_digest(&format!("summary|{}", summary.run_key)),
            body: Body::Run(Box::new(run)),
        }
    }

    /// The same notice without its file list, for a channel whose size limit the full one
    /// passes: better a notice without files than none. A run's summary is bounded already.
    pub fn without_files(&self) -> Notice {
        match &self.body {
            Body::Job { output, .. } => {
                let mut output = output.clone();
                output.results.clear();
                Notice {
                    body: Body::Job {
                        output,
                        links: Vec::new(),
                    },
                    ..self.clone()
                }
            }
            Body::Run(_) => self.clone(),
        }
    }

    /// The output as JSON, each result with its `downloadUrl` when it has one; a run's
    /// summary with its results file's.
    pub fn json(&self) -> String {
        let (output, links) = match &self.body {
            Body::Job { output, links } => (output, links),
            Body::Run(run) => return run.json(),
        };
        let mut body = serde_json::to_value(output).unwrap_or_default();
        if let Some(results) = body.get_mut("results").and_then(|r| r.as_array_mut()) {
            for (result, link) in results.iter_mut().zip(links) {
                if let (Some(result), Some(link)) = (result.as_object_mut(), link) {
                    result.insert("downloadUrl".into(), link.clone().into());
                }
            }
        }
        body.to_string()
    }

    /// The notice as a person reads it (email).
    pub fn text(&self) -> String {
        let (output, links) = match &self.body {
            Body::Job { output, links } => (output, links),
            Body::Run(run) => return run.text(),
        };
        let job = &output.job;
        let mut text = format!(
            "QuickSight dashboard snapshot job {}\n\n\
             Dashboard:         {}\n\
             Snapshot job:      {}\n\
             Account / region:  {} / {}\n\
             Job ARN:           {}\n\
             QuickSight status: {}\n\
             Created:           {}\n\
             Last updated:      {}\n\
             Polls:             {}\n",
            output.status.as_str(),
            job.dashboard_id,
            job.snapshot_job_id,
            job.aws_account_id,
            job.region,
            job.arn,
            output.job_status.as_deref().unwrap_or("unknown"),
            output.created_time.as_deref().unwrap_or("unknown"),
            output.last_updated_time.as_deref().unwrap_or("unknown"),
            output.attempt,
        );
        if let Some(label) = &output.label {
            text.push_str(&format!("Label:             {label}\n"));
        }
        if let Some(error) = &output.error {
            text.push_str(&format!("\nError: {}\n  {}\n", error.kind, error.message));
        }
        if !output.results.is_empty() {
            text.push_str("\nFiles:\n");
            for (index, file) in output.results.iter().enumerate() {
                let link = links.get(index).and_then(Option::as_deref);
                text.push_str(&file_lines(file, link));
            }
        }
        text
    }
}

/// A file's lines in the text: where it is and its link, or why it is not there.
fn file_lines(file: &crate::contract::FileResult, link: Option<&str>) -> String {
    let user = match file.user_type {
        UserType::Anonymous => "anonymous user",
        UserType::Registered => "registered user",
    };
    let place = format!(
        "{} ({user} {}, file group {})",
        file.format.as_deref().unwrap_or("file"),
        file.user_index + 1,
        file.file_group_index + 1
    );
    let mut lines = String::new();
    if let Some(uri) = &file.s3_uri {
        if file.errors.is_empty() || link.is_some() {
            lines.push_str(&format!("  - {place}: {uri}\n"));
        }
        if let Some(link) = link {
            lines.push_str(&format!("    download: {link}\n"));
        }
    }
    for error in &file.errors {
        lines.push_str(&format!(
            "  - {place}: failed: {}: {}\n",
            error.kind, error.message
        ));
    }
    if file.s3_uri.is_none() && file.errors.is_empty() {
        lines.push_str(&format!("  - {place}: no S3 URI reported\n"));
    }
    lines
}

fn subject(output: &PollOutput) -> String {
    let raw = format!(
        "QuickSight snapshot {}: dashboard {} job {}",
        output.status.as_str(),
        output.job.dashboard_id,
        output.job.snapshot_job_id
    );
    printable(&raw)
}

/// A subject as every channel takes it: printable ASCII, no line breaks, at most 99 characters.
fn printable(raw: &str) -> String {
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    // ASCII only by now, so characters are bytes.
    truncate(&clean, SUBJECT_MAX).into_owned()
}

fn hex_digest(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::contract::{ErrorDetail, JobInfo, Status};

    pub(crate) fn output(dashboard: &str, job: &str, status: Status) -> PollOutput {
        let mut output = PollOutput::new(JobInfo::sample(dashboard, job), 2);
        output.status = status;
        output.done = status.is_done();
        output.job_status = Some("FAILED".into());
        output.error = Some(ErrorDetail {
            kind: "DASHBOARD_ACCESS_DENIED".into(),
            message: "lost access".into(),
        });
        output
    }

    #[test]
    fn subject_stays_within_sns_limits_for_the_longest_ids() {
        let long = "d".repeat(512);
        let notice = Notice::of(&output(&long, &long, Status::Failed), Vec::new());
        assert_eq!(notice.subject.len(), 99, "SNS: less than 100 characters");
        assert!(notice.subject.ends_with("..."));
        assert!(notice
            .subject
            .starts_with("QuickSight snapshot FAILED: dashboard ddd"));
        assert!(notice
            .subject
            .chars()
            .all(|c| c.is_ascii_graphic() || c == ' '));
    }

    #[test]
    fn group_id_of_long_ids_is_a_digest_within_128_characters() {
        let long = "j".repeat(512);
        let notice = Notice::of(&output("d", &long, Status::Failed), Vec::new());
        assert_eq!(notice.group_id.len(), 64);
        assert_eq!(notice.dedup_id.len(), 64);
        assert_ne!(notice.group_id, notice.dedup_id);
    }

    #[test]
    fn different_outcomes_of_one_job_get_different_dedup_ids() {
        let failed = Notice::of(&output("d", "j", Status::Failed), Vec::new());
        let timed_out = Notice::of(&output("d", "j", Status::TimedOut), Vec::new());
        assert_eq!(failed.group_id, timed_out.group_id);
        assert_ne!(failed.dedup_id, timed_out.dedup_id);
    }
}
