//! Every loop ends by itself: the most polls one job may take, which is what a Step Functions
//! execution's history holds, and the cold-start check that the wait settings keep within it.
//! `status::attempt_cap` caps each loop's attempts with it.

use std::time::Duration;

use crate::error::Error;
use crate::wait::WaitPolicy;

/// The most polls one job may take (and `status::attempt_cap`'s ceiling): what a Standard
/// execution's 25,000-event history holds once the rest of the loop is counted (below).
pub const MAX_POLLS_PER_EXECUTION: u64 = 2_000;

/// An execution's history, spent: `HISTORY_EVENTS` holds every poll round, the start, the
/// longest capacity wait and `RETRIES_PER_EXECUTION` failed attempts, or the loop could fail
/// with no state left to say so.
mod history {
    /// A Standard execution's limit.
    pub const HISTORY_EVENTS: u64 = 25_000;
    /// Poll (a Task: entered, scheduled, started, succeeded, exited), Done? and Wait (entered,
    /// exited each).
    pub const EVENTS_PER_POLL: u64 = 9;
    /// Start?, the job id's Pass and Choice states, StartJob and AlreadyStarted.
    pub const START_EVENTS: u64 = 20;
    /// `StartCapacityWaitMinutes` at its 240-minute maximum, a slot tried every 30 s at the
    /// soonest: 480 rounds of CapacityLeft?, WaitForCapacity, CountCapacityWait (2 events each)
    /// and a refused StartJob (5).
    pub const CAPACITY_WAIT_EVENTS: u64 = 480 * 11;
    /// A failed attempt that a Retry runs again: scheduled, started, failed.
    pub const EVENTS_PER_RETRY: u64 = 3;
    /// What the rest leaves for retries (throttling, a publish that failed, Lambda errors).
    pub const RETRIES_PER_EXECUTION: u64 = 550;
    /// The failure path: NotifyFailure to Failed, its ledger and publish tasks retried.
    pub const FAILURE_PATH_EVENTS: u64 = 40;
}

const _: () = assert!(
    MAX_POLLS_PER_EXECUTION * history::EVENTS_PER_POLL
        + history::START_EVENTS
        + history::CAPACITY_WAIT_EVENTS
        + history::RETRIES_PER_EXECUTION * history::EVENTS_PER_RETRY
        + history::FAILURE_PATH_EVENTS
        <= history::HISTORY_EVENTS
);

/// Refuses settings that let one job take more polls than a Standard execution's history
/// holds, naming the `MAX_WAIT_SECONDS` that would fit.
pub fn check_fits_history(
    wait: &WaitPolicy,
    job_deadline: Duration,
    grace_polls: u32,
) -> Result<(), Error> {
    let polls_with = |max_seconds: u64| {
        WaitPolicy {
            max_seconds,
            ..*wait
        }
        .worst_case_polls(job_deadline)
        .saturating_add(u64::from(grace_polls))
    };
    let polls = polls_with(wait.max_seconds);
    if polls <= MAX_POLLS_PER_EXECUTION {
        return Ok(());
    }
    let fits = |max_seconds: u64| polls_with(max_seconds) <= MAX_POLLS_PER_EXECUTION;
    // With a small WAIT_AGE_PERCENT the waits may never reach a larger MAX_WAIT_SECONDS.
    let advice = if fits(86_400) {
        let (mut low, mut high) = (wait.max_seconds, 86_400);
        while low + 1 < high {
            let middle = (low + high) / 2;
            if fits(middle) {
                high = middle;
            } else {
                low = middle;
            }
        }
        format!("raise MAX_WAIT_SECONDS to at least {high}")
    } else {
        "raise MIN_WAIT_SECONDS or WAIT_AGE_PERCENT".to_owned()
    };
    Err(Error::InvalidConfiguration(format!(
        "JOB_DEADLINE_SECONDS ({}) with MAX_WAIT_SECONDS ({}) lets one job take up to \
         {polls} polls, more than the {MAX_POLLS_PER_EXECUTION} a Step Functions \
         execution's 25,000-event history holds: {advice}, or lower JOB_DEADLINE_SECONDS",
        job_deadline.as_secs(),
        wait.max_seconds,
    )))
}
