//! Telling people how a job ended: which outcomes deserve a notice, the [`Notice`] built once
//! from the output, and the [`Channel`] that delivers it (SNS today, [`SnsChannel`]).
//!
//! A new channel is a module here implementing [`Channel`], its setting in `settings.rs`, and
//! its construction in `setup.rs`; nothing else knows which channel is in use.

mod message;
mod sns;

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::timeout;

pub use message::Notice;
pub use sns::SnsChannel;

use crate::contract::{Notification, PollOutput, Status};
use crate::error::Error;
use crate::presign::Presigner;

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
/// [`Presigner`] is set, within the time the invocation has left.
pub struct Notifier {
    channel: Box<dyn Channel>,
    presigner: Option<Presigner>,
}

impl Notifier {
    /// Notices through `channel`, without download links.
    pub fn new(channel: impl Channel + 'static) -> Self {
        Notifier {
            channel: Box::new(channel),
            presigner: None,
        }
    }

    /// Signs a download link for each `s3://` result of a notice.
    pub fn with_presigner(mut self, presigner: Presigner) -> Self {
        self.presigner = Some(presigner);
        self
    }

    /// Publishes the notice for `output` within `left`, and records it in the output.
    pub async fn notify(&self, output: &mut PollOutput, left: Duration) -> Result<(), Error> {
        let started = tokio::time::Instant::now();
        // Links are a courtesy: they may take a quarter of the time (a second at most), and
        // without them the notice still goes.
        let links = match &self.presigner {
            Some(presigner) if output.results.iter().any(|f| f.s3_uri.is_some()) => {
                let budget = (left / 4).min(Duration::from_secs(1));
                timeout(budget, presigner.links(output))
                    .await
                    .unwrap_or_else(|_| {
                        tracing::warn!(
                            "download links not signed in time; the notice goes without them"
                        );
                        Vec::new()
                    })
            }
            _ => Vec::new(),
        };
        let notice = Notice::of(output, links);
        let left = left.saturating_sub(started.elapsed());
        let notification = timeout(left, self.channel.publish(&notice))
            .await
            .map_err(|_| Error::NotificationFailed {
                destination: self.channel.destination(),
                message: crate::text::no_answer_before_deadline(left),
            })??;
        output.notification = Some(notification);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::JobInfo;

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
