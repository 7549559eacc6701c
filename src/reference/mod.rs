//! Turns whatever an invocation receives into the jobs it is about.
//!
//! Accepted shapes (docs/contract.md, "Input"): API casing, camelCase, the output of
//! StartDashboardSnapshotJob (with its `Arn`), the poller's own previous output, a batch
//! `{"jobs": [...]}` of any of these, and any of these as the `detail` of an EventBridge event.
//! EventBridge Scheduler delivers its input verbatim, so it needs no shape of its own.
//!
//! `invocation` reads the envelope and batches, `job` a reference named by ids or an ARN,
//! `previous` the poller's own output passed back, `ids` checks ids as QuickSight would, and
//! `fields` reads typed fields with messages that name them.

mod caller;
mod fields;
mod ids;
mod invocation;
mod job;
mod previous;
#[cfg(test)]
mod tests;

pub(crate) use caller::{is_namespace, is_role_arn};
pub use caller::{CallerSecrets, IdentityProvider, UserArn};
#[cfg(test)]
pub use invocation::parse_event;
pub use invocation::{parse_invocation, BatchItem, BatchRequest, Invocation};

use crate::arn::SnapshotJobArn;
use crate::carried::Carried;
use crate::contract::{Caller, JobInfo, JobOrigin, LoopKind};

/// A validated reference to one snapshot job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReference {
    /// The partition of the region.
    pub partition: String,
    /// The job's region.
    pub region: String,
    /// The account id (12 digits).
    pub account: String,
    /// The dashboard id.
    pub dashboard: String,
    /// The snapshot job id.
    pub job: String,
}

impl JobReference {
    /// The job's ARN.
    pub fn arn(&self) -> String {
        SnapshotJobArn::format(
            &self.partition,
            &self.region,
            &self.account,
            &self.dashboard,
            &self.job,
        )
    }

    /// The job as the output names it.
    pub fn info(&self) -> JobInfo {
        JobInfo {
            arn: self.arn(),
            partition: self.partition.clone(),
            region: self.region.clone(),
            aws_account_id: self.account.clone(),
            dashboard_id: self.dashboard.clone(),
            snapshot_job_id: self.job.clone(),
        }
    }
}

/// The poll a request follows, when its input was the poller's own previous output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousPoll {
    /// That poll's `attempt`.
    pub attempt: u32,
    /// QuickSight had not shown the job yet on that poll.
    pub unseen: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// One job to poll, with what a wait loop carried to it.
pub struct PollRequest {
    /// The job.
    pub job: JobReference,
    /// Where the job came from: the loop started it (StartDashboardSnapshotJob's answer, or a
    /// previous output that says so), or someone named it. The one origin the output carries.
    pub origin: JobOrigin,
    /// The poll this one follows (None: the first poll of the job).
    pub previous: Option<PreviousPoll>,
    /// What the loop carried over from the previous output (nothing for a first poll).
    pub carried: Carried,
    /// `loop` of the input: who runs the next poll (None: the caller, e.g. a wait loop).
    pub loop_kind: Option<LoopKind>,
    /// Whom to poll as (`roleArn`, a registered user); None: the function.
    pub caller: Option<Caller>,
    /// What the input gave for this invocation only (`identityContext`, `externalId`).
    pub secrets: CallerSecrets,
    /// The caller's own name for the job (`label`), carried to the output, notice and event.
    pub label: Option<String>,
}

/// The longest `label`, in characters.
pub const LABEL_MAX: usize = 256;

/// `label` (or `Label`): 1-256 characters without control characters; null counts as absent.
fn label_of(
    object: &serde_json::Map<String, serde_json::Value>,
    prefix: &str,
) -> Result<Option<String>, crate::error::Error> {
    let fields = fields::Fields { object, prefix };
    let Some(label) = fields.string(&["label", "Label"])? else {
        return Ok(None);
    };
    let count = label.chars().count();
    if count == 0 || count > LABEL_MAX || label.chars().any(char::is_control) {
        return Err(crate::error::Error::invalid(format!(
            "{prefix}label must be 1-{LABEL_MAX} characters without control characters, got {}",
            fields::quoted(label)
        )));
    }
    Ok(Some(label.to_owned()))
}

/// The caller of a reference, and what it gave for this invocation only.
fn caller_of(
    object: &serde_json::Map<String, serde_json::Value>,
    prefix: &str,
) -> Result<(Option<Caller>, CallerSecrets), crate::error::Error> {
    Ok(match caller::read(object, prefix)? {
        Some((caller, secrets)) => (Some(caller), secrets),
        None => (None, CallerSecrets::default()),
    })
}

impl PollRequest {
    /// 1 on the first poll, +1 for each previous output passed back.
    pub fn attempt(&self) -> u32 {
        self.previous
            .map_or(1, |previous| previous.attempt.saturating_add(1))
    }

    /// Whether a ResourceNotFound on this poll may mean QuickSight has not shown a just-started
    /// job yet, rather than that it does not exist.
    pub fn not_found_is_pending(&self, grace_polls: u32) -> bool {
        // Unseen so far: the first poll, or every poll before this one answered not-found.
        let unseen = self.previous.is_none_or(|previous| previous.unseen);
        self.origin == JobOrigin::Started && unseen && self.attempt() <= grace_polls
    }
}

/// `error.type` of a batch job the invocation had no time left to poll.
pub const NOT_POLLED: &str = "NotPolled";
