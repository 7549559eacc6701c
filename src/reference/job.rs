//! A job named in the event: by AwsAccountId, DashboardId and SnapshotJobId (API or camelCase,
//! with an optional Region), or by its ARN, as StartDashboardSnapshotJob answers.

use serde_json::Map;
use serde_json::Value;

use super::fields::{quoted, Fields};
use super::{caller_of, ids, label_of, previous, JobReference, PollRequest};
use crate::arn::{is_valid_region, partition_for_region, SnapshotJobArn};
use crate::carried::Carried;
use crate::contract::JobOrigin;
use crate::error::Error;

/// The fields a reference may name a job by; any of them may be absent.
struct Named<'a> {
    arn: Option<&'a str>,
    account: Option<&'a str>,
    dashboard: Option<&'a str>,
    job: Option<&'a str>,
    region: Option<&'a str>,
}

/// One job reference (or the poller's previous output) as a poll request.
pub(super) fn parse_object(
    object: &Map<String, Value>,
    default_region: Option<&str>,
    prefix: &str,
) -> Result<PollRequest, Error> {
    if object.contains_key("jobs") {
        return Err(Error::invalid(format!(
            "{prefix}jobs: a batch cannot be nested inside a batch or sent where one job is expected"
        )));
    }
    if object.contains_key("job") && object.contains_key("status") {
        return previous::parse(object, prefix);
    }

    let fields = Fields { object, prefix };
    let named = Named {
        arn: fields.string(&["Arn", "arn"])?,
        account: fields.string(&["AwsAccountId", "awsAccountId"])?,
        dashboard: fields.string(&["DashboardId", "dashboardId"])?,
        job: fields.string(&["SnapshotJobId", "snapshotJobId"])?,
        region: fields.string(&["Region", "region"])?,
    };
    let reference = match named.arn {
        Some(arn) => by_arn(arn, &named, prefix)?,
        None => by_ids(&named, default_region, prefix)?,
    };
    ids::validate(&reference, prefix)?;

    // StartDashboardSnapshotJob answers with Arn, SnapshotJobId, RequestId and Status.
    let just_started = object.contains_key("RequestId") && object.contains_key("Status");
    let origin = if just_started {
        JobOrigin::Started
    } else {
        JobOrigin::Named
    };
    let (caller, secrets) = caller_of(object, prefix)?;
    Ok(PollRequest {
        job: reference,
        origin,
        previous: None,
        carried: Carried::default(),
        loop_kind: None,
        caller,
        secrets,
        label: label_of(object, prefix)?,
    })
}

/// The job an ARN names; ids given beside it must agree with it.
fn by_arn(arn: &str, named: &Named, prefix: &str) -> Result<JobReference, Error> {
    let parsed =
        SnapshotJobArn::parse(arn).map_err(|why| Error::invalid(format!("{prefix}{why}")))?;
    for (name, given, from_arn) in [
        ("AwsAccountId", named.account, &parsed.account),
        ("DashboardId", named.dashboard, &parsed.dashboard),
        ("SnapshotJobId", named.job, &parsed.job),
        ("Region", named.region, &parsed.region),
    ] {
        if let Some(given) = given.filter(|given| given != from_arn) {
            return Err(Error::invalid(format!(
                "{prefix}{name} {} does not match the Arn's {}",
                quoted(given),
                quoted(from_arn)
            )));
        }
    }
    Ok(JobReference {
        partition: parsed.partition,
        region: parsed.region,
        account: parsed.account,
        dashboard: parsed.dashboard,
        job: parsed.job,
    })
}

/// The job the three ids name, in the given region or the function's.
fn by_ids(
    named: &Named,
    default_region: Option<&str>,
    prefix: &str,
) -> Result<JobReference, Error> {
    let (Some(account), Some(dashboard), Some(job)) = (named.account, named.dashboard, named.job)
    else {
        let missing: Vec<&str> = [
            ("AwsAccountId", named.account),
            ("DashboardId", named.dashboard),
            ("SnapshotJobId", named.job),
        ]
        .iter()
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| *name)
        .collect();
        return Err(Error::invalid(format!(
            "job reference is missing {prefix}{} (send AwsAccountId, DashboardId and SnapshotJobId in API or camelCase, or the job's Arn)",
            missing.join(&format!(", {prefix}"))
        )));
    };
    let region = resolve_region(named.region, default_region, prefix)?;
    Ok(JobReference {
        partition: partition_for_region(&region).to_owned(),
        region,
        account: account.to_owned(),
        dashboard: dashboard.to_owned(),
        job: job.to_owned(),
    })
}

fn resolve_region(
    given: Option<&str>,
    default_region: Option<&str>,
    prefix: &str,
) -> Result<String, Error> {
    match given {
        Some(region) if is_valid_region(region) => Ok(region.to_owned()),
        Some(region) => Err(Error::invalid(format!(
            "{prefix}Region {} is not an AWS region",
            quoted(region)
        ))),
        None => default_region.map(str::to_owned).ok_or_else(|| {
            Error::invalid(format!(
                "{prefix}Region is missing and the function has no AWS_REGION"
            ))
        }),
    }
}
