//! A wait loop passes the poller's output straight back as the next poll's input. This is what
//! the next poll reads of it, typed as the output writes it. Outputs of earlier builds lack some
//! fields: a missing field (or null) reads as "nothing known", as docs/contract.md promises.

use std::fmt;
use std::time::SystemTime;

use aws_sdk_quicksight::primitives::{DateTime, DateTimeFormat};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::{JobOrigin, Status};

/// The fields of a [`super::PollOutput`] the next poll reads back (`label` and `caller` are
/// read as every input's are).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassedBack {
    /// The status the previous poll answered.
    pub status: Status,
    /// The job it polled.
    pub job: JobKey,
    /// QuickSight's JobStatus as the previous poll saw it; null when it did not describe it.
    #[serde(default)]
    pub job_status: Option<String>,
    /// The previous poll's attempt (1 when missing).
    #[serde(default)]
    pub attempt: Option<std::num::NonZeroU32>,
    /// Where the job came from; outputs of earlier builds did not say.
    #[serde(default)]
    pub origin: Option<JobOrigin>,
    /// QuickSight's CreatedTime, as a previous poll saw it.
    #[serde(default)]
    pub created_time: Option<Time>,
    /// When a poll first saw the job described.
    #[serde(default)]
    pub first_seen_time: Option<Time>,
    /// Consecutive batch rounds whose poll of this job failed.
    #[serde(default)]
    pub error_streak: Option<u32>,
}

/// The job of an output, by the ids the output names it with (its ARN and partition follow
/// from them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobKey {
    /// Its region.
    pub region: String,
    /// The account that owns the dashboard.
    pub aws_account_id: String,
    /// The dashboard exported.
    pub dashboard_id: String,
    /// The snapshot job's id.
    pub snapshot_job_id: String,
}

/// A time as the contract writes it: RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub SystemTime);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Rfc3339;
        impl Visitor<'_> for Rfc3339 {
            type Value = Time;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 time")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Time, E> {
                DateTime::from_str(text, DateTimeFormat::DateTime)
                    .ok()
                    .and_then(|t| SystemTime::try_from(t).ok())
                    .map(Time)
                    .ok_or_else(|| {
                        E::custom(format!(
                            "must be an RFC 3339 time, got {}",
                            crate::text::quote(text)
                        ))
                    })
            }
        }
        deserializer.deserialize_str(Rfc3339)
    }
}

impl PassedBack {
    /// Reads `object` (a previous output), naming the field that is wrong, after `prefix`.
    pub fn read(
        object: &serde_json::Map<String, serde_json::Value>,
        prefix: &str,
    ) -> Result<Self, crate::error::Error> {
        serde_path_to_error::deserialize(object).map_err(|err| {
            let path = err.path().to_string();
            let inner = crate::text::truncate(&err.inner().to_string(), 200).into_owned();
            crate::error::Error::invalid(if path == "." {
                format!("{prefix}: the previous output {inner}")
            } else {
                format!("{prefix}{path}: {inner}")
            })
        })
    }

    /// Whether no poll had seen the job yet: IN_PROGRESS without a JobStatus.
    pub fn unseen(&self) -> bool {
        self.status == Status::InProgress && self.job_status.is_none()
    }

    /// The job's origin; outputs of builds that did not write one keep the old rule: a job no
    /// poll has seen yet counts as just started.
    pub fn origin(&self) -> JobOrigin {
        self.origin.unwrap_or(if self.unseen() {
            JobOrigin::Started
        } else {
            JobOrigin::Named
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    fn job() -> Value {
        json!({"region": "us-east-1", "awsAccountId": "123456789012",
               "dashboardId": "d", "snapshotJobId": "j"})
    }

    #[test]
    fn an_earlier_builds_output_reads_as_nothing_known() {
        let old = PassedBack::read(&object(json!({"status": "IN_PROGRESS", "job": job()})), "")
            .expect("valid");
        assert_eq!(old.attempt, None);
        assert_eq!(old.error_streak, None);
        assert_eq!(old.first_seen_time, None);
        assert!(old.unseen());
        assert_eq!(old.origin(), JobOrigin::Started, "unseen: just started");
        let seen = PassedBack::read(
            &object(
                json!({"status": "IN_PROGRESS", "jobStatus": "RUNNING", "job": job(),
                           "createdTime": null}),
            ),
            "",
        )
        .expect("valid");
        assert_eq!(seen.origin(), JobOrigin::Named);
    }

    #[test]
    fn a_wrong_field_is_named_with_its_place_in_the_event() {
        let err = PassedBack::read(
            &object(json!({"status": "IN_PROGRESS", "job": job(), "firstSeenTime": "yesterday"})),
            "jobs[2].",
        )
        .unwrap_err();
        assert_eq!(err.error_type(), "InvalidJobReference");
        let message = err.to_string();
        assert!(message.contains("jobs[2].firstSeenTime"), "{message}");
        assert!(message.contains("RFC 3339"), "{message}");
        let err = PassedBack::read(
            &object(json!({"status": "IN_PROGRESS", "job": job(),
                                                    "origin": "ELSEWHERE"})),
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains("origin"), "{err}");
        assert!(err.to_string().contains("STARTED"), "{err}");
        let err = PassedBack::read(
            &object(json!({"status": "IN_PROGRESS", "job": job(),
                                                    "attempt": 0})),
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains("attempt"), "{err}");
        let err = PassedBack::read(
            &object(json!({"status": "IN_PROGRESS", "job": {"region": "us-east-1"}})),
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains("job"), "{err}");
        assert!(err.to_string().contains("awsAccountId"), "{err}");
    }
}
