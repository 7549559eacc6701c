//! The poller's own previous output, passed back by a wait loop: the job, the attempt, and
//! the loop state it carried.

use serde_json::{Map, Value};

use super::fields::{as_object, kind_of, quoted, Fields};
use super::{caller_of, ids, label_of, JobReference, PollRequest, PreviousPoll};
use crate::arn::{is_valid_region, partition_for_region};
use crate::carried::{started_by_loop, Carried};
use crate::contract::JobOrigin;
use crate::error::Error;

pub(super) fn parse(
    object: &Map<String, Value>,
    job: &Value,
    prefix: &str,
) -> Result<PollRequest, Error> {
    let job_prefix = format!("{prefix}job.");
    let job = as_object(job, &format!("{prefix}job"))?;
    let fields = Fields {
        object: job,
        prefix: &job_prefix,
    };
    let require = |names: &[&str]| -> Result<String, Error> {
        fields.string(names)?.map(str::to_owned).ok_or_else(|| {
            Error::invalid(format!(
                "previous output is missing {job_prefix}{}",
                names[0]
            ))
        })
    };
    let region = require(&["region"])?;
    if !is_valid_region(&region) {
        return Err(Error::invalid(format!(
            "{job_prefix}region {} is not an AWS region",
            quoted(&region)
        )));
    }
    let reference = JobReference {
        partition: partition_for_region(&region).to_owned(),
        account: require(&["awsAccountId"])?,
        dashboard: require(&["dashboardId"])?,
        job: require(&["snapshotJobId"])?,
        region,
    };
    ids::validate(&reference, &job_prefix)?;

    let attempt = match object.get("attempt") {
        None | Some(Value::Null) => 1,
        Some(value) => value
            .as_u64()
            .filter(|n| (1..=u64::from(u32::MAX)).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{prefix}attempt must be a whole number of at least 1, got {}",
                    kind_of(value)
                ))
            })?,
    };
    let unseen = object.get("status").and_then(Value::as_str) == Some("IN_PROGRESS")
        && object.get("jobStatus").is_none_or(Value::is_null);
    let started = started_by_loop(object, unseen, prefix)?;
    let (caller, secrets) = caller_of(object, prefix)?;
    Ok(PollRequest {
        job: reference,
        origin: if started {
            JobOrigin::Started
        } else {
            JobOrigin::Named
        },
        previous: Some(PreviousPoll { attempt, unseen }),
        carried: Carried::read(object, prefix)?,
        loop_kind: None,
        caller,
        secrets,
        label: label_of(object, prefix)?,
    })
}
