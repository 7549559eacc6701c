//! The SNS notice for a finished poll: subject, JSON body for machines, text for people,
//! attributes for subscription filter policies, FIFO ids so a retried poll does not notify twice.

use std::sync::OnceLock;

use aws_sdk_sns::types::MessageAttributeValue;
use sha2::{Digest, Sha256};

use crate::arn::SnsTopicArn;
use crate::contract::{Notification, PollOutput, Status, UserType};
use crate::error::{credentials_error, credentials_problem, describe_sdk_error, Error};
use crate::text::truncate;

/// SNS's limit for a subject: printable ASCII, "less than 100 characters".
const SUBJECT_MAX: usize = 99;
/// SNS accepts 256 KiB in all; keep room for attributes and the JSON envelope.
const MESSAGE_MAX: usize = 240 * 1024;

/// Publish errors that the same request will meet again, however often it is retried (SNS API
/// reference, Publish errors): the topic or its KMS key is gone, disabled or forbidden, or the
/// request itself is invalid. Throttled, InternalError and KMSThrottling are transient.
const PERMANENT_PUBLISH_ERRORS: &[&str] = &[
    "NotFound",
    "NotFoundException",
    "AuthorizationError",
    "AuthorizationErrorException",
    "InvalidParameter",
    "InvalidParameterValue",
    "InvalidSecurity",
    "KMSAccessDenied",
    "KMSDisabled",
    "KMSInvalidState",
    "KMSNotFound",
    "KMSOptInRequired",
    "ValidationException",
];

/// Whether this poll's outcome is worth a notice: failures and timeouts always, completed jobs
/// with an error or failed files always (some exports did not happen), clean successes when
/// configured.
pub fn should_notify(output: &PollOutput, notify_on_success: bool) -> bool {
    match output.status {
        Status::Failed | Status::TimedOut => true,
        Status::Succeeded => {
            notify_on_success
                || output.error.is_some()
                || output.results.iter().any(|file| !file.errors.is_empty())
        }
        Status::InProgress => false,
    }
}

/// Everything `Publish` is called with, built without I/O so it can be tested directly.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub subject: String,
    /// `MessageStructure: json`: the JSON result by default, readable text for email.
    pub message: String,
    pub attributes: Vec<(&'static str, String)>,
    /// MessageGroupId and MessageDeduplicationId, for FIFO topics only.
    pub fifo: Option<(String, String)>,
}

/// `links`: a download link per result (or none), for the notice only.
pub fn compose(output: &PollOutput, topic: &SnsTopicArn, links: &[Option<String>]) -> Message {
    let error_type = output.error.as_ref().map(|e| e.kind.clone());
    let attributes: Vec<(&'static str, String)> = [
        ("status", Some(output.status.as_str().to_owned())),
        ("jobStatus", output.job_status.clone()),
        ("errorType", error_type.clone()),
        ("dashboardId", Some(output.job.dashboard_id.clone())),
        ("awsAccountId", Some(output.job.aws_account_id.clone())),
    ]
    .into_iter()
    // SNS rejects empty attribute values; an absent attribute is what filter policies expect.
    .filter_map(|(name, value)| value.filter(|v| !v.is_empty()).map(|v| (name, v)))
    .collect();

    let fifo = topic.is_fifo().then(|| {
        let job = &output.job;
        let group = format!(
            "{}:{}:{}",
            job.aws_account_id, job.dashboard_id, job.snapshot_job_id
        );
        let group = if group.len() <= 128 {
            group
        } else {
            hex_digest(&group)
        };
        // The same outcome of the same job gives the same id, so a poll retried after a
        // publish whose answer was lost is dropped by SNS instead of notifying twice.
        let outcome = format!(
            "{}|{}|{}|{}",
            job.arn,
            output.status.as_str(),
            output.job_status.as_deref().unwrap_or(""),
            error_type.as_deref().unwrap_or("")
        );
        (group, hex_digest(&outcome))
    });

    Message {
        subject: subject(output),
        message: envelope(output, links),
        attributes,
        fifo,
    }
}

fn subject(output: &PollOutput) -> String {
    let raw = format!(
        "QuickSight snapshot {}: dashboard {} job {}",
        output.status.as_str(),
        output.job.dashboard_id,
        output.job.snapshot_job_id
    );
    // Ids are ASCII by validation, but keep the rule local: printable ASCII, no line breaks.
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

fn envelope(output: &PollOutput, links: &[Option<String>]) -> String {
    let full = render(output, links);
    if full.len() <= MESSAGE_MAX {
        return full;
    }
    // A notice that is too big would fail every retry; drop the file list rather than the notice.
    let mut trimmed = output.clone();
    trimmed.results.clear();
    render(&trimmed, &[])
}

fn render(output: &PollOutput, links: &[Option<String>]) -> String {
    let mut body = serde_json::to_value(output).unwrap_or_default();
    // The links ride in the notice's copy of the output only, next to the URI they open.
    if let Some(results) = body.get_mut("results").and_then(|r| r.as_array_mut()) {
        for (result, link) in results.iter_mut().zip(links) {
            if let (Some(result), Some(link)) = (result.as_object_mut(), link) {
                result.insert("downloadUrl".into(), link.clone().into());
            }
        }
    }
    serde_json::json!({ "default": body.to_string(), "email": email_text(output, links) })
        .to_string()
}

fn email_text(output: &PollOutput, links: &[Option<String>]) -> String {
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
    if let Some(error) = &output.error {
        text.push_str(&format!("\nError: {}\n  {}\n", error.kind, error.message));
    }
    if !output.results.is_empty() {
        text.push_str("\nFiles:\n");
        for (index, file) in output.results.iter().enumerate() {
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
            match (&file.s3_uri, file.errors.is_empty()) {
                (Some(uri), true) => {
                    text.push_str(&format!("  - {place}: {uri}\n"));
                    if let Some(Some(link)) = links.get(index) {
                        text.push_str(&format!("    download: {link}\n"));
                    }
                }
                _ => {
                    if let (Some(uri), Some(Some(link))) = (&file.s3_uri, links.get(index)) {
                        text.push_str(&format!("  - {place}: {uri}\n    download: {link}\n"));
                    }
                    for error in &file.errors {
                        text.push_str(&format!(
                            "  - {place}: failed: {}: {}\n",
                            error.kind, error.message
                        ));
                    }
                    if file.errors.is_empty() {
                        text.push_str(&format!("  - {place}: no S3 URI reported\n"));
                    }
                }
            }
        }
    }
    text
}

fn hex_digest(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Publishes to the one configured topic with a client built for the topic's region.
pub struct Notifier {
    config: aws_sdk_sns::Config,
    client: OnceLock<aws_sdk_sns::Client>,
    topic: SnsTopicArn,
}

impl Notifier {
    /// The SNS client is built on the first publish, not at cold start: most polls publish
    /// nothing, and building a client (its endpoint rules' partition table, its TLS connector)
    /// is a tenth of a cold start.
    pub fn new(config: aws_sdk_sns::Config, topic: SnsTopicArn) -> Self {
        Notifier {
            config,
            client: OnceLock::new(),
            topic,
        }
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic.arn
    }

    fn client(&self) -> &aws_sdk_sns::Client {
        self.client
            .get_or_init(|| aws_sdk_sns::Client::from_conf(self.config.clone()))
    }

    pub async fn publish(
        &self,
        output: &PollOutput,
        links: &[Option<String>],
    ) -> Result<Notification, Error> {
        let message = compose(output, &self.topic, links);
        let mut request = self
            .client()
            .publish()
            .topic_arn(&self.topic.arn)
            .subject(message.subject)
            .message_structure("json")
            .message(message.message);
        for (name, value) in message.attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| self.failed(e.to_string()))?;
            request = request.message_attributes(name, value);
        }
        if let Some((group, dedup)) = message.fifo {
            request = request
                .message_group_id(group)
                .message_deduplication_id(dedup);
        }
        let published = request.send().await.map_err(|e| self.classify(&e))?;
        Ok(Notification {
            message_id: published.message_id().unwrap_or_default().to_owned(),
            topic_arn: self.topic.arn.clone(),
        })
    }

    /// Sorts a failed Publish: the caller's credentials, a refusal no retry will change (the
    /// topic or its key gone, disabled or not ours to use), or a transient failure.
    fn classify<E>(&self, err: &aws_sdk_quicksight::error::SdkError<E>) -> Error
    where
        E: aws_sdk_quicksight::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use aws_sdk_quicksight::error::ProvideErrorMetadata;
        if let Some(problem) = credentials_problem(err) {
            return credentials_error("SNS", "Publish", problem, err);
        }
        let message = describe_sdk_error(err);
        if err
            .code()
            .is_some_and(|code| PERMANENT_PUBLISH_ERRORS.contains(&code))
        {
            return Error::NotificationRejected {
                topic_arn: self.topic.arn.clone(),
                message,
            };
        }
        self.failed(message)
    }

    fn failed(&self, message: String) -> Error {
        Error::NotificationFailed {
            topic_arn: self.topic.arn.clone(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{ErrorDetail, FileResult, JobInfo};

    fn output(dashboard: &str, job: &str, status: Status) -> PollOutput {
        let job_info = JobInfo {
            arn: format!("arn:aws:quicksight:us-east-1:123456789012:dashboard/{dashboard}/snapshot-job/{job}"),
            partition: "aws".into(),
            region: "us-east-1".into(),
            aws_account_id: "123456789012".into(),
            dashboard_id: dashboard.into(),
            snapshot_job_id: job.into(),
        };
        let mut output = PollOutput::new(job_info, 2);
        output.status = status;
        output.done = status.is_done();
        output.job_status = Some("FAILED".into());
        output.error = Some(ErrorDetail {
            kind: "DASHBOARD_ACCESS_DENIED".into(),
            message: "lost access".into(),
        });
        output
    }

    fn topic(name: &str) -> SnsTopicArn {
        SnsTopicArn::parse(&format!("arn:aws:sns:us-east-1:123456789012:{name}")).unwrap()
    }

    #[test]
    fn subject_stays_within_sns_limits_for_the_longest_ids() {
        let long = "d".repeat(512);
        let message = compose(&output(&long, &long, Status::Failed), &topic("t"), &[]);
        assert_eq!(message.subject.len(), 99, "SNS: less than 100 characters");
        assert!(message.subject.ends_with("..."));
        assert!(message
            .subject
            .starts_with("QuickSight snapshot FAILED: dashboard ddd"));
        assert!(message
            .subject
            .chars()
            .all(|c| c.is_ascii_graphic() || c == ' '));
    }

    #[test]
    fn fifo_group_id_of_long_ids_is_a_digest_within_128_characters() {
        let long = "j".repeat(512);
        let message = compose(&output("d", &long, Status::Failed), &topic("t.fifo"), &[]);
        let (group, dedup) = message.fifo.expect("fifo ids");
        assert_eq!(group.len(), 64);
        assert_eq!(dedup.len(), 64);
        assert_ne!(group, dedup);
    }

    #[test]
    fn different_outcomes_of_one_job_get_different_dedup_ids() {
        let failed = compose(&output("d", "j", Status::Failed), &topic("t.fifo"), &[]);
        let timed_out = compose(&output("d", "j", Status::TimedOut), &topic("t.fifo"), &[]);
        assert_eq!(
            failed.fifo.as_ref().unwrap().0,
            timed_out.fifo.as_ref().unwrap().0
        );
        assert_ne!(failed.fifo.unwrap().1, timed_out.fifo.unwrap().1);
    }

    #[test]
    fn oversized_result_lists_are_dropped_rather_than_the_notice() {
        let mut big = output("d", "j", Status::Succeeded);
        big.results = (0..3000)
            .map(|i| FileResult {
                user_type: UserType::Anonymous,
                user_index: 0,
                file_group_index: i,
                format: Some("CSV".into()),
                s3_uri: Some(format!("s3://bucket/{}/{i}.csv", "p".repeat(60))),
                bucket_region: None,
                errors: Vec::new(),
            })
            .collect();
        let message = compose(&big, &topic("t"), &[]);
        assert!(
            message.message.len() <= MESSAGE_MAX,
            "{}",
            message.message.len()
        );
        assert!(message.message.contains("\\\"status\\\":\\\"SUCCEEDED\\\""));
    }

    #[test]
    fn in_progress_is_never_notified_and_clean_success_only_on_request() {
        let mut out = output("d", "j", Status::InProgress);
        assert!(!should_notify(&out, true));
        out.status = Status::Succeeded;
        out.error = None;
        assert!(!should_notify(&out, false));
        assert!(should_notify(&out, true));
        out.status = Status::TimedOut;
        assert!(should_notify(&out, false));
    }
}
