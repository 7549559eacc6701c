//! The three QuickSight operations. Each call passes the same front door as on AWS: counted,
//! validated, throttled, slowed by the configured latency, then possibly hit by a scripted fault.
//! A faulted call has no side effects: it creates no job and moves no timeline.

use hyper::StatusCode;
use serde_json::Value;

use crate::faults::{Distortion, Effect, Operation};
use crate::ids::{check_account, check_resource_id};
use crate::jobs::{Job, JobKey, NewJob, Outcome};
use crate::shapes;
use crate::state::Emulator;
use crate::wire::{aws_json, epoch_now, AwsError, ErrorType, Reply, RequestId};

/// QuickSight runs at most this many snapshot jobs per account at once.
pub const MAX_UNFINISHED_JOBS: usize = 12;
const MAX_FILE_GROUPS: usize = 7;

/// Where a StartDashboardSnapshotJob goes, and who signed it.
pub struct Start<'a> {
    pub account: String,
    pub dashboard: String,
    pub caller: Option<&'a str>,
}

pub async fn start(
    emulator: &Emulator,
    start: Start<'_>,
    body: &[u8],
    request_id: &RequestId,
) -> Reply {
    let Start {
        account,
        dashboard,
        caller,
    } = start;
    // Peeked only to find the job's own faults; the body is validated properly below.
    let peeked_job_id = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|body| body.get("SnapshotJobId")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let key = JobKey {
        account,
        dashboard,
        job_id: peeked_job_id,
    };
    let distortion = match front_door(emulator, Operation::Start, &key, request_id).await {
        Ok(distortion) => distortion,
        Err(reply) => return reply,
    };
    let request = match StartRequest::parse(body) {
        Ok(request) => request,
        Err(error) => return error.reply(request_id),
    };
    let key = JobKey {
        job_id: request.job_id,
        ..key
    };
    let arn = key.arn(emulator.region());
    if let Some(distortion) = distortion {
        let body = shapes::start_body(&arn, &key.job_id, request_id);
        return distortion.apply(StatusCode::ACCEPTED, body, "Arn", request_id);
    }

    let mut state = emulator.lock();
    if state.jobs.contains_key(&key) {
        let message = format!(
            "Snapshot job with id {} already exists for dashboard {}.",
            key.job_id, key.dashboard
        );
        return AwsError::new(ErrorType::ResourceExists, message).reply(request_id);
    }
    if state.unfinished_jobs(&key.account) >= MAX_UNFINISHED_JOBS {
        let message = format!(
            "Account {} already has {MAX_UNFINISHED_JOBS} snapshot jobs running; wait for one \
             to finish.",
            key.account
        );
        return AwsError::new(ErrorType::LimitExceeded, message).reply(request_id);
    }
    let mut timeline = state.defaults;
    // Lets a state machine drive a failing job without touching the control API.
    if key.dashboard.to_ascii_lowercase().contains("fail") {
        timeline.outcome = Outcome::Failed;
    }
    let job = Job::new(
        NewJob {
            key: key.clone(),
            timeline,
            age_seconds: 0.0,
            snapshot_configuration: request.snapshot_configuration,
            user_configuration: request.user_configuration,
            error_info: None,
            result: None,
            faults: Default::default(),
        },
        emulator.region(),
        epoch_now(),
    );
    // Without UserConfiguration the job is the signer's own, a registered user's (started with
    // identity-enhanced credentials): only that signer may describe it.
    let mut job = job;
    if job.user_configuration.is_none() {
        job.started_by = caller.map(str::to_owned);
    }
    state.jobs.insert(key.clone(), job);
    drop(state);
    let body = shapes::start_body(&arn, &key.job_id, request_id);
    aws_json(StatusCode::ACCEPTED, &body, request_id)
}

pub async fn describe(
    emulator: &Emulator,
    key: JobKey,
    caller: Option<&str>,
    request_id: &RequestId,
) -> Reply {
    let distortion = match front_door(emulator, Operation::Describe, &key, request_id).await {
        Ok(distortion) => distortion,
        Err(reply) => return reply,
    };
    let mut state = emulator.lock();
    let Some(job) = state.jobs.get_mut(&key) else {
        return not_found(&key).reply(request_id);
    };
    if let Some(denied) = other_user(job, caller) {
        return denied.reply(request_id);
    }
    match distortion {
        None => {
            job.advance(epoch_now());
            aws_json(
                StatusCode::OK,
                &shapes::describe_body(job, request_id),
                request_id,
            )
        }
        Some(distortion) => {
            let body = shapes::describe_body(job, request_id);
            distortion.apply(StatusCode::OK, body, "JobStatus", request_id)
        }
    }
}

pub async fn result(
    emulator: &Emulator,
    key: JobKey,
    caller: Option<&str>,
    request_id: &RequestId,
) -> Reply {
    let distortion = match front_door(emulator, Operation::Result, &key, request_id).await {
        Ok(distortion) => distortion,
        Err(reply) => return reply,
    };
    let state = emulator.lock();
    let Some(job) = state.jobs.get(&key) else {
        return not_found(&key).reply(request_id);
    };
    if let Some(denied) = other_user(job, caller) {
        return denied.reply(request_id);
    }
    let body = shapes::result_body(job, emulator.region(), request_id);
    match distortion {
        Some(distortion) => distortion.apply(StatusCode::OK, body, "JobStatus", request_id),
        None if job.status().is_terminal() => aws_json(StatusCode::OK, &body, request_id),
        None => {
            let message = format!(
                "Dashboard Snapshot Job with id {} has not reached a terminal state.",
                key.job_id
            );
            AwsError::new(ErrorType::InvalidParameterValue, message).reply(request_id)
        }
    }
}

/// Everything a call goes through before its operation runs. `Ok(Some(_))` asks the operation to
/// answer with a corrupted body; an error, a hang-up or a throttle ends the call here.
async fn front_door(
    emulator: &Emulator,
    operation: Operation,
    key: &JobKey,
    request_id: &RequestId,
) -> Result<Option<Distortion>, Reply> {
    {
        let mut state = emulator.lock();
        state.calls.record(operation);
        if let Some(job) = state.jobs.get_mut(key) {
            job.record_call(operation);
        }
    }
    validate_path(operation, key).map_err(|error| error.reply(request_id))?;

    let latency = {
        let mut state = emulator.lock();
        if !state
            .throttle
            .admit(&key.account, std::time::Instant::now())
        {
            state.calls.throttled += 1;
            return Err(AwsError::new(ErrorType::Throttling, "Rate exceeded").reply(request_id));
        }
        state.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let effect = {
        let mut state = emulator.lock();
        let own = state
            .jobs
            .get_mut(key)
            .and_then(|job| job.faults.take(operation));
        own.or_else(|| state.faults.take(operation))
    };
    match effect {
        None => Ok(None),
        Some(Effect::Error(kind)) => {
            if kind == ErrorType::Throttling {
                emulator.lock().calls.throttled += 1;
            }
            let message = format!("Injected {} (emulator fault).", kind.shape_name());
            Err(AwsError::new(kind, message).reply(request_id))
        }
        Some(Effect::HangUp) => Err(Reply::HangUp),
        Some(Effect::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(None)
        }
        Some(Effect::Distort(distortion)) => Ok(Some(distortion)),
    }
}

fn validate_path(operation: Operation, key: &JobKey) -> Result<(), AwsError> {
    check_account(&key.account)?;
    check_resource_id("dashboardId", &key.dashboard)?;
    // Start takes its job id from the body, which StartRequest validates.
    if operation != Operation::Start {
        check_resource_id("snapshotJobId", &key.job_id)?;
    }
    Ok(())
}

fn not_found(key: &JobKey) -> AwsError {
    AwsError::new(
        ErrorType::ResourceNotFound,
        format!(
            "Snapshot job {} for dashboard {} in account {} does not exist.",
            key.job_id, key.dashboard, key.account
        ),
    )
}

/// The parts of a StartDashboardSnapshotJob body the emulator keeps.
struct StartRequest {
    job_id: String,
    snapshot_configuration: Value,
    user_configuration: Option<Value>,
}

impl StartRequest {
    fn parse(body: &[u8]) -> Result<StartRequest, AwsError> {
        let body: Value = serde_json::from_slice(body).map_err(|error| {
            AwsError::new(
                ErrorType::Serialization,
                format!("The request body is not valid JSON: {error}"),
            )
        })?;
        let Value::Object(mut members) = body else {
            return Err(AwsError::new(
                ErrorType::Serialization,
                "The request body must be a JSON object.",
            ));
        };
        let job_id = match members.remove("SnapshotJobId") {
            Some(Value::String(job_id)) => job_id,
            Some(Value::Null) | None => return Err(missing("snapshotJobId")),
            Some(_) => return Err(wrong_type("SnapshotJobId", "a string")),
        };
        check_resource_id("snapshotJobId", &job_id)?;
        let snapshot_configuration = members
            .remove("SnapshotConfiguration")
            .filter(|configuration| !configuration.is_null())
            .ok_or_else(|| missing("snapshotConfiguration"))?;
        check_file_groups(&snapshot_configuration)?;
        let user_configuration = members
            .remove("UserConfiguration")
            .filter(|users| !users.is_null());
        Ok(StartRequest {
            job_id,
            snapshot_configuration,
            user_configuration,
        })
    }
}

/// The model's limits on `FileGroups`: 1 to 7 groups of exactly one file of a known format.
fn check_file_groups(configuration: &Value) -> Result<(), AwsError> {
    let groups = match configuration.get("FileGroups") {
        None | Some(Value::Null) => return Err(missing("snapshotConfiguration.fileGroups")),
        Some(Value::Array(groups)) => groups,
        Some(_) => return Err(wrong_type("SnapshotConfiguration.FileGroups", "a list")),
    };
    if groups.is_empty() || groups.len() > MAX_FILE_GROUPS {
        return Err(invalid(format!(
            "SnapshotConfiguration.FileGroups must hold 1 to {MAX_FILE_GROUPS} file groups, not {}.",
            groups.len()
        )));
    }
    for (index, group) in groups.iter().enumerate() {
        let files = group
            .get("Files")
            .and_then(Value::as_array)
            .filter(|files| files.len() == 1)
            .ok_or_else(|| {
                invalid(format!(
                    "SnapshotConfiguration.FileGroups[{index}].Files must hold exactly one file."
                ))
            })?;
        let format = files[0].get("FormatType").and_then(Value::as_str);
        if !matches!(format, Some("CSV" | "PDF" | "EXCEL")) {
            return Err(invalid(format!(
                "SnapshotConfiguration.FileGroups[{index}].Files[0].FormatType must be CSV, PDF \
                 or EXCEL."
            )));
        }
    }
    Ok(())
}

fn missing(field: &str) -> AwsError {
    invalid(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: \
         Member must not be null"
    ))
}

fn wrong_type(field: &str, expected: &str) -> AwsError {
    AwsError::new(
        ErrorType::Serialization,
        format!("{field} must be {expected}."),
    )
}

fn invalid(message: String) -> AwsError {
    AwsError::new(ErrorType::InvalidParameterValue, message)
}

/// The service's answer to anyone but the user who started a registered user's job.
fn other_user(job: &Job, caller: Option<&str>) -> Option<AwsError> {
    let starter = job.started_by.as_deref()?;
    (caller != Some(starter)).then(|| {
        AwsError::new(
            ErrorType::AccessDenied,
            "Access denied: the snapshot job was started by a different user.",
        )
    })
}
