//! A batch's answer from its jobs' outputs: one status a Choice state can branch on, the
//! counts, the shortest wait, and for a failed batch an error naming its first failed jobs.

use crate::contract::{BatchOutput, Counts, ErrorDetail, PollOutput, Status};
use crate::text::{truncate, truncate_bytes, ERROR_MESSAGE_MAX};

/// The batch's status, counts and wait from its jobs' outputs.
pub fn aggregate(jobs: Vec<PollOutput>, attempt: u32) -> BatchOutput {
    let mut counts = Counts::default();
    for job in &jobs {
        match job.status {
            Status::InProgress => counts.in_progress += 1,
            Status::Succeeded => counts.succeeded += 1,
            Status::Failed => counts.failed += 1,
            Status::TimedOut => counts.timed_out += 1,
        }
    }
    let status = if counts.in_progress > 0 {
        Status::InProgress
    } else if counts.failed > 0 {
        Status::Failed
    } else if counts.timed_out > 0 {
        Status::TimedOut
    } else {
        Status::Succeeded
    };
    let wait_seconds = jobs
        .iter()
        .filter(|job| !job.done)
        .map(|job| job.wait_seconds)
        .min()
        .unwrap_or(0);
    BatchOutput {
        error: summary(status, &counts, &jobs),
        status,
        done: counts.in_progress == 0,
        wait_seconds,
        attempt,
        counts,
        jobs,
        loop_kind: None,
        next_poll: None,
    }
}

/// How many failed jobs a batch's error names before "...".
const SUMMARY_JOBS: usize = 5;

/// A FAILED or TIMED_OUT batch's error, for the state machine to fail the execution with:
/// counts, and the first few jobs with their error types. Bounded whatever the batch.
fn summary(status: Status, counts: &Counts, jobs: &[PollOutput]) -> Option<ErrorDetail> {
    let (kind, verb) = match status {
        Status::Failed => ("JobsFailed", "failed"),
        Status::TimedOut => ("JobsTimedOut", "timed out"),
        Status::InProgress | Status::Succeeded => return None,
    };
    let bad: Vec<&PollOutput> = jobs
        .iter()
        .filter(|job| matches!(job.status, Status::Failed | Status::TimedOut))
        .collect();
    let mut named: Vec<String> = bad
        .iter()
        .take(SUMMARY_JOBS)
        .map(|job| {
            format!(
                "{}/{} ({})",
                truncate(&job.job.dashboard_id, 60),
                truncate(&job.job.snapshot_job_id, 60),
                truncate(job.error.as_ref().map_or("-", |e| e.kind.as_str()), 60)
            )
        })
        .collect();
    if bad.len() > SUMMARY_JOBS {
        named.push(format!("and {} more", bad.len() - SUMMARY_JOBS));
    }
    let total = jobs.len();
    let message = match status {
        Status::Failed if counts.timed_out > 0 => format!(
            "{} of {total} jobs failed and {} timed out: {}",
            counts.failed,
            counts.timed_out,
            named.join(", ")
        ),
        _ => format!("{} of {total} jobs {verb}: {}", bad.len(), named.join(", ")),
    };
    Some(ErrorDetail {
        kind: kind.into(),
        message: truncate_bytes(&message, ERROR_MESSAGE_MAX).into_owned(),
    })
}
