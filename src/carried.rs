//! What a wait loop carries from one poll to the next inside the poller's own output, so that
//! every loop ends: where the job came from (only a job the loop started gets the not-found
//! grace), when a poll first saw it and its CreatedTime (a deadline even without CreatedTime),
//! and how many batch rounds in a row its poll failed (escalated after a bound).

use std::time::SystemTime;

use aws_sdk_quicksight::primitives::{DateTime, DateTimeFormat};
use serde_json::{Map, Value};

use crate::contract::JobOrigin;
use crate::error::Error;
use crate::text::quote;

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
    /// Reads the loop state out of a previous output (`object`), naming fields after `prefix`.
    pub fn read(object: &Map<String, Value>, prefix: &str) -> Result<Carried, Error> {
        let error_streak = match object.get("errorStreak") {
            None | Some(Value::Null) => 0,
            Some(value) => value
                .as_u64()
                .filter(|n| *n <= u64::from(u32::MAX))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "{prefix}errorStreak must be a whole number, got {}",
                        crate::text::truncate(&value.to_string(), 40)
                    ))
                })? as u32,
        };
        Ok(Carried {
            created: time(object, "createdTime", prefix)?,
            first_seen: time(object, "firstSeenTime", prefix)?,
            error_streak,
        })
    }

    /// The start of the job's deadline: its CreatedTime, else the first poll that saw it.
    pub fn deadline_start(&self) -> Option<SystemTime> {
        self.created.or(self.first_seen)
    }
}

/// Whether a previous output's job was started by the loop itself. Outputs of builds that did
/// not write `origin` keep the old rule: a job no poll has seen yet counts as just started.
pub fn started_by_loop(
    object: &Map<String, Value>,
    unseen: bool,
    prefix: &str,
) -> Result<bool, Error> {
    match object.get("origin") {
        None | Some(Value::Null) => Ok(unseen),
        Some(Value::String(origin)) if origin == JobOrigin::Started.as_str() => Ok(true),
        Some(Value::String(origin)) if origin == JobOrigin::Named.as_str() => Ok(false),
        Some(other) => Err(Error::invalid(format!(
            "{prefix}origin must be STARTED or NAMED, got {}",
            crate::text::truncate(&other.to_string(), 40)
        ))),
    }
}

fn time(
    object: &Map<String, Value>,
    name: &str,
    prefix: &str,
) -> Result<Option<SystemTime>, Error> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => DateTime::from_str(text, DateTimeFormat::DateTime)
            .ok()
            .and_then(|t| SystemTime::try_from(t).ok())
            .map(Some)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{prefix}{name} must be an RFC 3339 time, got {}",
                    quote(text)
                ))
            }),
        Some(other) => Err(Error::invalid(format!(
            "{prefix}{name} must be an RFC 3339 time, got {}",
            crate::text::truncate(&other.to_string(), 40)
        ))),
    }
}

/// RFC 3339, as the contract writes times.
pub fn rfc3339(time: SystemTime) -> Option<String> {
    DateTime::from(time).fmt(DateTimeFormat::DateTime).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn loop_state_round_trips_through_the_output() {
        let seen = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let carried = Carried::read(
            &object(json!({"firstSeenTime": rfc3339(seen), "createdTime": null, "errorStreak": 3})),
            "",
        )
        .expect("valid");
        assert_eq!(carried.first_seen, Some(seen));
        assert_eq!(carried.deadline_start(), Some(seen));
        assert_eq!(carried.error_streak, 3);
    }

    #[test]
    fn older_outputs_carry_nothing_and_keep_the_old_grace_rule() {
        assert_eq!(
            Carried::read(&object(json!({})), "").unwrap(),
            Carried::default()
        );
        assert!(started_by_loop(&object(json!({})), true, "").unwrap());
        assert!(!started_by_loop(&object(json!({"origin": "NAMED"})), true, "").unwrap());
        assert!(started_by_loop(&object(json!({"origin": "STARTED"})), false, "").unwrap());
    }

    #[test]
    fn bad_loop_state_is_refused_naming_the_field() {
        let err =
            Carried::read(&object(json!({"firstSeenTime": "yesterday"})), "jobs[2].").unwrap_err();
        assert!(err.to_string().contains("jobs[2].firstSeenTime"), "{err}");
        let err = started_by_loop(&object(json!({"origin": "ELSEWHERE"})), true, "").unwrap_err();
        assert!(
            err.to_string().contains("origin must be STARTED or NAMED"),
            "{err}"
        );
    }
}
