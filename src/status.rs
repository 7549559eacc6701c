//! What a poll saw, normalized into the output contract.

use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::contract::{ErrorDetail, PollOutput, Status};
use crate::quicksight::{rfc3339, JobDescription, JobResult, Rejection};
use crate::reference::{PollRequest, NOT_POLLED};

/// The facts one poll gathered from QuickSight.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// ResourceNotFound for a job started moments ago: QuickSight may not show it yet.
    NotVisibleYet,
    /// A batch job the invocation had no time left to describe; polled first next round.
    NotPolled,
    /// QuickSight refused a call in a way no retry will change (AccessDenied, not found, ...).
    Rejected {
        rejection: Rejection,
        description: Option<JobDescription>,
    },
    /// The job is not finished (QUEUED, RUNNING, or a status this build does not know).
    Unfinished(JobDescription),
    /// COMPLETED or FAILED, with what DescribeDashboardSnapshotJobResult reported.
    Finished(JobDescription, JobResult),
    /// Describe said COMPLETED or FAILED moments ago, but the Result call was refused as if the
    /// job were not finished: QuickSight catching up, not a job failure. Polled again soon.
    ResultLagging(JobDescription, Rejection),
}

/// `error.type` of a job whose result lags its terminal status.
pub const RESULT_NOT_READY: &str = "ResultNotReady";

/// QuickSight's ErrorTypes that say "re-run the job with current settings".
const RERUNNABLE: &[&str] = &["RLS_CHANGED", "CLS_CHANGED"];

/// QuickSight's JobStatus as the contract's status. Unknown values keep the loop polling until
/// the deadline instead of ending it on a guess.
pub fn normalize(job_status: &str) -> Status {
    match job_status {
        "COMPLETED" => Status::Succeeded,
        "FAILED" => Status::Failed,
        _ => Status::InProgress,
    }
}

pub fn build_output(
    request: &PollRequest,
    observation: Observation,
    now: SystemTime,
    config: &Config,
) -> PollOutput {
    let mut output = PollOutput::new(request.job.info(), request.attempt());
    let mut age = None;
    let mut describe = |output: &mut PollOutput, description: &JobDescription| {
        output.job_status = Some(description.job_status.clone());
        output.created_time = description.created.as_ref().and_then(rfc3339);
        output.last_updated_time = description.last_updated.as_ref().and_then(rfc3339);
        output.request_id = description.request_id.clone();
        age = description
            .created
            .and_then(|created| SystemTime::try_from(created).ok())
            .map(|created| now.duration_since(created).unwrap_or(Duration::ZERO));
        output.age_seconds = age.map(|a| a.as_secs());
    };

    match observation {
        Observation::NotVisibleYet => {}
        Observation::NotPolled => {
            output.error = Some(ErrorDetail {
                kind: NOT_POLLED.into(),
                message: "not reached before the invocation's deadline; polled first next round"
                    .into(),
            });
        }
        Observation::Rejected {
            rejection,
            description,
        } => {
            if let Some(description) = &description {
                describe(&mut output, description);
            }
            output.request_id = rejection.request_id.or(output.request_id.take());
            output.status = Status::Failed;
            output.error = Some(ErrorDetail {
                kind: rejection.code,
                message: rejection.message,
            });
        }
        Observation::Unfinished(description) => {
            describe(&mut output, &description);
            if age.is_some_and(|age| age > config.job_deadline) {
                output.status = Status::TimedOut;
                output.error = Some(ErrorDetail {
                    kind: "JobDeadlineExceeded".into(),
                    message: format!(
                        "job is still {} after {} s, past the {} s deadline (JOB_DEADLINE_SECONDS)",
                        description.job_status,
                        age.map_or(0, |a| a.as_secs()),
                        config.job_deadline.as_secs()
                    ),
                });
            }
        }
        Observation::Finished(description, result) => {
            describe(&mut output, &description);
            output.status = normalize(&description.job_status);
            output.request_id = result.request_id.or(output.request_id.take());
            output.results = result.files;
            match (output.status, result.error) {
                (Status::Failed, error) => {
                    output.error = Some(error.unwrap_or_else(|| ErrorDetail {
                        kind: "SnapshotJobFailed".into(),
                        message: "QuickSight reported the job FAILED without error details".into(),
                    }));
                }
                // COMPLETED, yet the Result carries an error (CAPABILITY_RESTRICTED,
                // RLS_CHANGED, DATASET_DELETED, ...): without a single file the export did not
                // happen; with some, it partly did, and the error still reaches people.
                (_, Some(error)) => {
                    if !output.results.iter().any(|file| file.s3_uri.is_some()) {
                        output.status = Status::Failed;
                    }
                    output.error = Some(error);
                }
                (_, None) => {}
            }
            output.rerunnable = output
                .error
                .as_ref()
                .is_some_and(|error| RERUNNABLE.contains(&error.kind.as_str()));
        }
        Observation::ResultLagging(description, rejection) => {
            describe(&mut output, &description);
            output.request_id = rejection.request_id.or(output.request_id.take());
            output.error = Some(ErrorDetail {
                kind: RESULT_NOT_READY.into(),
                message: format!(
                    "QuickSight says the job is {} but its result is not readable yet ({}: {}); \
                     polling again",
                    description.job_status, rejection.code, rejection.message
                ),
            });
            // Catching up takes seconds: the shortest wait, whatever the job's age.
            age = None;
        }
    }

    output.done = output.status.is_done();
    output.wait_seconds = if output.done {
        0
    } else {
        config.wait.next_wait(age, config.job_deadline)
    };
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::parse_event;
    use aws_sdk_quicksight::primitives::DateTime;
    use serde_json::json;

    fn config() -> Config {
        Config::from_lookup(|name| match name {
            "SNS_TOPIC_ARN" => Some("arn:aws:sns:us-east-1:123456789012:alerts".into()),
            "JOB_DEADLINE_SECONDS" => Some("600".into()),
            _ => None,
        })
        .expect("valid config")
    }

    fn request() -> PollRequest {
        parse_event(
            &json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "j"}),
            Some("us-east-1"),
        )
        .expect("valid reference")
    }

    const NOW: u64 = 1_800_000_000;

    fn description(status: &str, age_seconds: u64) -> JobDescription {
        JobDescription {
            job_status: status.into(),
            arn: None,
            created: Some(DateTime::from_secs((NOW - age_seconds) as i64)),
            last_updated: Some(DateTime::from_secs(NOW as i64)),
            request_id: Some("req-1".into()),
        }
    }

    fn output(observation: Observation) -> PollOutput {
        build_output(
            &request(),
            observation,
            SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
            &config(),
        )
    }

    #[test]
    fn every_job_status_maps_to_a_contract_status() {
        assert_eq!(normalize("QUEUED"), Status::InProgress);
        assert_eq!(normalize("RUNNING"), Status::InProgress);
        assert_eq!(normalize("COMPLETED"), Status::Succeeded);
        assert_eq!(normalize("FAILED"), Status::Failed);
        assert_eq!(normalize("CANCELLING"), Status::InProgress);
    }

    #[test]
    fn running_job_reports_times_and_an_adaptive_wait() {
        let out = output(Observation::Unfinished(description("RUNNING", 100)));
        assert_eq!(out.status, Status::InProgress);
        assert!(!out.done);
        assert_eq!(out.job_status.as_deref(), Some("RUNNING"));
        assert_eq!(out.age_seconds, Some(100));
        assert_eq!(out.wait_seconds, 20);
        assert_eq!(out.created_time.as_deref(), Some("2027-01-15T07:58:20Z"));
        assert_eq!(
            out.last_updated_time.as_deref(),
            Some("2027-01-15T08:00:00Z")
        );
        assert_eq!(out.request_id.as_deref(), Some("req-1"));
        assert!(out.error.is_none());
    }

    #[test]
    fn job_past_the_deadline_times_out_with_an_error() {
        let out = output(Observation::Unfinished(description("QUEUED", 601)));
        assert_eq!(out.status, Status::TimedOut);
        assert!(out.done);
        assert_eq!(out.wait_seconds, 0);
        let error = out.error.expect("error");
        assert_eq!(error.kind, "JobDeadlineExceeded");
        assert!(
            error.message.contains("QUEUED after 601 s"),
            "{}",
            error.message
        );
    }

    #[test]
    fn failed_job_without_error_info_still_has_an_error() {
        let out = output(Observation::Finished(
            description("FAILED", 30),
            JobResult::default(),
        ));
        assert_eq!(out.status, Status::Failed);
        assert_eq!(out.error.expect("error").kind, "SnapshotJobFailed");
    }

    #[test]
    fn rejection_is_a_failure_named_by_its_code() {
        let out = output(Observation::Rejected {
            rejection: Rejection {
                code: "AccessDeniedException".into(),
                message: "no".into(),
                request_id: Some("req-denied".into()),
            },
            description: None,
        });
        assert_eq!(out.status, Status::Failed);
        assert!(out.job_status.is_none());
        assert_eq!(out.request_id.as_deref(), Some("req-denied"));
        assert_eq!(out.error.expect("error").kind, "AccessDeniedException");
    }

    #[test]
    fn not_visible_job_waits_the_minimum_and_stays_in_progress() {
        let out = output(Observation::NotVisibleYet);
        assert_eq!(out.status, Status::InProgress);
        assert_eq!(out.wait_seconds, 5);
        assert!(out.job_status.is_none());
    }
}
