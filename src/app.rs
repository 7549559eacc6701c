//! One poll, start to finish: reference in, QuickSight described, output out, SNS when it matters.

use std::time::{Duration, SystemTime};

use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::time::timeout;

use crate::batch::Pace;
use crate::config::Config;
use crate::contract::{Answer, PollOutput};
use crate::error::Error;
use crate::metrics::{InvocationMetrics, PollMetrics, Sink};
use crate::notify::{should_notify, Notifier};
use crate::presign::Presigner;
use crate::quicksight::{self, QuickSightClients};
use crate::reference::{parse_event, parse_invocation, Invocation, PollRequest};
use crate::status::{build_output, Observation};

/// Kept back from the Lambda deadline so the runtime can still post the answer.
pub(crate) const DEADLINE_MARGIN: Duration = Duration::from_millis(500);
/// The most of the remaining time the QuickSight calls may use; the rest is kept for SNS.
const QUICKSIGHT_SHARE_PERCENT: u32 = 70;
/// How long after a job's terminal LastUpdatedTime a refused Result call is taken for
/// QuickSight catching up rather than for the answer.
const RESULT_LAG_GRACE: Duration = Duration::from_secs(120);
/// Time allowed when the invocation's deadline is unusable (already past).
const UNKNOWN_DEADLINE_BUDGET: Duration = Duration::from_secs(30);

/// Built once per cold start and shared by every invocation of the execution environment.
pub struct App {
    config: Config,
    quicksight: QuickSightClients,
    /// None when notices are off (`--no-notify` at a terminal).
    notifier: Option<Notifier>,
    /// Signs download links for notices, with `PRESIGN_SECONDS`.
    presigner: Option<Presigner>,
    metrics: Sink,
}

impl App {
    pub fn new(config: Config, quicksight: QuickSightClients, notifier: Option<Notifier>) -> Self {
        App {
            config,
            quicksight,
            notifier,
            presigner: None,
            metrics: Sink::Off,
        }
    }

    /// Signs a download link for each `s3://` result of a notice.
    pub fn with_presigner(mut self, presigner: Presigner) -> Self {
        self.presigner = Some(presigner);
        self
    }

    /// Where each invocation's EMF metrics line goes.
    pub fn with_metrics(mut self, sink: Sink) -> Self {
        self.metrics = sink;
        self
    }

    /// The Lambda handler. The event arrives unparsed, so its size is checked first.
    pub async fn handle(&self, event: LambdaEvent<Box<RawValue>>) -> Result<Answer, Error> {
        // Lambda's deadline is always ahead; a runtime emulator may send a bogus one in the
        // past, and answering "no time left" to every event would help nobody.
        let remaining = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .ok()
            .filter(|left| !left.is_zero())
            .unwrap_or(UNKNOWN_DEADLINE_BUDGET);
        let payload = crate::event::parse_raw(&event.payload, self.config.max_event_bytes)
            .inspect_err(|err| self.write_metrics(InvocationMetrics::refused(err)))?;
        self.invoke(&payload, remaining).await
    }

    /// The largest event this function reads (`MAX_EVENT_BYTES`).
    pub fn max_event_bytes(&self) -> usize {
        self.config.max_event_bytes
    }

    /// Answers one invocation: a single job reference, or a batch `{"jobs": [...]}`.
    pub async fn invoke(&self, event: &Value, time_left: Duration) -> Result<Answer, Error> {
        let invocation = parse_invocation(
            event,
            self.config.default_region.as_deref(),
            self.config.batch_max_jobs,
        )
        .inspect_err(|err| self.write_metrics(InvocationMetrics::refused(err)))?;
        let answer = match invocation {
            Invocation::Single(request) => self
                .poll_one(&request, time_left)
                .await
                .map(|output| Answer::Single(Box::new(output))),
            Invocation::Batch(batch) => self.poll_batch(batch, time_left).await.map(Answer::Batch),
        }?;
        self.within_output_budget(answer)
    }

    /// Refuses an answer a state machine could not pass on: `States.DataLimitExceeded` cannot
    /// be caught, `OutputTooLarge` can (and is notified).
    fn within_output_budget(&self, answer: Answer) -> Result<Answer, Error> {
        // Counted, not written out: the runtime serializes the answer once more to send it.
        let mut counter = ByteCount(0);
        let bytes = serde_json::to_writer(&mut counter, &answer).map_or(0, |()| counter.0);
        if bytes > self.config.max_output_bytes {
            let err = Error::OutputTooLarge {
                bytes,
                max: self.config.max_output_bytes,
            };
            tracing::error!(error_type = err.error_type(), "{}", err.message());
            return Err(err);
        }
        Ok(answer)
    }

    /// Polls the one job `event` names, answering within `time_left`.
    pub async fn poll(&self, event: &Value, time_left: Duration) -> Result<PollOutput, Error> {
        let request = parse_event(event, self.config.default_region.as_deref())
            .inspect_err(|err| self.write_metrics(InvocationMetrics::refused(err)))?;
        self.poll_one(&request, time_left).await
    }

    /// A single job: refused before any call when outside the allow-lists (a batch checks all
    /// its jobs up front instead).
    async fn poll_one(
        &self,
        request: &PollRequest,
        time_left: Duration,
    ) -> Result<PollOutput, Error> {
        self.config
            .permits(&request.job)
            .inspect_err(|err| self.write_metrics(InvocationMetrics::refused(err)))?;
        let (result, metrics) = self.poll_request(request, time_left, None).await;
        self.write_metrics(InvocationMetrics::of(&metrics.outcome, [&metrics]));
        result
    }

    /// Writes one invocation's metrics line, named for this function.
    pub(crate) fn write_metrics(&self, metrics: InvocationMetrics) {
        metrics
            .for_function(self.config.function_name.as_deref())
            .emit(self.metrics);
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Polls one job; `pace` paces its QuickSight calls when it is part of a batch. Returns what
    /// the poll measured for the caller to write, once per invocation.
    pub(crate) async fn poll_request(
        &self,
        request: &PollRequest,
        time_left: Duration,
        pace: Option<&Pace<'_>>,
    ) -> (Result<PollOutput, Error>, PollMetrics) {
        let mut quicksight_latency = Duration::ZERO;
        let result = self
            .poll_measured(request, time_left, pace, &mut quicksight_latency)
            .await;
        let metrics = PollMetrics {
            outcome: match &result {
                Ok(output) => output.status.as_str().to_owned(),
                Err(err) => err.error_type().to_owned(),
            },
            job_age: result
                .as_ref()
                .ok()
                .and_then(|o| o.age_seconds)
                .map(Duration::from_secs),
            quicksight_latency,
            throttled: matches!(result, Err(Error::QuickSightThrottled { .. })),
            notified: result.as_ref().is_ok_and(|o| o.notification.is_some()),
        };
        (result, metrics)
    }

    /// Publishes the notice for `output` within `left`, and records it in the output. With
    /// notices off (a terminal's `--no-notify`) nothing is published.
    pub(crate) async fn notify(
        &self,
        output: &mut PollOutput,
        left: Duration,
    ) -> Result<(), Error> {
        let Some(notifier) = &self.notifier else {
            tracing::info!("notices are off: nothing published");
            return Ok(());
        };
        let started = tokio::time::Instant::now();
        // Links are a courtesy: they may take a quarter of the time (a second at most), and
        // without them the notice still goes.
        let links = match &self.presigner {
            Some(presigner) if output.results.iter().any(|f| f.s3_uri.is_some()) => {
                let budget = (left / 4).min(Duration::from_secs(1));
                timeout(budget, presigner.links(output))
                    .await
                    .unwrap_or_else(|_| {
                        tracing::warn!(
                            "download links not signed in time; the notice goes without them"
                        );
                        Vec::new()
                    })
            }
            _ => Vec::new(),
        };
        let left = left.saturating_sub(started.elapsed());
        let notification = timeout(left, notifier.publish(output, &links))
            .await
            .map_err(|_| Error::NotificationFailed {
                topic_arn: notifier.topic_arn().to_owned(),
                message: format!(
                    "no answer within {} ms, before the Lambda deadline",
                    left.as_millis()
                ),
            })??;
        output.notification = Some(notification);
        Ok(())
    }

    async fn poll_measured(
        &self,
        request: &PollRequest,
        time_left: Duration,
        pace: Option<&Pace<'_>>,
        quicksight_latency: &mut Duration,
    ) -> Result<PollOutput, Error> {
        let budget = time_left.saturating_sub(DEADLINE_MARGIN);
        let quicksight_budget = budget * QUICKSIGHT_SHARE_PERCENT / 100;
        let started = tokio::time::Instant::now();

        let observation = timeout(
            quicksight_budget,
            self.observe(request, pace, quicksight_latency),
        )
        .await;
        if observation.is_err() {
            // Cut off mid-call: the calls' own time is unknown, the whole budget is the bound.
            *quicksight_latency = started.elapsed();
        }
        let observation = observation.map_err(|_| Error::QuickSightUnavailable {
            operation: "DescribeDashboardSnapshotJob",
            message: format!(
                "no answer within {} ms, before the Lambda deadline",
                quicksight_budget.as_millis()
            ),
        })??;
        let mut output = build_output(request, observation, SystemTime::now(), &self.config);

        if should_notify(&output, self.config.notify_on_success) {
            self.notify(&mut output, budget.saturating_sub(started.elapsed()))
                .await?;
        }

        tracing::info!(
            // Bounded: a log line stays under 1 KB whatever the ids.
            job = %crate::text::truncate(&output.job.arn, 300),
            attempt = output.attempt,
            status = output.status.as_str(),
            job_status = %crate::text::truncate(output.job_status.as_deref().unwrap_or("-"), 64),
            wait_seconds = output.wait_seconds,
            error_type = %crate::text::truncate(output.error.as_ref().map_or("-", |e| e.kind.as_str()), 100),
            notified = output.notification.is_some(),
            "polled"
        );
        // S3 URIs may carry tenant names: debug only.
        tracing::debug!(results = ?output.results, "results");
        Ok(output)
    }

    /// Describes the job (and reads its result once it is finished), adding the time spent in
    /// QuickSight calls, not in the rate limiter's waits, to `latency`.
    async fn observe(
        &self,
        request: &PollRequest,
        pace: Option<&Pace<'_>>,
        latency: &mut Duration,
    ) -> Result<Observation, Error> {
        let client = self.quicksight.for_region(&request.job.region);
        if let Some(pace) = pace {
            if !pace.limiter.acquire_by(pace.start_by).await {
                return Ok(Observation::NotPolled);
            }
        }
        let called = tokio::time::Instant::now();
        let described = quicksight::describe(&client, &request.job).await;
        *latency += called.elapsed();
        let description = match described? {
            Ok(description) => description,
            Err(rejection)
                if rejection.is_not_found()
                    && request.not_found_is_pending(self.config.not_found_grace_polls) =>
            {
                return Ok(Observation::NotVisibleYet);
            }
            Err(rejection) => {
                return Ok(Observation::Rejected {
                    rejection,
                    description: None,
                })
            }
        };
        if !description.is_terminal() {
            if !matches!(description.job_status.as_str(), "QUEUED" | "RUNNING") {
                tracing::warn!(job_status = %crate::text::truncate(&description.job_status, 64), "unknown JobStatus; polling on until the deadline");
            }
            return Ok(Observation::Unfinished(description));
        }
        // Only a terminal job has a result; asking earlier is an error in QuickSight.
        if let Some(pace) = pace {
            pace.limiter.acquire().await;
        }
        let called = tokio::time::Instant::now();
        let result = quicksight::describe_result(&client, &request.job).await;
        *latency += called.elapsed();
        match result? {
            Ok(result) => Ok(Observation::Finished(description, result)),
            Err(rejection)
                if rejection.may_be_result_lag()
                    && description.finished_within(RESULT_LAG_GRACE, SystemTime::now()) =>
            {
                Ok(Observation::ResultLagging(description, rejection))
            }
            Err(rejection) => Ok(Observation::Rejected {
                rejection,
                description: Some(description),
            }),
        }
    }
}

/// A writer that only counts what it is given.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
