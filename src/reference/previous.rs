//! The poller's own previous output, passed back by a wait loop: read through the contract's
//! [`PassedBack`], then its job checked as any reference's is.

use serde_json::{Map, Value};

use super::fields::quoted;
use super::{caller_of, ids, label_of, JobReference, PollRequest, PreviousPoll};
use crate::arn::{is_valid_region, partition_for_region};
use crate::carried::Carried;
use crate::contract::PassedBack;
use crate::error::Error;

pub(super) fn parse(object: &Map<String, Value>, prefix: &str) -> Result<PollRequest, Error> {
    let previous = PassedBack::read(object, prefix)?;
    let job_prefix = format!("{prefix}job.");
    let job = &previous.job;
    if !is_valid_region(&job.region) {
        return Err(Error::invalid(format!(
            "{job_prefix}region {} is not an AWS region",
            quoted(&job.region)
        )));
    }
    let reference = JobReference {
        partition: partition_for_region(&job.region).to_owned(),
        account: job.aws_account_id.clone(),
        dashboard: job.dashboard_id.clone(),
        job: job.snapshot_job_id.clone(),
        region: job.region.clone(),
    };
    ids::validate(&reference, &job_prefix)?;
    let (caller, secrets) = caller_of(object, prefix)?;
    Ok(PollRequest {
        job: reference,
        origin: previous.origin(),
        previous: Some(PreviousPoll {
            attempt: previous.attempt.map_or(1, |n| n.get()),
            unseen: previous.unseen(),
        }),
        carried: Carried::of(&previous),
        loop_kind: None,
        caller,
        secrets,
        label: label_of(object, prefix)?,
    })
}
