//! What a poll saw, normalized into the output contract.

use std::time::{Duration, SystemTime};

use crate::carried::Carried;
use crate::contract::{ErrorDetail, PollOutput, Status};
use crate::poll_policy::PollPolicy;
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

/// Why a batch job has no news this round.
const NOT_POLLED_MESSAGE: &str =
    "not reached before the invocation's deadline; polled first next round";

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
    policy: &PollPolicy,
) -> PollOutput {
    let mut output = PollOutput::new(request.job.info(), request.attempt());
    output.origin = request.origin;
    output.loop_kind = request.loop_kind;
    output.caller = request.caller.clone();
    output.label = request.label.clone();
    let carried = &request.carried;
    // What QuickSight said of the job on this poll, if it described it at all.
    let description = match &observation {
        Observation::Unfinished(description)
        | Observation::Finished(description, _)
        | Observation::ResultLagging(description, _) => Some(description),
        Observation::Rejected { description, .. } => description.as_ref(),
        Observation::NotVisibleYet | Observation::NotPolled => None,
    };
    let clock = JobClock::of(carried, description, now);
    output.created_time = clock.created.and_then(crate::carried::rfc3339);
    output.first_seen_time = clock.first_seen.and_then(crate::carried::rfc3339);
    output.age_seconds = clock.age.map(|a| a.as_secs());
    if let Some(description) = description {
        output.job_status = Some(description.job_status.clone());
        output.last_updated_time = description.last_updated.as_ref().and_then(rfc3339);
        output.request_id = description.request_id.clone();
    }
    let wait_age = judge(&mut output, observation, clock.age, carried, policy);
    if !output.status.is_done() && output.attempt >= attempt_cap(policy) {
        poll_cap_reached(&mut output, policy);
    }

    output.done = output.status.is_done();
    output.wait_seconds = if output.done {
        0
    } else {
        policy.wait.next_wait(wait_age, policy.job_deadline)
    };
    output
}

/// When a job was created and first seen, and how old it is at this poll.
struct JobClock {
    created: Option<SystemTime>,
    first_seen: Option<SystemTime>,
    age: Option<Duration>,
}

impl JobClock {
    fn of(carried: &Carried, description: Option<&JobDescription>, now: SystemTime) -> Self {
        let created = description
            .and_then(|d| d.created)
            .and_then(|created| SystemTime::try_from(created).ok())
            .or(carried.created);
        // The first poll that sees the job starts its deadline when QuickSight gives no
        // CreatedTime. A carried time in the future (an edited input) counts from now.
        let first_seen = carried
            .first_seen
            .map(|seen| seen.min(now))
            .or(description.map(|_| now));
        // A CreatedTime in the future (a skewed clock) would hold the job's age at zero poll
        // after poll: the deadline then runs from the first poll that saw the job.
        let age = created
            .filter(|created| *created <= now)
            .or(first_seen)
            .or(created)
            .map(|start| now.duration_since(start).unwrap_or(Duration::ZERO));
        JobClock {
            created,
            first_seen,
            age,
        }
    }
}

/// Sets the status and error `observation` gives `output`; answers how old the job is for the
/// next wait (None asks for the shortest).
fn judge(
    output: &mut PollOutput,
    observation: Observation,
    age: Option<Duration>,
    carried: &Carried,
    policy: &PollPolicy,
) -> Option<Duration> {
    match observation {
        Observation::NotVisibleYet => return None,
        Observation::NotPolled => {
            // Nothing was asked: the run of failed polls goes on as it was.
            output.error_streak = carried.error_streak;
            output.error = Some(ErrorDetail {
                kind: NOT_POLLED.into(),
                message: NOT_POLLED_MESSAGE.into(),
            });
        }
        Observation::Rejected { rejection, .. } => {
            output.request_id = rejection.request_id.or(output.request_id.take());
            output.status = Status::Failed;
            output.error = Some(ErrorDetail {
                kind: rejection.code,
                message: rejection.message,
            });
        }
        Observation::Unfinished(description) => {
            let age = age.unwrap_or_default();
            if age > policy.job_deadline {
                let created_known = description.created.is_some() || carried.created.is_some();
                timed_out(output, &description, age, created_known, policy);
            }
        }
        Observation::Finished(description, result) => finished(output, &description, result),
        Observation::ResultLagging(description, rejection) => {
            let age = age.unwrap_or_default();
            if age > policy.job_deadline {
                // A Result that never catches up is bound by the deadline like any other poll.
                let created_known = description.created.is_some() || carried.created.is_some();
                timed_out(output, &description, age, created_known, policy);
            } else {
                result_lagging(output, &description, rejection);
                // Catching up takes seconds: the shortest wait, whatever the job's age.
                return None;
            }
        }
    }
    age
}

/// The most polls one job gets, whatever QuickSight's times say: every wait at its shortest
/// until the deadline, the not-found grace, and no more than one execution's history holds.
/// Each loop kind counts `attempt` the same way, so this ends them all.
pub fn attempt_cap(policy: &PollPolicy) -> u32 {
    let polls = policy
        .job_deadline
        .as_secs()
        .div_ceil(policy.wait.min_seconds.max(1))
        .saturating_add(u64::from(policy.not_found_grace_polls))
        .saturating_add(1)
        .min(crate::loop_cap::MAX_POLLS_PER_EXECUTION);
    u32::try_from(polls).unwrap_or(u32::MAX)
}

/// The last poll the cap allows: TIMED_OUT, saying why the deadline did not end it first.
fn poll_cap_reached(output: &mut PollOutput, policy: &PollPolicy) {
    output.status = Status::TimedOut;
    output.error = Some(ErrorDetail {
        kind: "JobDeadlineExceeded".into(),
        message: format!(
            "poll {} is the last a job gets (JOB_DEADLINE_SECONDS {} / MIN_WAIT_SECONDS {}, at \
             most {}); the job's own times never passed the deadline",
            output.attempt,
            policy.job_deadline.as_secs(),
            policy.wait.min_seconds,
            crate::loop_cap::MAX_POLLS_PER_EXECUTION
        ),
    });
}

/// A terminal job whose result QuickSight does not serve yet: still IN_PROGRESS, saying why.
fn result_lagging(output: &mut PollOutput, description: &JobDescription, rejection: Rejection) {
    output.request_id = rejection.request_id.or(output.request_id.take());
    output.error = Some(ErrorDetail {
        kind: RESULT_NOT_READY.into(),
        message: format!(
            "QuickSight says the job is {} but its result is not readable yet ({}: {}); \
             polling again",
            description.job_status, rejection.code, rejection.message
        ),
    });
}

/// An unfinished job past `JOB_DEADLINE_SECONDS`: TIMED_OUT, saying since when it is counted.
fn timed_out(
    output: &mut PollOutput,
    description: &JobDescription,
    age: Duration,
    created_known: bool,
    policy: &PollPolicy,
) {
    let since = if created_known {
        "after"
    } else {
        "since it was first seen, QuickSight giving no CreatedTime, after"
    };
    output.status = Status::TimedOut;
    output.error = Some(ErrorDetail {
        kind: "JobDeadlineExceeded".into(),
        message: format!(
            "job is still {} {since} {} s, past the {} s deadline (JOB_DEADLINE_SECONDS)",
            crate::text::truncate(&description.job_status, 64),
            age.as_secs(),
            policy.job_deadline.as_secs()
        ),
    });
}

/// A COMPLETED or FAILED job with its result: its files, and whether it really succeeded.
fn finished(output: &mut PollOutput, description: &JobDescription, result: JobResult) {
    output.status = normalize(&description.job_status);
    output.request_id = result.request_id.or(output.request_id.take());
    output.results = result.files;
    output.error = match (output.status, result.error) {
        (Status::Failed, error) => Some(error.unwrap_or_else(|| ErrorDetail {
            kind: "SnapshotJobFailed".into(),
            message: "QuickSight reported the job FAILED without error details".into(),
        })),
        // COMPLETED, yet the Result carries an error (CAPABILITY_RESTRICTED, RLS_CHANGED,
        // DATASET_DELETED, ...): without a single file the export did not happen; with some,
        // it partly did, and the error still reaches people.
        (_, Some(error)) => {
            if !output.results.iter().any(|file| file.s3_uri.is_some()) {
                output.status = Status::Failed;
            }
            Some(error)
        }
        // COMPLETED without an error, yet every file failed: no export happened.
        (_, None)
            if !output.results.is_empty()
                && output.results.iter().all(|file| file.s3_uri.is_none()) =>
        {
            output.status = Status::Failed;
            Some(no_file_written(&output.results))
        }
        (_, None) => None,
    };
    output.rerunnable = output
        .error
        .as_ref()
        .is_some_and(|error| RERUNNABLE.contains(&error.kind.as_str()));
}

/// The error of a COMPLETED job none of whose files was written: the first file's error.
fn no_file_written(files: &[crate::contract::FileResult]) -> ErrorDetail {
    let first = files.iter().find_map(|file| file.errors.first());
    ErrorDetail {
        kind: first
            .map_or("SnapshotFilesFailed", |e| e.kind.as_str())
            .into(),
        message: format!(
            "QuickSight says COMPLETED, but none of the {} files was written{}",
            files.len(),
            first.map_or(String::new(), |e| format!(": {}", e.message))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::parse_event;
    use aws_sdk_quicksight::primitives::DateTime;
    use serde_json::json;

    fn policy() -> PollPolicy {
        crate::config::Config::from_lookup(|name| match name {
            "SNS_TOPIC_ARN" => Some("arn:aws:sns:us-east-1:123456789012:alerts".into()),
            "JOB_DEADLINE_SECONDS" => Some("600".into()),
            _ => None,
        })
        .expect("valid config")
        .poll
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
            &policy(),
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
    fn job_without_created_time_gets_its_deadline_from_the_first_poll_that_saw_it() {
        let mut undated = description("RUNNING", 0);
        undated.created = None;
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW);
        let first = build_output(
            &request(),
            Observation::Unfinished(undated.clone()),
            now,
            &policy(),
        );
        assert_eq!(first.status, Status::InProgress);
        let seen = first.first_seen_time.clone().expect("first seen now");
        assert_eq!(first.age_seconds, Some(0));

        // The wait loop passes the output back; 601 s later the 600 s deadline has passed.
        let previous = serde_json::to_value(&first).expect("json");
        let next = parse_event(&previous, Some("us-east-1")).expect("previous output");
        let later = build_output(
            &next,
            Observation::Unfinished(undated),
            now + Duration::from_secs(601),
            &policy(),
        );
        assert_eq!(later.first_seen_time.as_deref(), Some(seen.as_str()));
        assert_eq!(later.status, Status::TimedOut);
        let error = later.error.expect("error");
        assert!(error.message.contains("first seen"), "{}", error.message);
    }

    /// The poll after `first`, `later_seconds` later, seeing `observation`.
    fn next_poll(first: &PollOutput, observation: Observation, later_seconds: u64) -> PollOutput {
        let previous = serde_json::to_value(first).expect("json");
        let next = parse_event(&previous, Some("us-east-1")).expect("previous output");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW + later_seconds);
        build_output(&next, observation, now, &policy())
    }

    #[test]
    fn a_created_time_in_the_future_does_not_hold_the_deadline_back() {
        let future = JobDescription {
            created: Some(DateTime::from_secs((NOW + 86_400) as i64)),
            ..description("RUNNING", 0)
        };
        let first = output(Observation::Unfinished(future.clone()));
        assert_eq!(first.age_seconds, Some(0));
        let later = next_poll(&first, Observation::Unfinished(future), 601);
        assert_eq!(
            later.age_seconds,
            Some(601),
            "counted from the first poll that saw it"
        );
        assert_eq!(later.status, Status::TimedOut);
    }

    #[test]
    fn a_result_that_never_catches_up_times_out_at_the_deadline() {
        let rejection = Rejection {
            code: "InvalidParameterValueException".into(),
            message: "job not finished".into(),
            request_id: None,
        };
        let young = output(Observation::ResultLagging(
            description("COMPLETED", 10),
            rejection.clone(),
        ));
        assert_eq!(young.status, Status::InProgress);
        let old = output(Observation::ResultLagging(
            description("COMPLETED", 601),
            rejection,
        ));
        assert_eq!(old.status, Status::TimedOut);
        assert_eq!(old.error.expect("error").kind, "JobDeadlineExceeded");
    }

    #[test]
    fn every_loop_ends_at_the_attempt_cap_whatever_the_times_say() {
        // JOB_DEADLINE_SECONDS 600 / MIN_WAIT_SECONDS 5, the 2 not-found polls, one more.
        assert_eq!(attempt_cap(&policy()), 123);
        let mut previous = output(Observation::Unfinished(description("RUNNING", 0)));
        previous.attempt = 121;
        let below = next_poll(
            &previous,
            Observation::Unfinished(description("RUNNING", 0)),
            0,
        );
        assert_eq!((below.attempt, below.status), (122, Status::InProgress));
        let capped = next_poll(
            &below,
            Observation::Unfinished(description("RUNNING", 0)),
            0,
        );
        assert_eq!((capped.attempt, capped.status), (123, Status::TimedOut));
        assert!(capped.done && capped.wait_seconds == 0);
        let error = capped.error.expect("error");
        assert!(
            error.message.contains("poll 123 is the last"),
            "{}",
            error.message
        );
    }

    #[test]
    fn completed_job_whose_every_file_failed_is_a_failure() {
        use crate::contract::{FileResult, UserType};
        let failed_file = FileResult {
            user_type: UserType::Anonymous,
            user_index: 0,
            file_group_index: 0,
            format: Some("CSV".into()),
            s3_uri: None,
            bucket_region: None,
            errors: vec![ErrorDetail {
                kind: "RLS_CHANGED".into(),
                message: "re-run".into(),
            }],
        };
        let result = JobResult {
            files: vec![failed_file],
            ..JobResult::default()
        };
        let out = output(Observation::Finished(description("COMPLETED", 30), result));
        assert_eq!(out.status, Status::Failed);
        let error = out.error.expect("error");
        assert_eq!(error.kind, "RLS_CHANGED");
        assert!(out.rerunnable);
        assert!(
            error.message.contains("none of the 1 files"),
            "{}",
            error.message
        );
    }

    #[test]
    fn not_visible_job_waits_the_minimum_and_stays_in_progress() {
        let out = output(Observation::NotVisibleYet);
        assert_eq!(out.status, Status::InProgress);
        assert_eq!(out.wait_seconds, 5);
        assert!(out.job_status.is_none());
    }
}
