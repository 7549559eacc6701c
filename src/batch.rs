//! Many jobs in one invocation: paced under QuickSight's per-account call rate, a bounded number
//! in flight, one normalized result per job and an aggregate a Choice state can branch on.

use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::app::App;
use crate::contract::{BatchOutput, Counts, ErrorDetail, PollOutput, Status};
use crate::error::Error;
use crate::metrics::{InvocationMetrics, PollMetrics};
use crate::reference::{BatchItem, BatchRequest, PollRequest, NOT_POLLED};
use crate::status::{build_output, Observation};

/// Spaces calls evenly at `per_second`, shared by every job of an invocation. QuickSight allows
/// about 10 calls per second per account; staying under it avoids throttles instead of
/// retrying through them.
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
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

impl App {
    pub(crate) async fn poll_batch(
        &self,
        batch: BatchRequest,
        time_left: Duration,
    ) -> Result<BatchOutput, Error> {
        let config = self.config();
        // Every job is checked before the first call: one bad entry refuses the whole batch.
        for item in &batch.items {
            if let BatchItem::Poll { request, .. } = item {
                config
                    .permits(&request.job)
                    .inspect_err(|err| self.write_metrics(InvocationMetrics::refused(err)))?;
            }
        }
        let limiter = RateLimiter::new(config.batch_rate_per_second);
        // Kept back from the Lambda deadline, as for one job, so the answer still gets out.
        let deadline = Instant::now() + time_left.saturating_sub(crate::app::DEADLINE_MARGIN);
        // Jobs the last round had no time for go first, so a batch larger than one round can
        // poll never starves its tail; answers are put back in input order.
        let mut items: Vec<(usize, BatchItem)> = batch.items.into_iter().enumerate().collect();
        items.sort_by_key(|(_, item)| !matches!(item, BatchItem::Poll { overdue: true, .. }));
        let results: Vec<Result<Polled, Error>> = stream::iter(items)
            .map(|(index, item)| {
                let limiter = &limiter;
                async move {
                    match item {
                        BatchItem::Finished(output) => Ok((index, *output, None)),
                        BatchItem::Poll { request, .. } => {
                            let (output, metrics) =
                                self.poll_in_batch(&request, deadline, limiter).await?;
                            Ok((index, output, Some(metrics)))
                        }
                    }
                }
            })
            // `buffered` keeps at most this many polls (and their futures) alive, however
            // long the batch.
            .buffered(config.batch_concurrency)
            .collect()
            .await;
        // An escalated job whose notice could not be published fails the whole invocation
        // (retried), so that failure is told rather than lost.
        let mut jobs = match results.into_iter().collect::<Result<Vec<_>, Error>>() {
            Ok(jobs) => jobs,
            Err(err) => {
                self.write_metrics(InvocationMetrics::refused(&err));
                return Err(err);
            }
        };
        jobs.sort_by_key(|(index, _, _)| *index);
        // Polls the round had no time for made no call: not counted as polls.
        let polls: Vec<PollMetrics> = jobs
            .iter_mut()
            .filter_map(|(_, output, metrics)| {
                metrics
                    .take()
                    .filter(|_| output.error.as_ref().is_none_or(|e| e.kind != NOT_POLLED))
            })
            .collect();
        let jobs = jobs.into_iter().map(|(_, output, _)| output).collect();
        let answer = aggregate(jobs, batch.previous_attempt.saturating_add(1));
        self.write_metrics(InvocationMetrics::of(answer.status.as_str(), &polls));
        Ok(answer)
    }

    /// One job of a batch. A retryable failure does not fail the batch (that would re-poll and
    /// re-notify the jobs that did finish): the job stays IN_PROGRESS, says why in `error`, and
    /// is polled again next round, until the failure has lasted `BATCH_MAX_ERROR_ROUNDS` rounds
    /// or the job is past its deadline: then it is FAILED with that error and notified.
    async fn poll_in_batch(
        &self,
        request: &PollRequest,
        deadline: Instant,
        limiter: &RateLimiter,
    ) -> Result<(PollOutput, PollMetrics), Error> {
        let config = self.config();
        let left = deadline.saturating_duration_since(Instant::now());
        // The describe must start early enough to leave room for its answer and a notice.
        let pace = Pace {
            limiter,
            start_by: deadline.checked_sub(LAST_START).unwrap_or(deadline),
        };
        let (result, mut metrics) = self.poll_request(request, left, Some(&pace)).await;
        let err = match result {
            Ok(output) => return Ok((output, metrics)),
            Err(err) => err,
        };
        let mut output = build_output(request, Observation::NotPolled, SystemTime::now(), config);
        output.error_streak = request.carried.error_streak.saturating_add(1);
        // Back off while the failure lasts (the shortest wait, doubled each round), as a single
        // job's poll would be retried with backoff by the state machine.
        let backoff = config
            .wait
            .min_seconds
            .saturating_mul(1u64 << output.error_streak.min(16))
            .min(config.wait.max_seconds);
        output.wait_seconds = output.wait_seconds.max(backoff);
        let past_deadline = output
            .age_seconds
            .is_some_and(|age| age > config.job_deadline.as_secs());
        let rounds = config.batch_max_error_rounds;
        if output.error_streak < rounds && !past_deadline {
            output.error = Some(ErrorDetail {
                kind: err.error_type().into(),
                message: err.message(),
            });
            return Ok((output, metrics));
        }
        // Escalated: the job is FAILED with the error that lasted, and notified.
        let why = format!(
            "{} round(s) in a row{}: {}",
            output.error_streak,
            if past_deadline {
                ", past the job's deadline"
            } else {
                ""
            },
            err.message()
        );
        let mut escalated = output.clone();
        escalated.status = Status::Failed;
        escalated.done = true;
        escalated.wait_seconds = 0;
        escalated.error = Some(ErrorDetail {
            kind: err.error_type().into(),
            message: crate::text::truncate_bytes(&why, crate::text::ERROR_MESSAGE_MAX).into_owned(),
        });
        let left = deadline.saturating_duration_since(Instant::now());
        match self.notify(&mut escalated, left).await {
            Ok(()) => {
                metrics.notified = escalated.notification.is_some();
                metrics.outcome = Status::Failed.as_str().to_owned();
                Ok((escalated, metrics))
            }
            // Failing the invocation would poll, and notify, the batch's other jobs again on
            // the retry: the job waits for its notice instead, polled again next round, and
            // only after as many more rounds is its failure the invocation's (Retry, Catch).
            Err(notice) if output.error_streak < rounds.saturating_mul(2) => {
                output.error = Some(ErrorDetail {
                    kind: notice.error_type().into(),
                    message: crate::text::truncate_bytes(
                        &format!(
                            "FAILED after {why}; its notice could not be published yet: {}",
                            notice.message()
                        ),
                        crate::text::ERROR_MESSAGE_MAX,
                    )
                    .into_owned(),
                });
                Ok((output, metrics))
            }
            Err(notice) => Err(notice),
        }
    }
}

/// One job's place in the batch, its output, and what its poll measured (none when carried over).
type Polled = (usize, PollOutput, Option<PollMetrics>);

/// How a batch job's QuickSight calls are paced: the shared limiter, and the latest moment its
/// describe may start.
pub struct Pace<'a> {
    pub limiter: &'a RateLimiter,
    pub start_by: Instant,
}

/// A describe starting later than this before the deadline is put off to the next round.
const LAST_START: Duration = Duration::from_millis(1500);

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
                crate::text::truncate(&job.job.dashboard_id, 60),
                crate::text::truncate(&job.job.snapshot_job_id, 60),
                crate::text::truncate(job.error.as_ref().map_or("-", |e| e.kind.as_str()), 60)
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
        message: crate::text::truncate_bytes(&message, crate::text::ERROR_MESSAGE_MAX).into_owned(),
    })
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
