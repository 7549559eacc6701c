//! Turns whatever an invocation receives into the one job it is about.
//!
//! Accepted shapes (README.md, "Input"): API casing, camelCase, the output of
//! StartDashboardSnapshotJob (with its `Arn`), the poller's own previous output, and any of these
//! as the `detail` of an EventBridge event. EventBridge Scheduler delivers its input verbatim, so
//! it needs no shape of its own.

use serde_json::{Map, Value};

use crate::arn::{is_valid_region, partition_for_region, SnapshotJobArn};
use crate::carried::{started_by_loop, Carried};
use crate::contract::{JobInfo, JobOrigin, PollOutput};
use crate::error::Error;

/// A validated reference to one snapshot job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReference {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub dashboard: String,
    pub job: String,
}

impl JobReference {
    pub fn arn(&self) -> String {
        SnapshotJobArn::format(
            &self.partition,
            &self.region,
            &self.account,
            &self.dashboard,
            &self.job,
        )
    }

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

/// Where the reference came from, which decides the attempt count and whether a not-found
/// may still mean "not visible yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Someone named an existing job.
    Named,
    /// StartDashboardSnapshotJob's output: the job was accepted moments ago.
    JustStarted,
    /// The poller's own previous output, passed back by a wait loop.
    Previous {
        attempt: u32,
        /// QuickSight had not shown the job yet on that poll.
        unseen: bool,
        /// The loop itself started the job (the output's `origin`).
        started: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRequest {
    pub job: JobReference,
    pub origin: Origin,
    /// What the loop carried over from the previous output (nothing for a first poll).
    pub carried: Carried,
}

impl PollRequest {
    /// 1 on the first poll, +1 for each previous output passed back.
    pub fn attempt(&self) -> u32 {
        match self.origin {
            Origin::Previous { attempt, .. } => attempt.saturating_add(1),
            _ => 1,
        }
    }

    /// Whether a ResourceNotFound on this poll may mean QuickSight has not shown a just-started
    /// job yet, rather than that it does not exist.
    pub fn not_found_is_pending(&self, grace_polls: u32) -> bool {
        let just_started = match self.origin {
            Origin::JustStarted => true,
            Origin::Previous {
                unseen, started, ..
            } => unseen && started,
            Origin::Named => false,
        };
        just_started && self.attempt() <= grace_polls
    }

    /// What the output says of the job's origin, for the next poll.
    pub fn job_origin(&self) -> JobOrigin {
        match self.origin {
            Origin::JustStarted | Origin::Previous { started: true, .. } => JobOrigin::Started,
            Origin::Named | Origin::Previous { started: false, .. } => JobOrigin::Named,
        }
    }
}

/// `error.type` of a batch job the invocation had no time left to poll.
pub const NOT_POLLED: &str = "NotPolled";

/// One invocation's work: one job, or a batch of jobs.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    Single(PollRequest),
    Batch(BatchRequest),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchRequest {
    pub items: Vec<BatchItem>,
    /// The batch's previous `attempt` (0 on the first poll).
    pub previous_attempt: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BatchItem {
    /// `overdue`: the previous round ran out of time before polling this job, so it goes first.
    Poll { request: PollRequest, overdue: bool },
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
    let mut prefix = "";
    if let Some(detail) = eventbridge_detail(object) {
        object = as_object(detail, "the EventBridge event's detail")?;
        prefix = "detail.";
    }
    let Some(jobs) = object.get("jobs") else {
        return parse_object(object, default_region, prefix).map(Invocation::Single);
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
        .map(|(i, job)| {
            let here = format!("{prefix}jobs[{i}].");
            let job_object = as_object(job, &format!("{prefix}jobs[{i}]"))?;
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
            parse_object(job_object, default_region, &here)
                .map(|request| BatchItem::Poll { request, overdue })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let previous_attempt = object
        .get("attempt")
        .and_then(Value::as_u64)
        .map_or(0, |n| n.min(u64::from(u32::MAX)) as u32);
    Ok(Invocation::Batch(BatchRequest {
        items,
        previous_attempt,
    }))
}

/// Reads the one job reference out of an event; a batch is refused here.
pub fn parse_event(event: &Value, default_region: Option<&str>) -> Result<PollRequest, Error> {
    match parse_invocation(event, default_region, usize::MAX)? {
        Invocation::Single(request) => Ok(request),
        Invocation::Batch(_) => Err(Error::invalid(
            "jobs: a batch was sent where one job reference is expected",
        )),
    }
}

/// EventBridge rule targets receive the whole event; the reference is its `detail`.
fn eventbridge_detail(object: &Map<String, Value>) -> Option<&Value> {
    let is_envelope = object.contains_key("detail-type") || object.contains_key("source");
    object.get("detail").filter(|_| is_envelope)
}

fn as_object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Error> {
    value.as_object().ok_or_else(|| {
        Error::invalid(format!(
            "{what} must be a JSON object holding a job reference (AwsAccountId, DashboardId, SnapshotJobId, or Arn), got {}",
            kind_of(value)
        ))
    })
}

fn parse_object(
    object: &Map<String, Value>,
    default_region: Option<&str>,
    prefix: &str,
) -> Result<PollRequest, Error> {
    if object.contains_key("jobs") {
        return Err(Error::invalid(format!(
            "{prefix}jobs: a batch cannot be nested inside a batch or sent where one job is expected"
        )));
    }
    if let Some(job) = object.get("job").filter(|_| object.contains_key("status")) {
        return parse_previous_output(object, job, prefix);
    }

    let fields = Fields { object, prefix };
    let arn = fields.string(&["Arn", "arn"])?;
    let account = fields.string(&["AwsAccountId", "awsAccountId"])?;
    let dashboard = fields.string(&["DashboardId", "dashboardId"])?;
    let job = fields.string(&["SnapshotJobId", "snapshotJobId"])?;
    let region = fields.string(&["Region", "region"])?;

    let reference = match arn {
        Some(arn) => {
            let parsed = SnapshotJobArn::parse(arn)
                .map_err(|why| Error::invalid(format!("{prefix}{why}")))?;
            for (name, given, from_arn) in [
                ("AwsAccountId", account, &parsed.account),
                ("DashboardId", dashboard, &parsed.dashboard),
                ("SnapshotJobId", job, &parsed.job),
                ("Region", region, &parsed.region),
            ] {
                if let Some(given) = given.filter(|given| given != from_arn) {
                    return Err(Error::invalid(format!(
                        "{prefix}{name} {} does not match the Arn's {}",
                        quoted(given),
                        quoted(from_arn)
                    )));
                }
            }
            JobReference {
                partition: parsed.partition,
                region: parsed.region,
                account: parsed.account,
                dashboard: parsed.dashboard,
                job: parsed.job,
            }
        }
        None => {
            let missing: Vec<&str> = [
                ("AwsAccountId", account),
                ("DashboardId", dashboard),
                ("SnapshotJobId", job),
            ]
            .iter()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| *name)
            .collect();
            let (Some(account), Some(dashboard), Some(job)) = (account, dashboard, job) else {
                return Err(Error::invalid(format!(
                    "job reference is missing {prefix}{} (send AwsAccountId, DashboardId and SnapshotJobId in API or camelCase, or the job's Arn)",
                    missing.join(&format!(", {prefix}"))
                )));
            };
            let region = resolve_region(region, default_region, prefix)?;
            JobReference {
                partition: partition_for_region(&region).to_owned(),
                region,
                account: account.to_owned(),
                dashboard: dashboard.to_owned(),
                job: job.to_owned(),
            }
        }
    };
    validate(&reference, prefix)?;

    // StartDashboardSnapshotJob answers with Arn, SnapshotJobId, RequestId and Status.
    let just_started = object.contains_key("RequestId") && object.contains_key("Status");
    let origin = if just_started {
        Origin::JustStarted
    } else {
        Origin::Named
    };
    Ok(PollRequest {
        job: reference,
        origin,
        carried: Carried::default(),
    })
}

fn parse_previous_output(
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
    validate(&reference, &job_prefix)?;

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
    Ok(PollRequest {
        job: reference,
        origin: Origin::Previous {
            attempt,
            unseen,
            started,
        },
        carried: Carried::read(object, prefix)?,
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

/// The service's own rules, checked before any call so a bad id never reaches a request path.
fn validate(reference: &JobReference, prefix: &str) -> Result<(), Error> {
    let account_ok =
        reference.account.len() == 12 && reference.account.bytes().all(|b| b.is_ascii_digit());
    if !account_ok {
        return Err(Error::invalid(format!(
            "{prefix}AwsAccountId must be exactly 12 digits, got {}",
            quoted(&reference.account)
        )));
    }
    for (name, id) in [
        ("DashboardId", &reference.dashboard),
        ("SnapshotJobId", &reference.job),
    ] {
        let ok = (1..=512).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(Error::invalid(format!(
                "{prefix}{name} must be 1-512 characters of letters, digits, '_' or '-', got {}",
                quoted(id)
            )));
        }
    }
    Ok(())
}

struct Fields<'a> {
    object: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    /// The first of `names` present as a string; null counts as absent, any other type is an error.
    fn string(&self, names: &[&str]) -> Result<Option<&'a str>, Error> {
        for name in names {
            match self.object.get(*name) {
                None | Some(Value::Null) => continue,
                Some(Value::String(value)) => return Ok(Some(value.as_str())),
                Some(other) => {
                    return Err(Error::invalid(format!(
                        "{}{name} must be a string, got {}",
                        self.prefix,
                        kind_of(other)
                    )))
                }
            }
        }
        Ok(None)
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Quotes a value for an error message, cut short so a huge input cannot bloat the error.
fn quoted(value: &str) -> String {
    crate::text::quote(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REGION: Option<&str> = Some("us-east-1");

    fn parse(event: Value) -> Result<PollRequest, Error> {
        parse_event(&event, REGION)
    }

    fn message(event: Value) -> String {
        let err = parse(event).expect_err("should be rejected");
        assert_eq!(err.error_type(), "InvalidJobReference");
        err.to_string()
    }

    #[test]
    fn api_casing_reference_uses_the_default_region() {
        let request = parse(
            json!({"AwsAccountId": "123456789012", "DashboardId": "d-1", "SnapshotJobId": "j_1"}),
        )
        .unwrap();
        assert_eq!(request.job.region, "us-east-1");
        assert_eq!(request.job.partition, "aws");
        assert_eq!(request.origin, Origin::Named);
        assert_eq!(request.attempt(), 1);
    }

    #[test]
    fn camel_case_reference_with_region_picks_the_partition() {
        let request = parse(json!({"awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j", "region": "cn-north-1"})).unwrap();
        assert_eq!(request.job.region, "cn-north-1");
        assert_eq!(request.job.partition, "aws-cn");
    }

    #[test]
    fn start_output_is_a_just_started_job_in_the_arns_region() {
        let request = parse(json!({
            "Arn": "arn:aws-us-gov:quicksight:us-gov-west-1:123456789012:dashboard/d/snapshot-job/j",
            "SnapshotJobId": "j", "RequestId": "r-1", "Status": 202
        }))
        .unwrap();
        assert_eq!(request.job.region, "us-gov-west-1");
        assert_eq!(request.job.partition, "aws-us-gov");
        assert_eq!(request.origin, Origin::JustStarted);
        assert!(request.not_found_is_pending(2));
    }

    #[test]
    fn previous_output_counts_the_attempt() {
        let request = parse(json!({
            "status": "IN_PROGRESS", "jobStatus": "RUNNING", "attempt": 4,
            "job": {"arn": "x", "partition": "aws", "region": "eu-west-1", "awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j"}
        }))
        .unwrap();
        assert_eq!(request.attempt(), 5);
        assert_eq!(request.job.region, "eu-west-1");
        assert!(!request.not_found_is_pending(10));
    }

    #[test]
    fn not_found_grace_ends_after_the_configured_polls() {
        let previous = |attempt: u32| {
            parse(json!({
                "status": "IN_PROGRESS", "jobStatus": null, "attempt": attempt,
                "job": {"region": "us-east-1", "awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j"}
            }))
            .unwrap()
        };
        assert!(previous(1).not_found_is_pending(2));
        assert!(!previous(2).not_found_is_pending(2));
    }

    #[test]
    fn named_job_gets_no_not_found_grace() {
        let request = parse(
            json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "j"}),
        )
        .unwrap();
        assert!(!request.not_found_is_pending(5));
    }

    #[test]
    fn eventbridge_rule_event_is_unwrapped() {
        let request = parse(json!({
            "version": "0", "id": "e", "detail-type": "Snapshot job started", "source": "my.app",
            "detail": {"awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j"}
        }))
        .unwrap();
        assert_eq!(request.job.job, "j");
    }

    #[test]
    fn eventbridge_detail_errors_name_the_detail_field() {
        let msg = message(
            json!({"detail-type": "x", "source": "s", "detail": {"awsAccountId": "123456789012"}}),
        );
        assert!(msg.contains("detail.DashboardId"), "{msg}");
        assert!(msg.contains("detail.SnapshotJobId"), "{msg}");
    }

    #[test]
    fn missing_fields_are_all_named() {
        let msg = message(json!({"DashboardId": "d"}));
        assert!(
            msg.contains("AwsAccountId") && msg.contains("SnapshotJobId"),
            "{msg}"
        );
        assert!(!msg.contains("missing DashboardId"), "{msg}");
    }

    #[test]
    fn non_object_events_are_rejected() {
        assert!(message(json!([1, 2])).contains("got an array"));
        assert!(message(json!("j")).contains("got a string"));
    }

    #[test]
    fn account_id_must_be_twelve_digits_as_a_string() {
        let msg = message(
            json!({"AwsAccountId": 123456789012u64, "DashboardId": "d", "SnapshotJobId": "j"}),
        );
        assert!(
            msg.contains("AwsAccountId must be a string, got a number"),
            "{msg}"
        );
        let msg =
            message(json!({"AwsAccountId": "12345", "DashboardId": "d", "SnapshotJobId": "j"}));
        assert!(msg.contains("12 digits"), "{msg}");
    }

    #[test]
    fn ids_with_path_characters_never_pass() {
        for bad in ["../etc", "a/b", "a%2Fb", "", "dash board", "dåsh"] {
            let msg = message(
                json!({"AwsAccountId": "123456789012", "DashboardId": bad, "SnapshotJobId": "j"}),
            );
            assert!(msg.contains("DashboardId must be 1-512"), "{bad}: {msg}");
        }
        let long = "a".repeat(513);
        let msg = message(
            json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": long}),
        );
        assert!(msg.contains("SnapshotJobId") && msg.len() < 300, "{msg}");
    }

    #[test]
    fn arn_conflicting_with_explicit_fields_is_rejected() {
        let msg = message(json!({
            "Arn": "arn:aws:quicksight:us-east-1:123456789012:dashboard/d/snapshot-job/j",
            "SnapshotJobId": "other"
        }));
        assert!(
            msg.contains("SnapshotJobId \"other\" does not match"),
            "{msg}"
        );
    }

    #[test]
    fn region_is_required_when_the_function_has_none() {
        let err = parse_event(
            &json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "j"}),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("Region"), "{err}");
    }

    #[test]
    fn previous_output_with_a_bad_attempt_is_rejected() {
        let msg = message(json!({
            "status": "IN_PROGRESS", "attempt": -1,
            "job": {"region": "us-east-1", "awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j"}
        }));
        assert!(msg.contains("attempt"), "{msg}");
    }
}
