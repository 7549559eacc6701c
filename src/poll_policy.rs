//! How each job is polled: the wait, the deadline, the not-found grace, and whether clean
//! successes are notified. Read once at cold start, from the settings the table of
//! `settings.rs` names (docs/configuration.md); `status`, the poller and batches read it.

use std::time::Duration;

use crate::config::Env;
use crate::error::Error;
use crate::settings::{self, Setting};
use crate::wait::WaitPolicy;

/// The per-poll policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// `MIN_WAIT_SECONDS`, `MAX_WAIT_SECONDS`, `WAIT_AGE_PERCENT`.
    pub wait: WaitPolicy,
    /// `JOB_DEADLINE_SECONDS`: an unfinished job older than this is `TIMED_OUT`.
    pub job_deadline: Duration,
    /// `NOT_FOUND_GRACE_POLLS`: polls of a just-started job that may answer not-found.
    pub not_found_grace_polls: u32,
    /// `NOTIFY_ON_SUCCESS`.
    pub notify_on_success: bool,
    /// `REPORT_ITEM_NOTICES`: a reports run's jobs are notified on their own too.
    pub report_item_notices: bool,
}

impl PollPolicy {
    /// Reads the policy, refusing a wait whose minimum is above its maximum and a loop that
    /// outgrows an execution's history.
    pub fn read(env: &Env) -> Result<Self, Error> {
        let number = |setting: &Setting| env.number(setting);
        let wait = WaitPolicy {
            min_seconds: number(&settings::MIN_WAIT_SECONDS)?,
            max_seconds: number(&settings::MAX_WAIT_SECONDS)?,
            age_percent: number(&settings::WAIT_AGE_PERCENT)?,
        };
        if wait.min_seconds > wait.max_seconds {
            return Err(Error::InvalidConfiguration(format!(
                "MIN_WAIT_SECONDS ({}) is greater than MAX_WAIT_SECONDS ({})",
                wait.min_seconds, wait.max_seconds
            )));
        }
        let job_deadline = Duration::from_secs(number(&settings::JOB_DEADLINE_SECONDS)?);
        let not_found_grace_polls = number(&settings::NOT_FOUND_GRACE_POLLS)? as u32;
        crate::loop_cap::check_fits_history(&wait, job_deadline, not_found_grace_polls)?;
        Ok(PollPolicy {
            wait,
            job_deadline,
            not_found_grace_polls,
            notify_on_success: env.flag(&settings::NOTIFY_ON_SUCCESS)?,
            report_item_notices: env.flag(&settings::REPORT_ITEM_NOTICES)?,
        })
    }
}
