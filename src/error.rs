//! The one error type of the poller, and the stable `errorType` names a state machine matches on.

use lambda_runtime::Diagnostic;

use crate::error_types;

use crate::text::{truncate, truncate_bytes, ERROR_MESSAGE_MAX};

/// Every way an invocation can fail. Each variant maps to one stable PascalCase `errorType`
/// (see [`Error::error_type`]); Step Functions' Retry/Catch, the README and docs/contract.md list these names,
/// so they must never change with a refactor or a Rust type rename.
#[derive(thiserror::Error)]
pub enum Error {
    /// The event is not a job reference the poller understands. Not retryable.
    #[error("{0}")]
    InvalidJobReference(String),

    /// QuickSight kept throttling after the SDK's own retries. Retryable.
    #[error("QuickSight throttled {operation}: {message}")]
    QuickSightThrottled {
        /// The QuickSight operation.
        operation: &'static str,
        /// The service's code and message, bounded.
        message: String,
    },

    /// QuickSight failed, timed out or could not be reached after the SDK's own retries. Retryable.
    #[error("QuickSight {operation} unavailable: {message}")]
    QuickSightUnavailable {
        /// The QuickSight operation.
        operation: &'static str,
        /// What went wrong, bounded.
        message: String,
    },

    /// The notification could not be published; failing the invocation makes the poll run again,
    /// so the notice is retried rather than lost. Retryable.
    #[error("could not publish to {destination}: {message}")]
    NotificationFailed {
        /// Where the notice was going, e.g. "SNS topic arn:...".
        destination: String,
        /// What went wrong, bounded.
        message: String,
    },

    /// The channel refused the notice in a way no retry changes (an SNS topic or its KMS key
    /// gone, disabled or forbidden). Not retryable: the invocation fails so the state
    /// machine's Catch reports it.
    #[error("{destination} refused the notice: {message}")]
    NotificationRejected {
        /// Where the notice was going, e.g. "SNS topic arn:...".
        destination: String,
        /// The channel's refusal, bounded.
        message: String,
    },

    /// The function's own AWS credentials are missing, expired or rejected (or its clock is
    /// skewed): an operational problem, not the job's. Retryable: a new execution environment
    /// gets fresh credentials.
    #[error("AWS credentials {problem} ({service} {operation}): {message}")]
    CredentialsError {
        /// The service called (QuickSight, SNS).
        service: &'static str,
        /// The operation called.
        operation: &'static str,
        /// Missing or rejected.
        problem: CredentialsProblem,
        /// What to do, or the service's refusal.
        message: String,
    },

    /// STS refused to let the function assume the job's `roleArn` (the role does not trust it,
    /// a wrong external id, a malformed identity context). Not retryable: the same request
    /// would be refused again.
    #[error("STS refused to assume {role_arn}: {message}")]
    RoleRefused {
        /// The role asked for.
        role_arn: String,
        /// STS's refusal, bounded (it never quotes the identity context).
        message: String,
    },

    /// QuickSight would not give a named user's identity context (`GetIdentityContext`): an
    /// unknown user or namespace, a user it issues no context for, or a function not allowed
    /// to ask. Not retryable: the same reference would be refused again.
    #[error("QuickSight refused the identity context of {user}: {message}")]
    IdentityRefused {
        /// The user as the reference named it.
        user: String,
        /// QuickSight's refusal, bounded.
        message: String,
    },

    /// STS was throttled or unavailable when the function assumed the job's `roleArn`.
    /// Retryable.
    #[error("could not assume {role_arn}: {message}")]
    RoleUnavailable {
        /// The role asked for.
        role_arn: String,
        /// What went wrong, bounded.
        message: String,
    },

    /// The next poll of a `"loop": "scheduler"` chain could not be scheduled. Retryable: the
    /// invocation fails, so Lambda's retries poll and schedule again, and its on-failure
    /// destination tells people if they cannot.
    #[error("could not schedule the next poll: {message}")]
    SchedulingFailed {
        /// Scheduler's refusal or what went wrong on the way, bounded.
        message: String,
    },

    /// A reports run's manifest cannot be read as reports: not a JSON array of objects nor CSV
    /// with a header row, more reports than the run may have, or not there. Not retryable: the
    /// same manifest is refused again.
    #[error("{0}")]
    InvalidManifest(String),

    /// The answer is larger than `MAX_OUTPUT_BYTES`, more than a state machine can pass on.
    /// Not retryable: the same jobs would answer the same.
    #[error("the answer is {bytes} bytes, more than MAX_OUTPUT_BYTES ({max}); poll fewer jobs per batch")]
    OutputTooLarge {
        /// The answer's size.
        bytes: usize,
        /// `MAX_OUTPUT_BYTES`.
        max: usize,
    },

    /// The function's own settings are wrong; raised at cold start, before any event.
    #[error("invalid configuration: {0}")]
    InvalidConfiguration(String),
}

/// Every `errorType` an invocation can fail with (and `InvalidConfiguration`, at cold start).
pub const ERROR_TYPES: [&str; 13] = {
    let mut names = [""; 13];
    let mut i = 0;
    while i < names.len() {
        names[i] = error_types::ALL[i].name;
        i += 1;
    }
    names
};

impl Error {
    /// This error's row of the errorType table.
    pub fn kind(&self) -> &'static error_types::ErrorType {
        use error_types as t;
        match self {
            Error::InvalidJobReference(_) => &t::INVALID_JOB_REFERENCE,
            Error::QuickSightThrottled { .. } => &t::QUICKSIGHT_THROTTLED,
            Error::QuickSightUnavailable { .. } => &t::QUICKSIGHT_UNAVAILABLE,
            Error::NotificationFailed { .. } => &t::NOTIFICATION_FAILED,
            Error::NotificationRejected { .. } => &t::NOTIFICATION_REJECTED,
            Error::CredentialsError { .. } => &t::CREDENTIALS_ERROR,
            Error::RoleRefused { .. } => &t::ROLE_REFUSED,
            Error::RoleUnavailable { .. } => &t::ROLE_UNAVAILABLE,
            Error::IdentityRefused { .. } => &t::IDENTITY_REFUSED,
            Error::SchedulingFailed { .. } => &t::SCHEDULING_FAILED,
            Error::InvalidManifest(_) => &t::INVALID_MANIFEST,
            Error::OutputTooLarge { .. } => &t::OUTPUT_TOO_LARGE,
            Error::InvalidConfiguration(_) => &t::INVALID_CONFIGURATION,
        }
    }

    /// The stable name a state machine's Retry/Catch `ErrorEquals` uses.
    pub fn error_type(&self) -> &'static str {
        self.kind().name
    }

    /// Whether running the same poll again later can succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind().retryable
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidJobReference(message.into())
    }
}

/// Why the function's own credentials did not get a call through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsProblem {
    /// None could be loaded (no environment variables, profile, role, ...).
    Missing,
    /// The service refused them: expired, unknown, or a signature it could not verify.
    Rejected,
}

impl std::fmt::Display for CredentialsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CredentialsProblem::Missing => "missing",
            CredentialsProblem::Rejected => "rejected",
        })
    }
}

impl Error {
    /// The message as it leaves the function (errorMessage, log): at most
    /// [`ERROR_MESSAGE_MAX`] characters, whatever the input quoted in it.
    pub fn message(&self) -> String {
        let text = self.to_string();
        truncate_bytes(&truncate(&text, ERROR_MESSAGE_MAX), ERROR_MESSAGE_MAX).into_owned()
    }
}

/// The runtime logs a handler's error with `{:?}`: the bounded message, not the variant's
/// fields, so a huge input cannot make a huge log line.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type(), self.message())
    }
}

impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.message(),
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
    fn every_error_type_is_listed_once() {
        let text = || String::from("x");
        let all = [
            Error::InvalidJobReference(text()),
            Error::QuickSightThrottled {
                operation: "o",
                message: text(),
            },
            Error::QuickSightUnavailable {
                operation: "o",
                message: text(),
            },
            Error::NotificationFailed {
                destination: text(),
                message: text(),
            },
            Error::NotificationRejected {
                destination: text(),
                message: text(),
            },
            Error::CredentialsError {
                service: "s",
                operation: "o",
                problem: CredentialsProblem::Missing,
                message: text(),
            },
            Error::RoleRefused {
                role_arn: text(),
                message: text(),
            },
            Error::RoleUnavailable {
                role_arn: text(),
                message: text(),
            },
            Error::IdentityRefused {
                user: text(),
                message: text(),
            },
            Error::SchedulingFailed { message: text() },
            Error::InvalidManifest(text()),
            Error::OutputTooLarge { bytes: 2, max: 1 },
            Error::InvalidConfiguration(text()),
        ];
        let names: Vec<&str> = all.iter().map(Error::error_type).collect();
        assert_eq!(names, ERROR_TYPES);

        // statemachine/error-types.json is what the definition tests match Retry/Catch against.
        let listed: Vec<serde_json::Value> = all
            .iter()
            .map(|err| {
                let raised_at = if err.kind().at_cold_start {
                    "coldStart"
                } else {
                    "invocation"
                };
                serde_json::json!({
                    "errorType": err.error_type(),
                    "retryable": err.is_retryable(),
                    "raisedAt": raised_at,
                })
            })
            .collect();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/statemachine/error-types.json");
        let mut file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        if std::env::var_os("UPDATE_ERROR_TYPES").is_some() {
            file["errorTypes"] = listed.into();
            std::fs::write(path, serde_json::to_string_pretty(&file).unwrap() + "\n").unwrap();
            return;
        }
        assert_eq!(
            file["errorTypes"],
            serde_json::Value::from(listed),
            "statemachine/error-types.json is stale: run UPDATE_ERROR_TYPES=1 cargo test"
        );
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        assert!(!Error::invalid("x").is_retryable());
        assert!(!Error::InvalidConfiguration("x".into()).is_retryable());
        assert!(Error::NotificationFailed {
            destination: "t".into(),
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
