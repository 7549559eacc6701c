//! How long a wait loop should wait before the next poll.

use std::time::Duration;

/// The adaptive wait: a young job is polled often, an old one rarely. The wait is
/// `age * age_percent / 100`, clamped to `[min_seconds, max_seconds]`: polling cost then grows
/// with the logarithm of a job's duration while a finished job is noticed within a bounded
/// fraction of its run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    /// `MIN_WAIT_SECONDS`: the shortest wait.
    pub min_seconds: u64,
    /// `MAX_WAIT_SECONDS`: the longest wait.
    pub max_seconds: u64,
    /// `WAIT_AGE_PERCENT`: the wait as a percentage of the job's age.
    pub age_percent: u64,
}

impl WaitPolicy {
    /// Seconds to wait for a job of `age` that is not done, never past the deadline by more than
    /// a second, so a stuck job is reported `TIMED_OUT` promptly.
    pub fn next_wait(&self, age: Option<Duration>, deadline: Duration) -> u64 {
        let Some(age) = age else {
            return self.min_seconds;
        };
        let proportional = age.as_secs().saturating_mul(self.age_percent) / 100;
        let wait = proportional.clamp(self.min_seconds, self.max_seconds);
        let until_deadline = deadline.as_secs().saturating_sub(age.as_secs()) + 1;
        wait.min(until_deadline).max(1)
    }

    /// How many polls a job that never finishes gets before it is TIMED_OUT: the loop's
    /// longest run, for a bound on what one execution must hold.
    pub fn worst_case_polls(&self, deadline: Duration) -> u64 {
        let mut age = 0u64;
        let mut polls = 0u64;
        loop {
            polls += 1;
            if age > deadline.as_secs() {
                return polls;
            }
            age += self.next_wait(Some(Duration::from_secs(age)), deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: WaitPolicy = WaitPolicy {
        min_seconds: 5,
        max_seconds: 60,
        age_percent: 20,
    };
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn worst_case_polls_count_the_loop_of_a_job_that_never_ends() {
        // 5 s waits while young, 20 % of the age up to a minute, then a minute: about 75 for
        // an hour, about 10,000 for a week.
        let hour = POLICY.worst_case_polls(HOUR);
        assert!((60..=90).contains(&hour), "{hour}");
        let week = POLICY.worst_case_polls(Duration::from_secs(7 * 86_400));
        assert!((10_000..=10_200).contains(&week), "{week}");
        let slow = WaitPolicy {
            max_seconds: 600,
            ..POLICY
        };
        assert!(slow.worst_case_polls(Duration::from_secs(7 * 86_400)) < 1_100);
    }

    #[test]
    fn young_job_waits_the_minimum() {
        assert_eq!(POLICY.next_wait(Some(Duration::from_secs(3)), HOUR), 5);
    }

    #[test]
    fn wait_grows_with_age_up_to_the_maximum() {
        assert_eq!(POLICY.next_wait(Some(Duration::from_secs(100)), HOUR), 20);
        assert_eq!(POLICY.next_wait(Some(Duration::from_secs(200)), HOUR), 40);
        assert_eq!(POLICY.next_wait(Some(Duration::from_secs(2000)), HOUR), 60);
    }

    #[test]
    fn wait_never_overshoots_the_deadline_by_more_than_a_second() {
        assert_eq!(POLICY.next_wait(Some(Duration::from_secs(3590)), HOUR), 11);
        assert_eq!(POLICY.next_wait(Some(Duration::from_secs(3600)), HOUR), 1);
    }

    #[test]
    fn unknown_age_waits_the_minimum() {
        assert_eq!(POLICY.next_wait(None, HOUR), 5);
    }
}
