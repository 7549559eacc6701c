//! Many jobs in one invocation: paced under QuickSight's per-account call rate, a bounded number
//! in flight, one normalized result per job and an aggregate a Choice state can branch on.

mod aggregate;

use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;

pub use aggregate::aggregate;

use crate::contract::{BatchOutput, ErrorDetail, PollOutput, Status};
use crate::error::Error;
use crate::metrics::PollMetrics;
use crate::pace::{Pace, RateLimiter};
use crate::poller::{Polled, Poller};
use crate::reference::{BatchItem, BatchRequest, PollRequest, NOT_POLLED};
use crate::status::{build_output, Observation};
use crate::text::{truncate_bytes, ERROR_MESSAGE_MAX};

/// A describe starting later than this before the deadline is put off to the next round.
const LAST_START: Duration = Duration::from_millis(1500);

/// Polls a batch's unfinished jobs by `deadline` and answers for all of them; the jobs'
/// allow-lists were checked before. Returns what the polls measured alongside, for the
/// invocation's one metrics line.
pub async fn poll_batch(
    poller: &Poller,
    batch: BatchRequest,
    deadline: Instant,
) -> (Result<BatchOutput, Error>, Vec<PollMetrics>) {
    let config = poller.config();
    let limiter = RateLimiter::new(config.batch_rate_per_second);
    // Jobs the last round had no time for go first, so a batch larger than one round can
    // poll never starves its tail; answers are put back in input order.
    let mut items: Vec<(usize, BatchItem)> = batch.items.into_iter().enumerate().collect();
    items.sort_by_key(|(_, item)| !matches!(item, BatchItem::Poll { overdue: true, .. }));
    let results: Vec<Result<Job, Error>> = stream::iter(items)
        .map(|(index, item)| {
            let limiter = &limiter;
            async move {
                match item {
                    BatchItem::Finished(output) => Ok((index, *output, None)),
                    BatchItem::Poll { request, .. } => {
                        let (output, metrics) =
                            poll_round(poller, &request, deadline, limiter).await?;
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
        Err(err) => return (Err(err), Vec::new()),
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
    let mut answer = aggregate(jobs, batch.previous_attempt.saturating_add(1));
    answer.loop_kind = batch.loop_kind;
    (Ok(answer), polls)
}

/// One job's place in the batch, its output, and what its poll measured (none when carried over).
type Job = (usize, PollOutput, Option<PollMetrics>);

/// One job's round in a batch. A retryable failure does not fail the batch (that would re-poll
/// and re-notify the jobs that did finish): the job stays IN_PROGRESS, says why in `error`, and
/// is polled again next round, until the failure has lasted `BATCH_MAX_ERROR_ROUNDS` rounds
/// or the job is past its deadline: then it is FAILED with that error and notified.
async fn poll_round(
    poller: &Poller,
    request: &PollRequest,
    deadline: Instant,
    limiter: &RateLimiter,
) -> Result<(PollOutput, PollMetrics), Error> {
    let config = poller.config();
    // The describe must start early enough to leave room for its answer and a notice.
    let pace = Pace {
        limiter,
        start_by: deadline.checked_sub(LAST_START).unwrap_or(deadline),
    };
    let Polled {
        result,
        mut metrics,
    } = poller.poll_paced(request, deadline, &pace).await;
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
        message: truncate_bytes(&why, ERROR_MESSAGE_MAX).into_owned(),
    });
    match poller.tell(&mut escalated, deadline).await {
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
                message: truncate_bytes(
                    &format!(
                        "FAILED after {why}; its notice or event could not be sent yet: {}",
                        notice.message()
                    ),
                    ERROR_MESSAGE_MAX,
                )
                .into_owned(),
            });
            Ok((output, metrics))
        }
        Err(notice) => Err(notice),
    }
}
