//! Snapshot jobs and their scripted timelines. A job's status is a pure function of how many
//! describes it has answered, so tests can predict every reply; or, in wall-clock mode
//! (`runSeconds`), of the time since it was created, as the service's jobs run whether anyone
//! polls them or not (capacity tests: a job holds one of the account's slots while it runs).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::faults::{FaultList, Operation};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobKey {
    pub account: String,
    pub dashboard: String,
    pub job_id: String,
}

impl JobKey {
    pub fn arn(&self, region: &str) -> String {
        format!(
            "arn:aws:quicksight:{region}:{}:dashboard/{}/snapshot-job/{}",
            self.account, self.dashboard, self.job_id
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Completed,
    Failed,
    /// Stays RUNNING forever, for deadline tests.
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl JobStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Running => "RUNNING",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Failed => "FAILED",
        }
    }

    pub const fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub queued_polls: u32,
    pub running_polls: u32,
    pub outcome: Outcome,
    /// Wall-clock mode: RUNNING for this many seconds after its creation, then the outcome;
    /// the poll counts are ignored. None: the poll-counted timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_seconds: Option<u32>,
}

impl Default for Timeline {
    fn default() -> Timeline {
        Timeline {
            queued_polls: 1,
            running_polls: 2,
            outcome: Outcome::Completed,
            run_seconds: None,
        }
    }
}

impl Timeline {
    /// The outcome's status once the job has run its course.
    fn finished(&self) -> JobStatus {
        match self.outcome {
            Outcome::Completed => JobStatus::Completed,
            Outcome::Failed => JobStatus::Failed,
            Outcome::Never => JobStatus::Running,
        }
    }

    /// The status reported by the `describes`-th describe. Before the first describe the job is
    /// already in the state the first describe will show.
    pub fn status_after(&self, describes: u32) -> JobStatus {
        let describes = describes.max(1);
        if describes <= self.queued_polls {
            JobStatus::Queued
        } else if describes - self.queued_polls <= self.running_polls {
            JobStatus::Running
        } else {
            self.finished()
        }
    }
}

/// Everything needed to create a job, whether from Start, the control API or the jobs file.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub key: JobKey,
    pub timeline: Timeline,
    pub age_seconds: f64,
    pub snapshot_configuration: Value,
    pub user_configuration: Option<Value>,
    pub error_info: Option<Value>,
    pub result: Option<Value>,
    pub faults: FaultList,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobCalls {
    pub describe: u64,
    pub result: u64,
}

#[derive(Clone, Debug)]
pub struct Job {
    pub key: JobKey,
    pub arn: String,
    timeline: Timeline,
    /// Describes that moved the timeline; faulted describes don't count.
    polls: u32,
    pub created_time: f64,
    /// When the status last changed (poll-counted timelines; see `last_updated`).
    last_updated_time: f64,
    pub snapshot_configuration: Value,
    pub user_configuration: Option<Value>,
    pub error_info: Option<Value>,
    /// Verbatim `Result` from the control API; generated from the configuration when absent.
    pub result: Option<Value>,
    pub faults: FaultList,
    pub calls: JobCalls,
    /// The signer of the Start of a registered user's job (no UserConfiguration): the only
    /// caller it answers.
    pub started_by: Option<String>,
}

impl Job {
    pub fn new(spec: NewJob, region: &str, now: f64) -> Job {
        let created_time = crate::wire::round_to_millis(now - spec.age_seconds);
        Job {
            arn: spec.key.arn(region),
            key: spec.key,
            timeline: spec.timeline,
            polls: 0,
            created_time,
            last_updated_time: created_time,
            snapshot_configuration: spec.snapshot_configuration,
            user_configuration: spec.user_configuration,
            error_info: spec.error_info,
            result: spec.result,
            faults: spec.faults,
            calls: JobCalls::default(),
            started_by: None,
        }
    }

    pub fn status(&self) -> JobStatus {
        self.status_at(crate::wire::epoch_now())
    }

    /// The status at `now` (seconds since the epoch).
    pub fn status_at(&self, now: f64) -> JobStatus {
        match self.timeline.run_seconds {
            Some(seconds) if now < self.ends_at(seconds) => JobStatus::Running,
            Some(_) => self.timeline.finished(),
            None => self.timeline.status_after(self.polls),
        }
    }

    fn ends_at(&self, run_seconds: u32) -> f64 {
        self.created_time + f64::from(run_seconds)
    }

    /// When the status last changed: in wall-clock mode, the creation or the end of its run.
    pub fn last_updated(&self) -> f64 {
        match self.timeline.run_seconds {
            Some(seconds) if self.status().is_terminal() => self.ends_at(seconds),
            Some(_) => self.created_time,
            None => self.last_updated_time,
        }
    }

    /// One describe has been answered: move along the timeline.
    pub fn advance(&mut self, now: f64) {
        let before = self.status();
        self.polls = self.polls.saturating_add(1);
        if self.status() != before {
            self.last_updated_time = now;
        }
    }

    pub fn record_call(&mut self, operation: Operation) {
        match operation {
            Operation::Describe => self.calls.describe += 1,
            Operation::Result => self.calls.result += 1,
            Operation::Start => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_wall_clock_job_runs_its_seconds_whoever_polls_then_reaches_its_outcome() {
        let timeline = Timeline {
            outcome: Outcome::Failed,
            run_seconds: Some(10),
            ..Timeline::default()
        };
        let mut job = job(timeline, 0.0);
        for _ in 0..5 {
            job.advance(1_001.0);
        }
        assert_eq!(
            job.status_at(1_009.9),
            JobStatus::Running,
            "polls move nothing"
        );
        assert_eq!(job.status_at(1_010.0), JobStatus::Failed);
        let started_long_ago = super::Job {
            created_time: 0.0,
            ..job
        };
        assert_eq!(
            started_long_ago.last_updated(),
            10.0,
            "it ended when its run did"
        );
    }

    fn job(timeline: Timeline, age_seconds: f64) -> Job {
        let spec = NewJob {
            key: JobKey {
                account: "123456789012".into(),
                dashboard: "d1".into(),
                job_id: "j1".into(),
            },
            timeline,
            age_seconds,
            snapshot_configuration: json!({}),
            user_configuration: None,
            error_info: None,
            result: None,
            faults: FaultList::default(),
        };
        Job::new(spec, "eu-west-1", 1_000.0)
    }

    fn statuses(timeline: Timeline, describes: u32) -> Vec<&'static str> {
        (1..=describes)
            .map(|n| timeline.status_after(n).as_str())
            .collect()
    }

    #[test]
    fn a_job_is_queued_then_running_then_reaches_its_outcome() {
        let timeline = Timeline {
            queued_polls: 1,
            running_polls: 2,
            outcome: Outcome::Completed,
            run_seconds: None,
        };
        assert_eq!(
            statuses(timeline, 5),
            ["QUEUED", "RUNNING", "RUNNING", "COMPLETED", "COMPLETED"]
        );
    }

    #[test]
    fn a_never_job_runs_forever() {
        let timeline = Timeline {
            queued_polls: 0,
            running_polls: 1,
            outcome: Outcome::Never,
            run_seconds: None,
        };
        assert_eq!(timeline.status_after(1_000_000), JobStatus::Running);
    }

    #[test]
    fn a_job_with_an_empty_timeline_is_born_finished() {
        let timeline = Timeline {
            queued_polls: 0,
            running_polls: 0,
            outcome: Outcome::Failed,
            run_seconds: None,
        };
        assert_eq!(job(timeline, 0.0).status(), JobStatus::Failed);
    }

    #[test]
    fn the_arn_follows_the_service_format() {
        let job = job(Timeline::default(), 0.0);
        assert_eq!(
            job.arn,
            "arn:aws:quicksight:eu-west-1:123456789012:dashboard/d1/snapshot-job/j1"
        );
    }

    #[test]
    fn age_backdates_the_creation_time() {
        let job = job(Timeline::default(), 600.5);
        assert_eq!(job.created_time, 399.5);
        assert_eq!(job.last_updated(), 399.5);
    }

    #[test]
    fn last_updated_time_moves_only_when_the_status_changes() {
        let mut job = job(Timeline::default(), 0.0);
        job.advance(1_001.0);
        assert_eq!(job.status(), JobStatus::Queued);
        assert_eq!(job.last_updated_time, 1_000.0);
        job.advance(1_002.0);
        assert_eq!(job.status(), JobStatus::Running);
        assert_eq!(job.last_updated_time, 1_002.0);
        job.advance(1_003.0);
        assert_eq!(job.last_updated_time, 1_002.0);
        job.advance(1_004.0);
        assert_eq!(job.status(), JobStatus::Completed);
        assert_eq!(job.last_updated_time, 1_004.0);
    }
}
