//! One job, start to finish: described (and its result read once it is finished), its output
//! built, its notice published when it deserves one and its event put once it is finished, and
//! what it all took measured. A single
//! job's invocation and each job of a batch go through here.

use std::ops::ControlFlow;
use std::time::{Duration, SystemTime};

use tokio::time::{timeout, Instant};

use crate::callers::CallerPolicy;
use crate::contract::PollOutput;
use crate::error::Error;
use crate::job_event::JobEvents;
use crate::metrics::PollMetrics;
use crate::notice::{should_notify, Notifier};
use crate::pace::Pace;
use crate::poll_policy::PollPolicy;
use crate::presign::Presigner;
use crate::quicksight::{self, JobDescription, JobResult, QuickSightClients, Said};
use crate::reference::PollRequest;
use crate::roles::{Assume, Roles};
use crate::runs::RunItem;
use crate::status::{build_output, Observation};
use crate::text::truncate;

/// The most of the time left that the QuickSight calls may use; the rest is kept for the notice.
const QUICKSIGHT_SHARE_PERCENT: u32 = 70;
/// How long after a job's terminal LastUpdatedTime a refused Result call is taken for
/// QuickSight catching up rather than for the answer.
const RESULT_LAG_GRACE: Duration = Duration::from_secs(120);

/// What polling one job gave, and what the poll measured (written once per invocation).
pub struct Polled {
    /// The job's output, or why the poll failed.
    pub result: Result<PollOutput, Error>,
    /// Latency, age, throttling and notice of this poll.
    pub metrics: PollMetrics,
}

/// Polls jobs with the function's QuickSight clients and notifier; built once per cold start.
pub struct Poller {
    /// The wait, the deadline, the grace, notices of clean successes.
    policy: PollPolicy,
    /// Each role's external id, for the jobs that name a `roleArn`.
    callers: CallerPolicy,
    quicksight: QuickSightClients,
    /// None when notices are off (`--no-notify` at a terminal).
    notifier: Option<Notifier>,
    /// Assumes the roles jobs name (`roleArn`); None when `ALLOWED_ROLE_ARNS` is empty.
    roles: Option<Roles>,
    /// Puts each finished job's event; None when `EVENT_BUS_NAME` is empty.
    events: Option<JobEvents>,
}

impl Poller {
    /// A poller with this policy, callers, clients and notifier.
    pub fn new(
        policy: PollPolicy,
        callers: CallerPolicy,
        quicksight: QuickSightClients,
        notifier: Option<Notifier>,
    ) -> Self {
        Poller {
            policy,
            callers,
            quicksight,
            notifier,
            roles: None,
            events: None,
        }
    }

    /// What tells people how jobs end (and a reports run's summary); None: notices off.
    pub fn notifier(&self) -> Option<&Notifier> {
        self.notifier.as_ref()
    }

    /// Polls jobs that name a `roleArn` as that role, with credentials from `roles`.
    pub fn with_roles(mut self, roles: Roles) -> Self {
        self.roles = Some(roles);
        self
    }

    /// Puts an event on the bus for each job that finishes.
    pub fn with_events(mut self, events: JobEvents) -> Self {
        self.events = Some(events);
        self
    }

    /// The policy it polls with.
    pub fn policy(&self) -> &PollPolicy {
        &self.policy
    }

    /// Signs download links for the notices and events that carry files.
    pub fn with_presigner(mut self, presigner: Presigner) -> Self {
        self.events = self
            .events
            .map(|events| events.with_presigner(presigner.clone()));
        self.notifier = self
            .notifier
            .map(|notifier| notifier.with_presigner(presigner));
        self
    }

    /// Tells how the job of `output` ended, by `deadline`, and records it in the output: the
    /// notice when the outcome deserves one (otherwise the run history keeps the end), a
    /// reports run's job's end for the run's summary, and the event once the job is finished. Each is told once per outcome (the ledger), so a retry
    /// after one failed sends only what is missing.
    pub async fn tell(&self, output: &mut PollOutput, deadline: Instant) -> Result<(), Error> {
        let left = || deadline.saturating_duration_since(Instant::now());
        // The notice records itself in `output`: the id is read from a copy.
        let job_id = output.job.snapshot_job_id.clone();
        let run_item = RunItem::of(&job_id);
        // A reports run's job is told by the run's summary, unless its own notices are on too.
        let own_notice = run_item.is_none() || self.policy.report_item_notices;
        if own_notice && should_notify(output, self.policy.notify_on_success) {
            self.notify(output, deadline).await?;
        } else if output.done {
            if let Some(notifier) = &self.notifier {
                // Half the time left at most: the run history must not cost the answer.
                notifier.remember(output, left() / 2).await;
            }
        }
        if let (Some(item), Some(notifier), true) = (run_item, &self.notifier, output.done) {
            notifier.record_run_item(output, item, left()).await?;
        }
        if let Some(events) = self.events.as_ref().filter(|_| output.done) {
            events.announce(output, left()).await?;
        }
        Ok(())
    }

    /// Publishes the notice for `output` by `deadline`, and records it in the output. With
    /// notices off (a terminal's `--no-notify`) nothing is published.
    async fn notify(&self, output: &mut PollOutput, deadline: Instant) -> Result<(), Error> {
        let Some(notifier) = &self.notifier else {
            tracing::info!("notices are off: nothing published");
            return Ok(());
        };
        notifier
            .notify(output, deadline.saturating_duration_since(Instant::now()))
            .await
    }

    /// Polls one job, its answer ready by `deadline`. On its own (`pace` None) its calls go out
    /// as soon as it makes them; in a batch they wait for `pace`'s slots, and a describe that
    /// cannot start in time is not made at all (the output says `NotPolled`).
    pub async fn poll(
        &self,
        request: &PollRequest,
        deadline: Instant,
        pace: Option<&Pace<'_>>,
    ) -> Polled {
        let started = Instant::now();
        let quicksight_budget =
            deadline.saturating_duration_since(started) * QUICKSIGHT_SHARE_PERCENT / 100;
        let (observation, quicksight_latency) =
            match timeout(quicksight_budget, self.observe(request, pace)).await {
                Ok(observed) => observed,
                // Cut off mid-call: the calls' own time is unknown, the whole budget is the bound.
                Err(_) => (
                    Err(Error::QuickSightUnavailable {
                        operation: "DescribeDashboardSnapshotJob",
                        message: crate::text::no_answer_before_deadline(quicksight_budget),
                    }),
                    started.elapsed(),
                ),
            };
        let result = match observation {
            Ok(observation) => self.answer(request, observation, deadline).await,
            Err(err) => Err(err),
        };
        Polled {
            metrics: PollMetrics::of(&result, quicksight_latency),
            result,
        }
    }

    /// The output of what the poll saw, told (notice, event) and logged.
    async fn answer(
        &self,
        request: &PollRequest,
        observation: Observation,
        deadline: Instant,
    ) -> Result<PollOutput, Error> {
        let mut output = build_output(request, observation, SystemTime::now(), &self.policy);

        self.tell(&mut output, deadline).await?;

        tracing::info!(
            // Bounded: a log line stays under 1 KB whatever the ids.
            job = %truncate(&output.job.arn, 300),
            attempt = output.attempt,
            status = output.status.as_str(),
            job_status = %truncate(output.job_status.as_deref().unwrap_or("-"), 64),
            wait_seconds = output.wait_seconds,
            error_type = %truncate(output.error.as_ref().map_or("-", |e| e.kind.as_str()), 100),
            notified = output.notification.is_some(),
            event = output.event.is_some(),
            "polled"
        );
        // S3 URIs may carry tenant names: debug only.
        tracing::debug!(results = ?output.results, "results");
        Ok(output)
    }

    /// Describes the job (and reads its result once it is finished); answers what it saw with
    /// the time spent in QuickSight calls, not in the rate limiter's waits.
    async fn observe(
        &self,
        request: &PollRequest,
        pace: Option<&Pace<'_>>,
    ) -> (Result<Observation, Error>, Duration) {
        let mut latency = Duration::ZERO;
        let observation: Result<Observation, Error> = async {
            if let Some(pace) = pace {
                if !pace.limiter.acquire_by(pace.start_by).await {
                    return Ok(Observation::NotPolled);
                }
            }
            let client = self.client_for(request).await?;
            let called = Instant::now();
            let described = self.refused_credentials_forgotten(
                request,
                quicksight::describe(&client, &request.job).await,
            );
            latency += called.elapsed();
            let description = match self.described(request, described?) {
                ControlFlow::Continue(description) => description,
                ControlFlow::Break(observation) => return Ok(observation),
            };
            // Only a terminal job has a result; asking earlier is an error in QuickSight.
            if let Some(pace) = pace {
                pace.limiter.acquire().await;
            }
            let called = Instant::now();
            let result = self.refused_credentials_forgotten(
                request,
                quicksight::describe_result(&client, &request.job).await,
            );
            latency += called.elapsed();
            Ok(finished(description, result?))
        }
        .await;
        (observation, latency)
    }

    /// What a describe's answer says: a job to read the result of (it is terminal), or what
    /// the poll saw (not visible yet, refused, unfinished).
    fn described(
        &self,
        request: &PollRequest,
        said: Said<JobDescription>,
    ) -> ControlFlow<Observation, JobDescription> {
        let description = match said {
            Said::Answer(description) => description,
            Said::Refusal(rejection)
                if rejection.is_not_found()
                    && request.not_found_is_pending(self.policy.not_found_grace_polls) =>
            {
                return ControlFlow::Break(Observation::NotVisibleYet);
            }
            Said::Refusal(rejection) => {
                return ControlFlow::Break(Observation::Rejected {
                    rejection,
                    description: None,
                })
            }
        };
        if description.is_terminal() {
            return ControlFlow::Continue(description);
        }
        if !matches!(description.job_status.as_str(), "QUEUED" | "RUNNING") {
            tracing::warn!(job_status = %truncate(&description.job_status, 64), "unknown JobStatus; polling on until the deadline");
        }
        ControlFlow::Break(Observation::Unfinished(description))
    }

    /// The client the job is polled with: the function's own, or one signing as the job's
    /// `roleArn` (assumed now, or cached).
    async fn client_for(&self, request: &PollRequest) -> Result<aws_sdk_quicksight::Client, Error> {
        let region = &request.job.region;
        let Some(assume) = Assume::of(request, &self.callers) else {
            return Ok(self.quicksight.for_region(region));
        };
        let Some(roles) = &self.roles else {
            // The gate refused the job before any call; a Poller built without roles
            // for a function that allows some is a wiring mistake, not the job's.
            return Err(Error::invalid(
                "roleArn: this function cannot assume roles (ALLOWED_ROLE_ARNS is empty)",
            ));
        };
        let credentials = roles
            .credentials(&assume, &request.job, &self.quicksight)
            .await?;
        Ok(self.quicksight.for_region_as(region, credentials))
    }

    /// Passes `outcome` on; credentials QuickSight refused (an assumed session that expired or
    /// was revoked) are forgotten first, so the retried poll assumes the role afresh.
    fn refused_credentials_forgotten<T>(
        &self,
        request: &PollRequest,
        outcome: quicksight::CallOutcome<T>,
    ) -> quicksight::CallOutcome<T> {
        if let (Err(Error::CredentialsError { .. }), Some(assume), Some(roles)) =
            (&outcome, Assume::of(request, &self.callers), &self.roles)
        {
            roles.forget(&assume, &request.job);
        }
        outcome
    }
}

/// What a finished job's Result call says: its files, or a refusal that is QuickSight catching
/// up (moments after the job finished) or final.
fn finished(description: JobDescription, said: Said<JobResult>) -> Observation {
    match said {
        Said::Answer(result) => Observation::Finished(description, result),
        Said::Refusal(rejection)
            if rejection.may_be_result_lag()
                && description.finished_within(RESULT_LAG_GRACE, SystemTime::now()) =>
        {
            Observation::ResultLagging(description, rejection)
        }
        Said::Refusal(rejection) => Observation::Rejected {
            rejection,
            description: Some(description),
        },
    }
}
