//! Pacing a batch's QuickSight calls under the account's call rate.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Spaces calls evenly at `per_second`, shared by every job of an invocation. QuickSight allows
/// about 10 calls per second per account; staying under it avoids throttles instead of
/// retrying through them.
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    /// A limiter whose first slot is free now.
    pub fn new(per_second: u32) -> Self {
        RateLimiter {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this caller's slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Takes and waits for a slot only if one is free by `latest`; false leaves the schedule as
    /// it was, so a call that could not finish in time does not hold up the others.
    pub async fn acquire_by(&self, latest: Instant) -> bool {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            if slot > latest {
                return false;
            }
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
        true
    }
}

/// How a batch job's QuickSight calls are paced: the shared limiter, and the latest moment its
/// describe may start.
pub struct Pace<'a> {
    /// Shared by the batch's jobs.
    pub limiter: &'a RateLimiter,
    /// A describe that cannot start by then is put off to the next round.
    pub start_by: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_calls_evenly() {
        let limiter = RateLimiter::new(8);
        let start = Instant::now();
        for _ in 0..9 {
            limiter.acquire().await;
        }
        // Nine slots at 8/s: the first at once, the ninth a second later.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }
}
