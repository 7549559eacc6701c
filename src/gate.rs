//! What the App refuses before any call: an event too large to read, a job outside the
//! accounts and regions this function may describe, a caller it may not act as, and an answer
//! too large to pass on. Read once at cold start (docs/configuration.md names each variable).

use crate::arn::{is_account_id, is_valid_region};
use crate::callers::CallerPolicy;
use crate::config::Env;
use crate::contract::LoopKind;
use crate::error::Error;
use crate::reference::{JobReference, PollRequest};
use crate::settings;

/// The request gate's settings.
#[derive(Debug, Clone)]
pub struct Gate {
    /// `MAX_EVENT_BYTES`: a larger event is refused before it is parsed.
    pub max_event_bytes: usize,
    /// `MAX_OUTPUT_BYTES`: a larger answer fails with `OutputTooLarge`.
    pub max_output_bytes: usize,
    /// `ALLOWED_ACCOUNT_IDS` (empty: any).
    allowed_accounts: Vec<String>,
    /// `ALLOWED_REGIONS` (empty: any).
    allowed_regions: Vec<String>,
    /// Whom a job may be polled as.
    callers: CallerPolicy,
}

impl Gate {
    /// Reads the sizes, the allow-lists and the caller policy.
    pub fn read(env: &Env) -> Result<Self, Error> {
        // The default output fits Step Functions' 256 KiB between states; direct invocations
        // may raise it to Lambda's 6 MB response.
        let max_output_bytes = env.number(&settings::MAX_OUTPUT_BYTES)?;
        let max_event_bytes = env.number(&settings::MAX_EVENT_BYTES)?;
        if max_output_bytes > max_event_bytes {
            return Err(Error::InvalidConfiguration(format!(
                "MAX_OUTPUT_BYTES ({max_output_bytes}) is larger than MAX_EVENT_BYTES \
                 ({max_event_bytes}): a wait loop would send back an answer the function refuses"
            )));
        }
        Ok(Gate {
            max_event_bytes: max_event_bytes as usize,
            max_output_bytes: max_output_bytes as usize,
            allowed_accounts: env.list(
                &settings::ALLOWED_ACCOUNT_IDS,
                is_account_id,
                "a 12-digit account id",
            )?,
            allowed_regions: env.list(
                &settings::ALLOWED_REGIONS,
                is_valid_region,
                "an AWS region",
            )?,
            callers: CallerPolicy::read(env)?,
        })
    }

    /// Whom a job may be polled as (the Poller keeps a copy to find each role's external id).
    pub fn callers(&self) -> &CallerPolicy {
        &self.callers
    }

    /// Refuses, before any call, a job outside the configured accounts and regions or a caller
    /// this function may not act as, so a crafted event cannot make the function describe
    /// another tenant's jobs.
    pub fn permits(&self, request: &PollRequest, loop_kind: Option<LoopKind>) -> Result<(), Error> {
        self.permits_job(&request.job)?;
        self.callers.permits(request, loop_kind)
    }

    /// Refuses a job outside the configured accounts and regions.
    pub fn permits_job(&self, job: &JobReference) -> Result<(), Error> {
        if !self.allowed_accounts.is_empty() && !self.allowed_accounts.contains(&job.account) {
            return Err(Error::invalid(format!(
                "AwsAccountId {:?} is not in this function's ALLOWED_ACCOUNT_IDS",
                job.account
            )));
        }
        if !self.allowed_regions.is_empty() && !self.allowed_regions.contains(&job.region) {
            return Err(Error::invalid(format!(
                "Region {:?} is not in this function's ALLOWED_REGIONS",
                job.region
            )));
        }
        Ok(())
    }
}
