//! Every `errorType`, written once: its stable name (what a state machine's Retry and Catch
//! match), whether running the same poll again can succeed, and what it means. [`crate::Error`]
//! maps each variant to its row; `statemachine/error-types.json`, the metrics catalogue and the
//! README's table are checked against this table.

/// One `errorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorType {
    /// The stable PascalCase name; never changes with a refactor.
    pub name: &'static str,
    /// Whether running the same poll again later can succeed.
    pub retryable: bool,
    /// When it is raised, in one line (the README's table says the same).
    pub meaning: &'static str,
    /// Raised before any event (the process exits) rather than by an invocation.
    pub at_cold_start: bool,
}

const fn row(name: &'static str, retryable: bool, meaning: &'static str) -> ErrorType {
    ErrorType {
        name,
        retryable,
        meaning,
        at_cold_start: false,
    }
}

pub const INVALID_JOB_REFERENCE: ErrorType = row(
    "InvalidJobReference",
    false,
    "the input is not a usable job reference (the message names the field), or is outside the allow-lists",
);
pub const QUICKSIGHT_THROTTLED: ErrorType = row(
    "QuickSightThrottled",
    true,
    "QuickSight throttled after the SDK's retries",
);
pub const QUICKSIGHT_UNAVAILABLE: ErrorType = row(
    "QuickSightUnavailable",
    true,
    "QuickSight failed, timed out or answered something garbled",
);
pub const NOTIFICATION_FAILED: ErrorType = row(
    "NotificationFailed",
    true,
    "SNS `Publish` or EventBridge `PutEvents` failed on the way (an event EventBridge did not take counts), or another invocation is sending the same outcome right now; the poll runs again, and what was already told is not told again",
);
pub const NOTIFICATION_REJECTED: ErrorType = row(
    "NotificationRejected",
    false,
    "SNS or EventBridge refused the notice or the event for good (topic, bus or key gone or forbidden)",
);
pub const CREDENTIALS_ERROR: ErrorType = row(
    "CredentialsError",
    true,
    "the function's own credentials are missing, expired or rejected",
);
pub const ROLE_REFUSED: ErrorType = row(
    "RoleRefused",
    false,
    "STS refused the job's `roleArn` (trust, external id, a caller's expired token)",
);
pub const ROLE_UNAVAILABLE: ErrorType =
    row("RoleUnavailable", true, "STS throttled or unavailable");
pub const IDENTITY_REFUSED: ErrorType = row(
    "IdentityRefused",
    false,
    "QuickSight would not give a named user's identity context",
);
pub const SCHEDULING_FAILED: ErrorType = row(
    "SchedulingFailed",
    true,
    "a poll chain's next poll could not be scheduled",
);
pub const INVALID_MANIFEST: ErrorType = row(
    "InvalidManifest",
    false,
    "a reports run's manifest is missing, unreadable, not a JSON array or CSV of requests, or over `REPORT_MAX_ITEMS` (the message says which)",
);
pub const OUTPUT_TOO_LARGE: ErrorType = row(
    "OutputTooLarge",
    false,
    "the answer is over `MAX_OUTPUT_BYTES` (a batch too big)",
);
pub const INVALID_CONFIGURATION: ErrorType = ErrorType {
    at_cold_start: true,
    ..row(
        "InvalidConfiguration",
        false,
        "a setting is wrong; raised at cold start",
    )
};

/// Every errorType, in the order the README lists them.
pub const ALL: [ErrorType; 13] = [
    INVALID_JOB_REFERENCE,
    QUICKSIGHT_THROTTLED,
    QUICKSIGHT_UNAVAILABLE,
    NOTIFICATION_FAILED,
    NOTIFICATION_REJECTED,
    CREDENTIALS_ERROR,
    ROLE_REFUSED,
    ROLE_UNAVAILABLE,
    IDENTITY_REFUSED,
    SCHEDULING_FAILED,
    INVALID_MANIFEST,
    OUTPUT_TOO_LARGE,
    INVALID_CONFIGURATION,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_table_is_this_table() {
        let readme = include_str!("../README.md");
        let table = readme
            .split("| errorType | retried | when |")
            .nth(1)
            .expect("README has the errorType table");
        let rows: Vec<String> = table
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with("| `"))
            .map(str::to_owned)
            .collect();
        let expected: Vec<String> = ALL
            .iter()
            .map(|e| {
                let retried = if e.retryable { "yes" } else { "no" };
                format!("| `{}` | {retried} | {} |", e.name, e.meaning)
            })
            .collect();
        assert_eq!(
            rows, expected,
            "README's errorType table differs from src/error_types.rs"
        );
    }

    #[test]
    fn names_are_unique_pascal_case() {
        for (i, e) in ALL.iter().enumerate() {
            assert!(
                e.name.starts_with(|c: char| c.is_ascii_uppercase()),
                "{}",
                e.name
            );
            assert!(
                e.name.chars().all(|c| c.is_ascii_alphanumeric()),
                "{}",
                e.name
            );
            assert!(
                ALL[..i].iter().all(|other| other.name != e.name),
                "{}",
                e.name
            );
        }
    }
}
