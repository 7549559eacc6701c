//! The one error type of the poller, and the stable `errorType` names a state machine matches on.

use lambda_runtime::Diagnostic;

/// Every way an invocation can fail. Each variant maps to one stable PascalCase `errorType`
/// (see [`Error::error_type`]); Step Functions' Retry/Catch and the README list these names,
/// so they must never change with a refactor or a Rust type rename.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event is not a job reference the poller understands. Not retryable.
    #[error("{0}")]
    InvalidJobReference(String),

    /// QuickSight kept throttling after the SDK's own retries. Retryable.
    #[error("QuickSight throttled {operation}: {message}")]
    QuickSightThrottled {
        operation: &'static str,
        message: String,
    },

    /// QuickSight failed, timed out or could not be reached after the SDK's own retries. Retryable.
    #[error("QuickSight {operation} unavailable: {message}")]
    QuickSightUnavailable {
        operation: &'static str,
        message: String,
    },

    /// The notification could not be published; failing the invocation makes the poll run again,
    /// so the notice is retried rather than lost. Retryable.
    #[error("could not publish to SNS topic {topic_arn}: {message}")]
    NotificationFailed { topic_arn: String, message: String },

    /// The function's own settings are wrong; raised at cold start, before any event.
    #[error("invalid configuration: {0}")]
    InvalidConfiguration(String),
}

impl Error {
    /// The stable name a state machine's Retry/Catch `ErrorEquals` uses.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::InvalidJobReference(_) => "InvalidJobReference",
            Error::QuickSightThrottled { .. } => "QuickSightThrottled",
            Error::QuickSightUnavailable { .. } => "QuickSightUnavailable",
            Error::NotificationFailed { .. } => "NotificationFailed",
            Error::InvalidConfiguration(_) => "InvalidConfiguration",
        }
    }

    /// Whether running the same poll again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::QuickSightThrottled { .. }
                | Error::QuickSightUnavailable { .. }
                | Error::NotificationFailed { .. }
        )
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidJobReference(message.into())
    }
}

/// A short, single-line account of a failed AWS call: the service's code and message when it
/// answered, else what went wrong on the way. The SDK's own Display of a failure carries the
/// whole raw response, which would bloat errorMessage and a state machine's failure cause.
pub(crate) fn describe_sdk_error<E>(err: &aws_sdk_quicksight::error::SdkError<E>) -> String
where
    E: aws_sdk_quicksight::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_quicksight::error::SdkError;
    const MAX: usize = 300;
    let text = match err {
        SdkError::ServiceError(context) => {
            let service = context.err();
            match (service.code(), service.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                // No error code: the answer itself could not be understood (a garbled body, a
                // missing field). Say so, with its HTTP status and why it did not parse.
                _ => {
                    let status = context.raw().status().as_u16();
                    let why = causes(service);
                    format!("unrecognized answer (HTTP {status}): {why}")
                }
            }
        }
        SdkError::TimeoutError(_) => "the call timed out".to_owned(),
        SdkError::DispatchFailure(failure) => {
            let source = causes(err);
            if failure.is_timeout() {
                format!("timed out connecting: {source}")
            } else {
                format!("could not send the request: {source}")
            }
        }
        SdkError::ResponseError(_) => "the response could not be read".to_owned(),
        SdkError::ConstructionFailure(_) => "the request could not be built".to_owned(),
        _ => "the call failed".to_owned(),
    };
    let text = text.replace(['\n', '\r'], " ");
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// An error's causes, each level's Display only: "io error: client error (Connect): ...".
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut causes = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next.filter(|_| causes.len() < 4) {
        causes.push(cause.to_string());
        next = cause.source();
    }
    causes.join(": ")
}

impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_carries_the_stable_error_type_not_the_rust_type_name() {
        let diagnostic: Diagnostic = Error::QuickSightThrottled {
            operation: "DescribeDashboardSnapshotJob",
            message: "Rate exceeded".into(),
        }
        .into();
        assert_eq!(diagnostic.error_type, "QuickSightThrottled");
        assert_eq!(
            diagnostic.error_message,
            "QuickSight throttled DescribeDashboardSnapshotJob: Rate exceeded"
        );
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        assert!(!Error::invalid("x").is_retryable());
        assert!(!Error::InvalidConfiguration("x".into()).is_retryable());
        assert!(Error::NotificationFailed {
            topic_arn: "t".into(),
            message: "m".into()
        }
        .is_retryable());
        assert!(Error::QuickSightUnavailable {
            operation: "o",
            message: "m".into()
        }
        .is_retryable());
    }
}
