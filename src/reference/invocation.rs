//! The invocation's envelope: one job or a batch, possibly inside an EventBridge event.

use serde_json::{Map, Value};

use super::fields::{as_object, kind_of};
use super::{job, PollRequest, NOT_POLLED};
use crate::contract::{LoopKind, PollOutput};
use crate::error::Error;
use crate::runs::{SummarizeRequest, SurveyRequest};

/// One invocation's work: one job, or a batch of jobs.
// Built once per invocation and consumed: boxing the single job would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// One job reference.
    Single(PollRequest),
    /// A batch `{"jobs": [...]}`.
    Batch(BatchRequest),
    /// The end of a reports run: `{"summarize": {...}}`.
    Summarize(SummarizeRequest),
    /// The start of a reports run: `{"survey": {"reports": ...}}`.
    Survey(SurveyRequest),
}

#[derive(Debug, Clone, PartialEq)]
/// A batch's jobs and its round.
pub struct BatchRequest {
    /// The jobs, in input order.
    pub items: Vec<BatchItem>,
    /// The batch's previous `attempt` (0 on the first poll).
    pub previous_attempt: u32,
    /// `loop` of the input: who runs the next round (None: the caller).
    pub loop_kind: Option<LoopKind>,
}

impl Invocation {
    /// Who runs the next poll, when the input asks the poller to.
    pub fn loop_kind(&self) -> Option<LoopKind> {
        match self {
            Invocation::Single(request) => request.loop_kind,
            Invocation::Batch(batch) => batch.loop_kind,
            Invocation::Summarize(_) | Invocation::Survey(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
/// One job of a batch.
// Most items are polled; boxing them to shrink the carried-over ones would cost each poll.
#[allow(clippy::large_enum_variant)]
pub enum BatchItem {
    /// `overdue`: the previous round ran out of time before polling this job, so it goes first.
    Poll {
        /// The job.
        request: PollRequest,
        /// The previous round had no time for it: it goes first.
        overdue: bool,
    },
    /// A job a previous poll already saw finished: carried over, never polled again.
    Finished(Box<PollOutput>),
}

/// Reads an invocation's event: a batch `{"jobs": [...]}` or one job reference, either of them
/// possibly inside an EventBridge event.
pub fn parse_invocation(
    event: &Value,
    default_region: Option<&str>,
    max_batch: usize,
) -> Result<Invocation, Error> {
    let mut object = as_object(event, "the event")?;
    if let Some(summarize) = object.get("summarize") {
        return SummarizeRequest::parse(summarize).map(Invocation::Summarize);
    }
    if let Some(survey) = object.get("survey") {
        return SurveyRequest::parse(survey).map(Invocation::Survey);
    }
    let mut prefix = "";
    if let Some(detail) = eventbridge_detail(object) {
        object = as_object(detail, "the EventBridge event's detail")?;
        prefix = "detail.";
    }
    let loop_kind = loop_kind(object, prefix)?;
    let Some(jobs) = object.get("jobs") else {
        let mut request = job::parse_object(object, default_region, prefix)?;
        request.loop_kind = loop_kind;
        return Ok(Invocation::Single(request));
    };
    let Value::Array(jobs) = jobs else {
        return Err(Error::invalid(format!(
            "{prefix}jobs must be an array of job references, got {}",
            kind_of(jobs)
        )));
    };
    if jobs.is_empty() || jobs.len() > max_batch {
        return Err(Error::invalid(format!(
            "{prefix}jobs must hold 1 to {max_batch} job references (BATCH_MAX_JOBS), got {}",
            jobs.len()
        )));
    }
    let items = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| batch_item(job, default_region, &format!("{prefix}jobs[{i}]")))
        .collect::<Result<Vec<_>, Error>>()?;
    let previous_attempt = object
        .get("attempt")
        .and_then(Value::as_u64)
        .map_or(0, |n| n.min(u64::from(u32::MAX)) as u32);
    Ok(Invocation::Batch(BatchRequest {
        items,
        previous_attempt,
        loop_kind,
    }))
}

/// One job of a batch, at `place` (`jobs[3]`): a finished job's output, carried over as it is,
/// or a job to poll (first, when the last round had no time for it).
fn batch_item(job: &Value, default_region: Option<&str>, place: &str) -> Result<BatchItem, Error> {
    let here = format!("{place}.");
    let job_object = as_object(job, place)?;
    if job_object.get("done") == Some(&Value::Bool(true)) {
        let finished: PollOutput = serde_json::from_value(job.clone()).map_err(|e| {
            Error::invalid(crate::text::truncate(
                &format!("{here}: a finished job's output is not valid: {e}"),
                300,
            ))
        })?;
        // A "finished" job still IN_PROGRESS would be carried over unpolled for ever.
        if !finished.status.is_done() {
            return Err(Error::invalid(format!(
                "{here}status {} contradicts done: true",
                finished.status.as_str()
            )));
        }
        return Ok(BatchItem::Finished(Box::new(finished)));
    }
    let overdue = job_object
        .get("error")
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        == Some(NOT_POLLED);
    job::parse_object(job_object, default_region, &here)
        .map(|request| BatchItem::Poll { request, overdue })
}

/// Reads the one job reference out of an event; a batch is refused here (the tests' way in:
/// the function itself reads every event as an invocation).
#[cfg(test)]
pub fn parse_event(event: &Value, default_region: Option<&str>) -> Result<PollRequest, Error> {
    match parse_invocation(event, default_region, usize::MAX)? {
        Invocation::Single(request) => Ok(request),
        Invocation::Batch(_) | Invocation::Summarize(_) | Invocation::Survey(_) => Err(
            Error::invalid("jobs: a batch was sent where one job reference is expected"),
        ),
    }
}

/// `loop`: absent or null (the caller runs the next poll), or `scheduler`.
fn loop_kind(object: &Map<String, Value>, prefix: &str) -> Result<Option<LoopKind>, Error> {
    match object.get("loop") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(kind)) if kind == "scheduler" => Ok(Some(LoopKind::Scheduler)),
        Some(other) => Err(Error::invalid(format!(
            "{prefix}loop must be \"scheduler\" or absent, got {}",
            crate::text::quote(&other.to_string())
        ))),
    }
}

/// EventBridge rule targets receive the whole event; the reference is its `detail`.
fn eventbridge_detail(object: &Map<String, Value>) -> Option<&Value> {
    let is_envelope = object.contains_key("detail-type") || object.contains_key("source");
    object.get("detail").filter(|_| is_envelope)
}
