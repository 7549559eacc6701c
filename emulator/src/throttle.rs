//! Per-account request-rate limit, a token bucket like the one QuickSight documents (10 calls per
//! second per account, across operations).

use std::collections::HashMap;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct Throttle {
    /// Calls per second; `None` switches throttling off.
    rate: Option<f64>,
    buckets: HashMap<String, Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

impl Throttle {
    pub fn set_rate(&mut self, rate: Option<f64>) {
        self.rate = rate;
        // A new rate starts every account with a full burst, so tests don't inherit spent tokens.
        self.buckets.clear();
    }

    /// Whether a call from `account` at `now` is within the rate; spends a token if so.
    pub fn admit(&mut self, account: &str, now: Instant) -> bool {
        let Some(rate) = self.rate else {
            return true;
        };
        // A burst below one token would refuse everything.
        let burst = rate.max(1.0);
        let bucket = self.buckets.entry(account.to_owned()).or_insert(Bucket {
            tokens: burst,
            refilled_at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled_at);
        bucket.tokens = (bucket.tokens + elapsed.as_secs_f64() * rate).min(burst);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn admitted(throttle: &mut Throttle, account: &str, calls: usize, now: Instant) -> usize {
        (0..calls).filter(|_| throttle.admit(account, now)).count()
    }

    #[test]
    fn without_a_rate_every_call_is_admitted() {
        let mut throttle = Throttle::default();
        assert_eq!(
            admitted(&mut throttle, "111111111111", 1000, Instant::now()),
            1000
        );
    }

    #[test]
    fn a_burst_of_the_rate_is_admitted_and_the_rest_refused() {
        let mut throttle = Throttle::default();
        throttle.set_rate(Some(10.0));
        assert_eq!(
            admitted(&mut throttle, "111111111111", 15, Instant::now()),
            10
        );
    }

    #[test]
    fn tokens_come_back_at_the_rate() {
        let mut throttle = Throttle::default();
        throttle.set_rate(Some(10.0));
        let start = Instant::now();
        assert_eq!(admitted(&mut throttle, "111111111111", 10, start), 10);
        let later = start + Duration::from_millis(300);
        assert_eq!(admitted(&mut throttle, "111111111111", 10, later), 3);
    }

    #[test]
    fn each_account_has_its_own_bucket() {
        let mut throttle = Throttle::default();
        throttle.set_rate(Some(2.0));
        let now = Instant::now();
        assert_eq!(admitted(&mut throttle, "111111111111", 5, now), 2);
        assert_eq!(admitted(&mut throttle, "222222222222", 5, now), 2);
    }
}
