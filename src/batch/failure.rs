//! The rule for a batch job whose poll failed this round. Failing the whole invocation would
//! poll, and tell, the batch's other jobs again on its retry; so the job alone waits:
//!
//! 1. it stays IN_PROGRESS, says why in `error`, and is polled again next round, backing off;
//! 2. once the failure has lasted `BATCH_MAX_ERROR_ROUNDS` rounds in a row, or the job is past
//!    its deadline, it is FAILED with that error and told (notice, event);
//! 3. if that cannot be told yet, it waits for its notice as many rounds again, and only then
//!    is the failure the invocation's (the state machine's Retry and Catch).

use crate::batch::BatchLimits;
use crate::poll_policy::PollPolicy;

/// What the batch does with the job this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// Poll it again next round, waiting [`backoff_seconds`] at least.
    Retry,
    /// FAILED now, and told; `why` says how long the failure lasted.
    Escalate {
        /// "N round(s) in a row[, past the job's deadline]".
        why: String,
    },
}

/// Rule 1 and 2: the `streak`-th failed round in a row of a job `age_seconds` old.
pub fn after_failure(
    streak: u32,
    age_seconds: Option<u64>,
    policy: &PollPolicy,
    limits: &BatchLimits,
) -> AfterFailure {
    let past_deadline = age_seconds.is_some_and(|age| age > policy.job_deadline.as_secs());
    if streak < limits.max_error_rounds && !past_deadline {
        return AfterFailure::Retry;
    }
    let deadline = if past_deadline {
        ", past the job's deadline"
    } else {
        ""
    };
    AfterFailure::Escalate {
        why: format!("{streak} round(s) in a row{deadline}"),
    }
}

/// The least wait before the next round of a job whose poll failed `streak` rounds in a row:
/// the shortest wait, doubled each round, at most the longest, as a single job's poll would be
/// retried with backoff by the state machine.
pub fn backoff_seconds(streak: u32, policy: &PollPolicy) -> u64 {
    policy
        .wait
        .min_seconds
        .saturating_mul(1u64 << streak.min(16))
        .min(policy.wait.max_seconds)
}

/// Rule 3: whether an escalated job whose notice failed may wait another round for it.
pub fn notice_may_wait(streak: u32, limits: &BatchLimits) -> bool {
    streak < limits.max_error_rounds.saturating_mul(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wait::WaitPolicy;
    use std::time::Duration;

    const POLICY: PollPolicy = PollPolicy {
        wait: WaitPolicy {
            min_seconds: 5,
            max_seconds: 60,
            age_percent: 20,
        },
        job_deadline: Duration::from_secs(3_600),
        not_found_grace_polls: 2,
        notify_on_success: false,
        report_item_notices: false,
    };
    const LIMITS: BatchLimits = BatchLimits {
        rate_per_second: 8,
        concurrency: 4,
        max_jobs: 100,
        max_error_rounds: 5,
    };

    #[test]
    fn a_failing_job_is_retried_with_backoff_then_escalated_after_its_rounds() {
        for streak in 1..=4 {
            assert_eq!(
                after_failure(streak, Some(60), &POLICY, &LIMITS),
                AfterFailure::Retry
            );
        }
        let backoffs = (1..=4).map(|streak| backoff_seconds(streak, &POLICY));
        assert_eq!(backoffs.collect::<Vec<_>>(), [10, 20, 40, 60]);
        assert_eq!(
            after_failure(5, Some(60), &POLICY, &LIMITS),
            AfterFailure::Escalate {
                why: "5 round(s) in a row".into()
            }
        );
    }

    #[test]
    fn a_job_past_its_deadline_is_escalated_at_once() {
        assert_eq!(
            after_failure(1, Some(3_601), &POLICY, &LIMITS),
            AfterFailure::Escalate {
                why: "1 round(s) in a row, past the job's deadline".into()
            }
        );
    }

    #[test]
    fn an_escalation_whose_notice_failed_waits_as_many_rounds_again_then_fails_the_invocation() {
        assert!(notice_may_wait(5, &LIMITS));
        assert!(notice_may_wait(9, &LIMITS));
        assert!(!notice_may_wait(10, &LIMITS));
    }
}
