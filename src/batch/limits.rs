//! What a batch may do: its pace, its concurrency, its size and how long a job's poll may keep
//! failing. Read once at cold start from the settings `settings.rs` names
//! (docs/configuration.md).

use crate::config::Env;
use crate::error::Error;
use crate::settings;

/// What one finished job adds to a batch's answer with a few files (about 0.8 KB, and 0.2 KB
/// more a file), rounded up, for the default `BATCH_MAX_JOBS`.
const BYTES_PER_BATCH_JOB: u64 = 2_000;

/// A batch's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// `BATCH_RATE_PER_SECOND`: QuickSight calls per second, below the account's 10.
    pub rate_per_second: u32,
    /// `BATCH_CONCURRENCY`: jobs polled at once.
    pub concurrency: usize,
    /// `BATCH_MAX_JOBS`: the largest batch accepted, so that its answer fits the output budget.
    pub max_jobs: usize,
    /// `BATCH_MAX_ERROR_ROUNDS`: rounds in a row a job's poll may fail before it is FAILED.
    pub max_error_rounds: u32,
}

impl BatchLimits {
    /// Reads the limits; `BATCH_MAX_JOBS` defaults to what fits `max_output_bytes`.
    pub fn read(env: &Env, max_output_bytes: u64) -> Result<Self, Error> {
        Ok(BatchLimits {
            rate_per_second: env.number(&settings::BATCH_RATE_PER_SECOND)? as u32,
            concurrency: env.number(&settings::BATCH_CONCURRENCY)? as usize,
            max_jobs: env.number_or(
                &settings::BATCH_MAX_JOBS,
                max_output_bytes / BYTES_PER_BATCH_JOB,
            )? as usize,
            max_error_rounds: env.number(&settings::BATCH_MAX_ERROR_ROUNDS)? as u32,
        })
    }
}
