//! The function's entry: an event in, one answer out, and one metrics line per invocation.
//! The event is read and checked at the gate, then handed to the [`Poller`] (one job) or to the
//! batch; whatever happens, the invocation's metrics are written here, once.
//!
//! One job's path to QuickSight is three calls deep: [`App::handle`] → `App::answer` →
//! `Poller::poll` → `Poller::observe`, which makes the first QuickSight call.

use std::time::{Duration, SystemTime};

use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::time::Instant;

use crate::batch::{self, BatchLimits};
use crate::chain::Chain;
use crate::config::Config;
use crate::contract::{Answer, LoopKind};
use crate::error::Error;
use crate::gate::Gate;
use crate::job_event::JobEvents;
use crate::metrics::{InvocationMetrics, Outcome, PollMetrics, Sink};
use crate::notice::Notifier;
use crate::poller::{Polled, Poller};
use crate::presign::Presigner;
use crate::quicksight::QuickSightClients;
use crate::reference::{parse_invocation, BatchItem, Invocation};
use crate::roles::Roles;
use crate::runs::Runs;

/// Kept back from the Lambda deadline so the runtime can still post the answer.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);
/// Time allowed when the invocation's deadline is unusable (already past).
const UNKNOWN_DEADLINE_BUDGET: Duration = Duration::from_secs(30);

/// Built once per cold start and shared by every invocation of the execution environment.
pub struct App {
    poller: Poller,
    /// What is refused before any call.
    gate: Gate,
    /// What a batch may do.
    batch: BatchLimits,
    /// The function's region: references that name none are there.
    region: Option<String>,
    /// Names the metrics of this function.
    function_name: Option<String>,
    /// Surveys and summarizes reports runs; None: both are refused.
    runs: Option<Runs>,
    /// Schedules the next poll of a `"loop": "scheduler"` input; None: such inputs are refused.
    chain: Option<Chain>,
    metrics: Sink,
}

impl App {
    /// An app that polls with these clients and notifies through `notifier` (None: notices
    /// off), writing no metrics. It keeps the parts of `config` it reads itself (the gate, the
    /// batch limits, the region, the function's name) and gives the Poller its policy; the
    /// rest was `setup`'s.
    pub fn new(config: Config, quicksight: QuickSightClients, notifier: Option<Notifier>) -> Self {
        let poller = Poller::new(
            config.poll,
            config.gate.callers().clone(),
            quicksight,
            notifier,
        );
        App {
            poller,
            gate: config.gate,
            batch: config.batch,
            region: config.region,
            function_name: config.function_name,
            runs: None,
            chain: None,
            metrics: Sink::Off,
        }
    }

    /// Signs a download link for each `s3://` result of a notice or an event.
    pub fn with_presigner(mut self, presigner: Presigner) -> Self {
        self.poller = self.poller.with_presigner(presigner);
        self
    }

    /// Puts an event on the bus for each job that finishes.
    pub fn with_events(mut self, events: JobEvents) -> Self {
        self.poller = self.poller.with_events(events);
        self
    }

    /// Polls jobs that name a `roleArn` as that role.
    pub fn with_roles(mut self, roles: Roles) -> Self {
        self.poller = self.poller.with_roles(roles);
        self
    }

    /// Surveys reports runs' manifests, and summarizes the runs from the ledger's records.
    pub fn with_runs(mut self, runs: Runs) -> Self {
        self.runs = Some(runs);
        self
    }

    /// Schedules the next poll itself when an input says `"loop": "scheduler"`.
    pub fn with_chain(mut self, chain: Chain) -> Self {
        self.chain = Some(chain);
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
        let time_left = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .ok()
            .filter(|left| !left.is_zero())
            .unwrap_or(UNKNOWN_DEADLINE_BUDGET);
        let invoked = Some(event.context.invoked_function_arn.as_str());
        let invocation = crate::event::parse_raw(&event.payload, self.gate.max_event_bytes)
            .and_then(|event| self.read(&event, invoked));
        self.answer(invocation, time_left, invoked).await
    }

    /// The largest event this function reads (`MAX_EVENT_BYTES`).
    pub fn max_event_bytes(&self) -> usize {
        self.gate.max_event_bytes
    }

    /// Answers one invocation: a single job reference, or a batch `{"jobs": [...]}`.
    pub async fn invoke(&self, event: &Value, time_left: Duration) -> Result<Answer, Error> {
        self.answer(self.read(event, None), time_left, None).await
    }

    /// The invocation `event` asks for, if the gate lets it through.
    fn read(&self, event: &Value, invoked: Option<&str>) -> Result<Invocation, Error> {
        let invocation = parse_invocation(event, self.region.as_deref(), self.batch.max_jobs)?;
        self.permitted(invocation, invoked)
    }

    /// Polls what the invocation names, checks the answer's size, schedules the next poll of a
    /// chain, and writes the invocation's one metrics line, whatever the outcome. `invoked`: the
    /// function's ARN as Lambda invoked it.
    async fn answer(
        &self,
        invocation: Result<Invocation, Error>,
        time_left: Duration,
        invoked: Option<&str>,
    ) -> Result<Answer, Error> {
        let deadline = Instant::now() + time_left.saturating_sub(DEADLINE_MARGIN);
        let (result, polls) = match invocation {
            Err(refused) => (Err(refused), Vec::new()),
            Ok(Invocation::Single(request)) => {
                let Polled { result, metrics } = self.poller.poll(&request, deadline, None).await;
                (result.map(|o| Answer::Single(Box::new(o))), vec![metrics])
            }
            Ok(Invocation::Batch(batch)) => {
                let (result, polls) =
                    batch::poll_batch(&self.poller, &self.batch, batch, deadline).await;
                (result.map(Answer::Batch), polls)
            }
            Ok(Invocation::Summarize(request)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let notifier = self.poller.notifier();
                let summary = match &self.runs {
                    Some(runs) => runs.summarize(&request, notifier, left).await,
                    None => Err(no_runs("summarize")),
                };
                (summary.map(Answer::Summary), Vec::new())
            }
            Ok(Invocation::Survey(request)) => {
                let survey = match &self.runs {
                    Some(runs) => runs.survey(&request).await,
                    None => Err(no_runs("survey")),
                };
                (survey.map(Answer::Survey), Vec::new())
            }
        };
        let result = match result.and_then(|answer| self.within_output_budget(answer)) {
            Ok(answer) if answer.loop_kind() == Some(LoopKind::Scheduler) && !answer.done() => {
                self.schedule_next(answer, invoked, deadline).await
            }
            other => other,
        };
        self.write_metrics(Outcome::of(&result, Answer::status), &polls);
        result
    }

    /// Refuses, before any call, an invocation naming a job outside the allow-lists (one bad
    /// job of a batch refuses the whole batch), or asking for a chain this function cannot make.
    fn permitted(
        &self,
        invocation: Invocation,
        invoked: Option<&str>,
    ) -> Result<Invocation, Error> {
        if invocation.loop_kind() == Some(LoopKind::Scheduler) {
            match &self.chain {
                None => {
                    return Err(Error::invalid(
                        "loop: \"scheduler\" needs SCHEDULE_GROUP_NAME and SCHEDULE_ROLE_ARN, \
                         which this function does not have",
                    ))
                }
                Some(chain) if chain.target(invoked).is_none() => {
                    return Err(Error::invalid(
                        "loop: \"scheduler\" outside Lambda needs SCHEDULE_TARGET_ARN, the \
                         function the next poll invokes",
                    ))
                }
                Some(_) => {}
            }
        }
        match &invocation {
            Invocation::Single(request) => self.gate.permits(request, request.loop_kind)?,
            Invocation::Batch(batch) => {
                for item in &batch.items {
                    if let BatchItem::Poll { request, .. } = item {
                        self.gate.permits(request, batch.loop_kind)?;
                    }
                }
            }
            // Names no job: it reads the function's own records of a run, or its manifest.
            Invocation::Summarize(_) | Invocation::Survey(_) => {}
        }
        Ok(invocation)
    }

    /// Refuses an answer a state machine could not pass on: `States.DataLimitExceeded` cannot
    /// be caught, `OutputTooLarge` can (and is notified).
    fn within_output_budget(&self, answer: Answer) -> Result<Answer, Error> {
        let max = self.gate.max_output_bytes;
        // Counted, not written out: the runtime serializes the answer once more to send it.
        let mut counter = ByteCount(0);
        let bytes = serde_json::to_writer(&mut counter, &answer).map_or(0, |()| counter.0);
        if bytes > max {
            let err = Error::OutputTooLarge { bytes, max };
            tracing::error!(error_type = err.error_type(), "{}", err.message());
            return Err(err);
        }
        Ok(answer)
    }

    /// Creates the schedule of the next poll and records it in the answer.
    async fn schedule_next(
        &self,
        mut answer: Answer,
        invoked: Option<&str>,
        deadline: Instant,
    ) -> Result<Answer, Error> {
        let Some((chain, target)) = self
            .chain
            .as_ref()
            .and_then(|chain| chain.target(invoked).map(|target| (chain, target)))
        else {
            // permitted() refused such an invocation before any poll.
            return Err(Error::SchedulingFailed {
                message: "no schedule group, role or target".into(),
            });
        };
        let next = chain
            .schedule_next(&answer, target, deadline)
            .await
            .inspect_err(|err| {
                tracing::error!(error_type = err.error_type(), "{}", err.message())
            })?;
        tracing::info!(schedule = %next.schedule_name, at = %next.at, "next poll scheduled");
        answer.set_next_poll(next);
        Ok(answer)
    }

    /// Writes the invocation's metrics line, named for this function.
    fn write_metrics(&self, outcome: Outcome, polls: &[PollMetrics]) {
        InvocationMetrics::of(outcome, polls)
            .for_function(self.function_name.as_deref())
            .emit(&self.metrics);
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

/// Why a reports run's invocation is refused by a function that keeps no records of runs.
fn no_runs(what: &str) -> Error {
    Error::invalid(format!(
        "{what}: this function keeps no records of reports runs (LEDGER_TABLE_NAME)"
    ))
}
