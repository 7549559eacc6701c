//! The SNS channel: a notice as one `Publish` to the configured topic, in the topic's region,
//! with `MessageStructure: json` (the JSON output by default, text for email), attributes for
//! subscription filter policies, and FIFO ids on a FIFO topic.

use std::sync::OnceLock;

use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;
use futures_util::future::BoxFuture;

use super::{Channel, Notice};
use crate::arn::SnsTopicArn;
use crate::contract::Notification;
use crate::error::Error;
use crate::sdk_error::delivery_error;

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

/// Everything `Publish` is called with, built without I/O so it can be tested directly.
#[derive(Debug, Clone, PartialEq)]
struct Message {
    subject: String,
    /// `MessageStructure: json`: the JSON output by default, readable text for email.
    message: String,
    attributes: Vec<(&'static str, String)>,
    /// MessageGroupId and MessageDeduplicationId, for FIFO topics only.
    fifo: Option<(String, String)>,
}

fn message(notice: &Notice, topic: &SnsTopicArn) -> Message {
    let render = |notice: &Notice| {
        serde_json::json!({ "default": notice.json(), "email": notice.text() }).to_string()
    };
    let mut text = render(notice);
    if text.len() > MESSAGE_MAX {
        // A message that is too big would fail every retry; drop the file list, not the notice.
        text = render(&notice.without_files());
    }
    Message {
        subject: notice.subject.clone(),
        message: text,
        attributes: notice.attributes.clone(),
        fifo: topic
            .is_fifo()
            .then(|| (notice.group_id.clone(), notice.dedup_id.clone())),
    }
}

/// Publishes to the one configured topic with a client built for the topic's region.
pub struct SnsChannel {
    config: aws_sdk_sns::Config,
    client: OnceLock<aws_sdk_sns::Client>,
    topic: SnsTopicArn,
}

impl SnsChannel {
    /// The SNS client is built on the first publish, not at cold start: most polls publish
    /// nothing, and building a client (its endpoint rules' partition table, its TLS connector)
    /// is a tenth of a cold start.
    pub fn new(config: aws_sdk_sns::Config, topic: SnsTopicArn) -> Self {
        SnsChannel {
            config,
            client: OnceLock::new(),
            topic,
        }
    }

    fn client(&self) -> &aws_sdk_sns::Client {
        self.client
            .get_or_init(|| aws_sdk_sns::Client::from_conf(self.config.clone()))
    }

    async fn send(&self, notice: &Notice) -> Result<Notification, Error> {
        let message = message(notice, &self.topic);
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
    fn classify<E>(&self, err: &SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        delivery_error(
            "SNS",
            "Publish",
            self.destination(),
            PERMANENT_PUBLISH_ERRORS,
            err,
        )
    }

    fn failed(&self, message: String) -> Error {
        Error::NotificationFailed {
            destination: self.destination(),
            message,
        }
    }
}

impl Channel for SnsChannel {
    fn destination(&self) -> String {
        format!("SNS topic {}", self.topic.arn)
    }

    fn publish<'a>(&'a self, notice: &'a Notice) -> BoxFuture<'a, Result<Notification, Error>> {
        Box::pin(self.send(notice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{FileResult, Status, UserType};
    use crate::notice::message::tests::output;

    fn topic(name: &str) -> SnsTopicArn {
        SnsTopicArn::parse(&format!("arn:aws:sns:us-east-1:123456789012:{name}")).unwrap()
    }

    #[test]
    fn fifo_ids_go_to_fifo_topics_only() {
        let notice = Notice::of(&output("d", "j", Status::Failed), Vec::new());
        let fifo = message(&notice, &topic("t.fifo")).fifo.expect("fifo ids");
        assert_eq!(fifo, (notice.group_id.clone(), notice.dedup_id.clone()));
        assert_eq!(message(&notice, &topic("t")).fifo, None);
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
        let message = message(&Notice::of(&big, Vec::new()), &topic("t"));
        assert!(
            message.message.len() <= MESSAGE_MAX,
            "{}",
            message.message.len()
        );
        assert!(message.message.contains("\\\"status\\\":\\\"SUCCEEDED\\\""));
    }
}
