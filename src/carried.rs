//! What a wait loop carries from one poll to the next inside the poller's own output, so that
//! every loop ends: when a poll first saw the job and its CreatedTime (a deadline even without
//! CreatedTime), and how many batch rounds in a row its poll failed (escalated after a bound).
//! Where the job came from travels as the request's `origin`.

use std::time::SystemTime;

use aws_sdk_quicksight::primitives::{DateTime, DateTimeFormat};

use crate::contract::PassedBack;

/// The loop state read from a previous output. All default to "nothing known" for outputs of
/// builds that did not write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Carried {
    /// `createdTime`: QuickSight's CreatedTime, as a previous poll saw it.
    pub created: Option<SystemTime>,
    /// `firstSeenTime`: when a poll first saw the job described.
    pub first_seen: Option<SystemTime>,
    /// `errorStreak`: consecutive batch rounds whose poll of this job raised a retryable error.
    pub error_streak: u32,
}

impl Carried {
    /// The loop state a previous output carries.
    pub fn of(previous: &PassedBack) -> Carried {
        Carried {
            created: previous.created_time.map(|t| t.0),
            first_seen: previous.first_seen_time.map(|t| t.0),
            error_streak: previous.error_streak.unwrap_or(0),
        }
    }

    /// The start of the job's deadline: its CreatedTime, else the first poll that saw it.
    pub fn deadline_start(&self) -> Option<SystemTime> {
        self.created.or(self.first_seen)
    }
}

/// RFC 3339, as the contract writes times.
pub fn rfc3339(time: SystemTime) -> Option<String> {
    DateTime::from(time).fmt(DateTimeFormat::DateTime).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};
    use std::time::Duration;

    fn passed_back(extra: Value) -> PassedBack {
        let mut object: Map<String, Value> = json!({
            "status": "IN_PROGRESS",
            "job": {"region": "us-east-1", "awsAccountId": "123456789012",
                    "dashboardId": "d", "snapshotJobId": "j"},
        })
        .as_object()
        .cloned()
        .expect("an object");
        object.extend(extra.as_object().cloned().expect("an object"));
        PassedBack::read(&object, "").expect("valid")
    }

    #[test]
    fn loop_state_round_trips_through_the_output() {
        let seen = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let carried = Carried::of(&passed_back(
            json!({"firstSeenTime": rfc3339(seen), "createdTime": null, "errorStreak": 3}),
        ));
        assert_eq!(carried.first_seen, Some(seen));
        assert_eq!(carried.deadline_start(), Some(seen));
        assert_eq!(carried.error_streak, 3);
    }

    #[test]
    fn older_outputs_carry_nothing() {
        assert_eq!(Carried::of(&passed_back(json!({}))), Carried::default());
    }
}
