//! Telling people how a job ended: which outcomes deserve a notice, the [`Notice`] built once
//! from the output, and the [`Channel`] that delivers it (SNS today, [`SnsChannel`]).
//!
//! A new channel is a module here implementing [`Channel`], its setting in `settings.rs`, and
//! its construction in `setup.rs`; nothing else knows which channel is in use.

mod message;
mod run;
mod sns;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::timeout;

pub use message::{Notice, RunNotice};
pub use sns::SnsChannel;

use crate::contract::{Notification, PollOutput, Status};
use crate::error::Error;
use crate::ledger::{tell_once, Delivery, Ledger, Receipt, Told};
use crate::presign::Presigner;
use crate::runs::RunItem;

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

/// Somewhere notices are delivered.
pub trait Channel: Send + Sync {
    /// Where notices go, as error messages name it: "SNS topic arn:...".
    fn destination(&self) -> String;

    /// Delivers one notice. A failure no retry will change is `NotificationRejected`; one that
    /// may pass later is `NotificationFailed`.
    fn publish<'a>(&'a self, notice: &'a Notice) -> BoxFuture<'a, Result<Notification, Error>>;
}

/// Sends the notice of a finished poll through the channel, with download links when a
/// [`Presigner`] is set, within the time the invocation has left; with a [`Ledger`], only
/// when the ledger has no notice of that outcome yet.
pub struct Notifier {
    channel: Box<dyn Channel>,
    presigner: Option<Presigner>,
    ledger: Option<Arc<Ledger>>,
}

impl Notifier {
    /// Notices through `channel`, without download links.
    pub fn new(channel: impl Channel + 'static) -> Self {
        Notifier {
            channel: Box::new(channel),
            presigner: None,
            ledger: None,
        }
    }

    /// Claims each notice in `ledger` before it is published (one notice per job outcome).
    pub fn with_ledger(mut self, ledger: Arc<Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Signs a download link for each `s3://` result of a notice.
    pub fn with_presigner(mut self, presigner: Presigner) -> Self {
        self.presigner = Some(presigner);
        self
    }

    /// Publishes the notice for `output` within `left`, and records it in the output. An
    /// outcome the ledger has told before is not published again: the output carries the first
    /// notice (the ledger's rules: [`tell_once`]).
    pub async fn notify(&self, output: &mut PollOutput, left: Duration) -> Result<(), Error> {
        let receipt = tell_once(
            self.ledger.as_deref(),
            Told::Job(output, Delivery::Notice),
            left,
            |left| self.publish(output, left),
        )
        .await?;
        output.notification = Some(Notification {
            message_id: receipt.id,
            topic_arn: receipt.destination,
        });
        Ok(())
    }

    /// Signs the links and publishes the notice, within `left`.
    async fn publish(&self, output: &PollOutput, left: Duration) -> Result<Receipt, Error> {
        let started = tokio::time::Instant::now();
        // Links are a courtesy: they may take a quarter of the time (a second at most), and
        // without them the notice still goes.
        let links = match &self.presigner {
            Some(presigner) => presigner.links_within(output, left / 4).await,
            None => Vec::new(),
        };
        let notice = Notice::of(output, links);
        self.send(&notice, left.saturating_sub(started.elapsed()))
            .await
    }

    /// Publishes a reports run's one notice within `left`: a run whose summary the ledger has
    /// told before is not told again, and the first notice is the answer.
    pub async fn tell_run(&self, run: RunNotice, left: Duration) -> Result<Notification, Error> {
        let run_key = run.summary.run_key.clone();
        let notice = Notice::of_run(run);
        let receipt = tell_once(
            self.ledger.as_deref(),
            Told::RunSummary(&run_key),
            left,
            |left| self.send(&notice, left),
        )
        .await?;
        Ok(Notification {
            message_id: receipt.id,
            topic_arn: receipt.destination,
        })
    }

    /// Sends `notice` through the channel within `left`.
    async fn send(&self, notice: &Notice, left: Duration) -> Result<Receipt, Error> {
        let published = timeout(left, self.channel.publish(notice))
            .await
            .map_err(|_| Error::NotificationFailed {
                destination: self.channel.destination(),
                message: crate::text::no_answer_before_deadline(left),
            })??;
        Ok(Receipt {
            id: published.message_id,
            destination: published.topic_arn,
        })
    }

    /// Keeps the run history of a job that ended without a notice, within `left`; nothing
    /// without a ledger.
    pub async fn remember(&self, output: &PollOutput, left: Duration) {
        if let Some(ledger) = &self.ledger {
            if timeout(left, ledger.remember(output)).await.is_err() {
                tracing::warn!("the job's end was not kept in the run history before the deadline");
            }
        }
    }

    /// Records how a reports run's job ended, under its run, for the run's summary, by `left`.
    /// Unlike the run history this must not be lost: a record that fails fails the poll, and
    /// the retried poll records it. Without a ledger there is nothing to record in.
    pub async fn record_run_item(
        &self,
        output: &PollOutput,
        item: RunItem<'_>,
        left: Duration,
    ) -> Result<(), Error> {
        let Some(ledger) = &self.ledger else {
            return Ok(());
        };
        match timeout(left, ledger.record_run_item(output, item)).await {
            Ok(recorded) => recorded,
            Err(_) => Err(Error::NotificationFailed {
                destination: ledger.destination(),
                message: format!(
                    "the run's record of this job: {}",
                    crate::text::no_answer_before_deadline(left)
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::JobInfo;
    use crate::ledger::LedgerSettings;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A channel that counts what it is asked to publish.
    struct Counting(Arc<AtomicUsize>);

    impl Channel for Counting {
        fn destination(&self) -> String {
            "counting channel".into()
        }
        fn publish<'a>(&'a self, _: &'a Notice) -> BoxFuture<'a, Result<Notification, Error>> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move {
                Ok(Notification {
                    message_id: format!("msg-{n}"),
                    topic_arn: "topic".into(),
                })
            })
        }
    }

    fn notifier(rules: &[&Rule]) -> (Notifier, Arc<AtomicUsize>) {
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules.iter().copied());
        let ledger = Ledger::new(
            client.config().clone(),
            LedgerSettings {
                table: "notices".into(),
                retention: Duration::from_secs(86_400),
                started_by: "invocation",
            },
        );
        let count = Arc::new(AtomicUsize::new(0));
        let notifier = Notifier::new(Counting(count.clone())).with_ledger(Arc::new(ledger));
        (notifier, count)
    }

    fn failed() -> PollOutput {
        let mut out = PollOutput::new(JobInfo::sample("d", "j"), 4);
        out.status = Status::Failed;
        out.done = true;
        out
    }

    /// A failed job's output after `notifier` told it.
    async fn notified(notifier: &Notifier) -> PollOutput {
        let mut out = failed();
        notifier
            .notify(&mut out, Duration::from_secs(30))
            .await
            .expect("notified");
        out
    }

    #[tokio::test]
    async fn a_run_items_record_that_fails_fails_the_poll_so_it_is_retried() {
        let refused = mock!(aws_sdk_dynamodb::Client::put_item).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(500).expect("a status"),
                aws_smithy_types::body::SdkBody::from(
                    r#"{"__type":"com.amazonaws.dynamodb#InternalServerError","message":"down"}"#,
                ),
            )
        });
        let recorded = mock!(aws_sdk_dynamodb::Client::put_item)
            .then_output(|| PutItemOutput::builder().build());
        let key = "cd".repeat(32);
        let mut out = failed();
        out.job = JobInfo::sample("d", &format!("run-{key}-3"));
        let item = RunItem::of(&out.job.snapshot_job_id).expect("a run item");

        let (down, _) = notifier(&[&refused]);
        let err = down
            .record_run_item(&out, item, Duration::from_secs(5))
            .await
            .expect_err("not recorded");
        assert_eq!(err.error_type(), "NotificationFailed");
        assert!(err.is_retryable());
        let (up, published) = notifier(&[&recorded]);
        up.record_run_item(&out, item, Duration::from_secs(5))
            .await
            .expect("recorded");
        assert_eq!(recorded.num_calls(), 1);
        assert_eq!(
            published.load(Ordering::SeqCst),
            0,
            "a record is not a notice"
        );
    }

    fn claim_taken() -> Rule {
        mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        })
    }

    fn item_found(fields: &'static [(&'static str, &'static str)]) -> Rule {
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
            let mut item = std::collections::HashMap::new();
            for (name, value) in fields {
                let value = if *name == "claimedUntil" {
                    AttributeValue::N((*value).into())
                } else {
                    AttributeValue::S((*value).into())
                };
                item.insert((*name).to_owned(), value);
            }
            GetItemOutput::builder().set_item(Some(item)).build()
        })
    }

    #[tokio::test]
    async fn a_claimed_outcome_is_published_once_and_recorded_with_its_message_id() {
        let put = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(|r| {
                r.condition_expression()
                    .is_some_and(|c| c.contains("attribute_not_exists(pk)"))
            })
            .then_output(|| PutItemOutput::builder().build());
        let update = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|r| {
                r.expression_attribute_values()
                    .and_then(|v| v.get(":id"))
                    .is_some_and(|id| id.as_s().is_ok_and(|id| id == "msg-1"))
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let (notifier, published) = notifier(&[&put, &update]);
        let out = notified(&notifier).await;
        assert_eq!(published.load(Ordering::SeqCst), 1);
        assert_eq!(update.num_calls(), 1, "the message id is recorded");
        assert_eq!(out.notification.unwrap().message_id, "msg-1");
    }

    #[tokio::test]
    async fn an_outcome_told_before_is_not_published_again_and_carries_the_first_notice() {
        let (notifier, published) = notifier(&[
            &claim_taken(),
            &item_found(&[("messageId", "first"), ("topicArn", "t")]),
        ]);
        let out = notified(&notifier).await;
        assert_eq!(published.load(Ordering::SeqCst), 0);
        assert_eq!(out.notification.unwrap().message_id, "first");
    }

    #[tokio::test]
    async fn a_refusal_that_carries_the_item_met_needs_no_second_read() {
        let refused_with_item = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .item("messageId", AttributeValue::S("first".into()))
                    .build(),
            )
        });
        let read = item_found(&[("messageId", "from-a-read")]);
        let (notifier, published) = notifier(&[&refused_with_item, &read]);
        let out = notified(&notifier).await;
        assert_eq!(published.load(Ordering::SeqCst), 0);
        assert_eq!(read.num_calls(), 0);
        assert_eq!(out.notification.unwrap().message_id, "first");
    }

    #[tokio::test]
    async fn an_outcome_being_told_elsewhere_fails_so_the_poll_runs_again() {
        let (notifier, published) = notifier(&[
            &claim_taken(),
            &item_found(&[("claimedUntil", "99999999999")]),
        ]);
        let err = notifier
            .notify(&mut failed(), Duration::from_secs(30))
            .await
            .unwrap_err();
        assert_eq!(published.load(Ordering::SeqCst), 0);
        assert_eq!(err.error_type(), "NotificationFailed");
        assert!(err.to_string().contains("DynamoDB table notices"), "{err}");
    }

    #[tokio::test]
    async fn a_ledger_that_cannot_answer_does_not_stop_the_notice() {
        let down = mock!(aws_sdk_dynamodb::Client::put_item).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(500).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    r#"{"__type":"InternalServerError","message":"down"}"#,
                ),
            )
        });
        let (notifier, published) = notifier(&[&down]);
        let out = notified(&notifier).await;
        assert_eq!(published.load(Ordering::SeqCst), 1);
        assert!(out.notification.is_some());
    }

    #[test]
    fn in_progress_is_never_notified_and_clean_success_only_on_request() {
        let job = JobInfo::sample("d", "j");
        let mut out = PollOutput::new(job, 1);
        out.error = Some(crate::contract::ErrorDetail {
            kind: "DASHBOARD_ACCESS_DENIED".into(),
            message: "lost access".into(),
        });
        assert!(!should_notify(&out, true));
        out.status = Status::Succeeded;
        out.error = None;
        assert!(!should_notify(&out, false));
        assert!(should_notify(&out, true));
        out.status = Status::TimedOut;
        assert!(should_notify(&out, false));
    }
}
