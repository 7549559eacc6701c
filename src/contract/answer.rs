//! What one invocation answers: one job's output, or a batch's, whose jobs come back as the
//! next round's input.

use serde::{Deserialize, Serialize};

use super::{ErrorDetail, LoopKind, NextPoll, PollOutput, RunSummary, Status};

/// What one invocation answers: one job's output, or a batch's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    /// The answer for one job reference.
    Single(Box<PollOutput>),
    /// The answer for a batch `{"jobs": [...]}`.
    Batch(BatchOutput),
    /// A reports run's summary (`{"summarize": ...}`).
    Summary(RunSummary),
    /// A reports run's manifest, surveyed before the run (`{"survey": ...}`).
    Survey(Survey),
}

impl Answer {
    /// The job's status, or the batch's aggregate one.
    pub fn status(&self) -> Status {
        match self {
            Answer::Single(output) => output.status,
            Answer::Batch(batch) => batch.status,
            Answer::Summary(summary) => summary.status,
            // The run is about to start its reports.
            Answer::Survey(_) => Status::InProgress,
        }
    }

    /// Whether the loop ends here.
    pub fn done(&self) -> bool {
        match self {
            Answer::Single(output) => output.done,
            Answer::Batch(batch) => batch.done,
            Answer::Summary(_) | Answer::Survey(_) => true,
        }
    }

    /// Seconds until the next poll should run.
    pub fn wait_seconds(&self) -> u64 {
        match self {
            Answer::Single(output) => output.wait_seconds,
            Answer::Batch(batch) => batch.wait_seconds,
            Answer::Summary(_) | Answer::Survey(_) => 0,
        }
    }

    /// The poll's attempt (a batch's round).
    pub fn attempt(&self) -> u32 {
        match self {
            Answer::Single(output) => output.attempt,
            Answer::Batch(batch) => batch.attempt,
            Answer::Summary(_) | Answer::Survey(_) => 1,
        }
    }

    /// Who runs the next poll, when the poller does.
    pub fn loop_kind(&self) -> Option<LoopKind> {
        match self {
            Answer::Single(output) => output.loop_kind,
            Answer::Batch(batch) => batch.loop_kind,
            Answer::Summary(_) | Answer::Survey(_) => None,
        }
    }

    /// Records the schedule of the next poll.
    pub fn set_next_poll(&mut self, next: NextPoll) {
        match self {
            Answer::Single(output) => output.next_poll = Some(next),
            Answer::Batch(batch) => batch.next_poll = Some(next),
            // A summary has no next poll: it is done.
            Answer::Summary(_) | Answer::Survey(_) => {}
        }
    }

    /// The ARNs of the jobs it answers for, in order.
    pub fn job_arns(&self) -> Vec<&str> {
        match self {
            Answer::Single(output) => vec![output.job.arn.as_str()],
            Answer::Batch(batch) => batch.jobs.iter().map(|job| job.job.arn.as_str()).collect(),
            Answer::Summary(_) | Answer::Survey(_) => Vec::new(),
        }
    }
}

/// What a reports run's manifest holds, as the run needs it before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    /// How many reports.
    pub reports: u32,
    /// How it is written: `JSON` (an array) or `CSV`, as the Map's ItemReader names it.
    pub format: String,
}

/// A batch `{"jobs": [...]}`'s answer. Its `jobs` come back as the next poll's input unchanged:
/// finished jobs are carried over as they are (never polled or notified again), the rest are
/// polled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchOutput {
    /// IN_PROGRESS while any job is; then FAILED if any failed, else TIMED_OUT if any timed
    /// out, else SUCCEEDED.
    pub status: Status,
    /// Every job is done.
    pub done: bool,
    /// The shortest wait any unfinished job asks for; 0 once done.
    pub wait_seconds: u64,
    /// 1 on the first poll of the batch, +1 each time its previous output comes back.
    pub attempt: u32,
    /// How many jobs are in each status.
    pub counts: Counts,
    /// Set when FAILED or TIMED_OUT, so a state machine fails the execution with it:
    /// `{type: JobsFailed | JobsTimedOut, message: "2 of 22 jobs failed: ..."}` (bounded). Each
    /// job's own error is in `jobs`, and each was notified on its own.
    pub error: Option<ErrorDetail>,
    /// Every job's output, in input order.
    pub jobs: Vec<PollOutput>,
    /// `scheduler` when the poller schedules the batch's next round itself; null otherwise.
    #[serde(default, rename = "loop")]
    pub loop_kind: Option<LoopKind>,
    /// The one-time schedule this round created for the next one.
    #[serde(default)]
    pub next_poll: Option<NextPoll>,
}

/// How many jobs of a batch are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct Counts {
    /// Jobs still running.
    pub in_progress: usize,
    /// Jobs that completed.
    pub succeeded: usize,
    /// Jobs that failed.
    pub failed: usize,
    /// Jobs past their deadline.
    pub timed_out: usize,
}
