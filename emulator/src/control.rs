//! The `/_emulator` control API: not AWS, but how tests script jobs, faults and defaults and read
//! back what the client under test did.

use std::time::Duration;

use hyper::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::{FaultList, FaultSpec};
use crate::ids::{check_account, check_resource_id};
use crate::jobs::{Job, JobKey, NewJob, Outcome};
use crate::shapes;
use crate::state::Emulator;
use crate::wire::{control_json, epoch_now, Reply};

/// A job as `POST /_emulator/jobs` and the `--jobs` file describe it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSpec {
    pub aws_account_id: String,
    pub dashboard_id: String,
    pub snapshot_job_id: String,
    pub queued_polls: Option<u32>,
    pub running_polls: Option<u32>,
    pub outcome: Option<Outcome>,
    /// Wall-clock mode: the job runs this many seconds, then ends with `outcome` (0: off).
    pub run_seconds: Option<u32>,
    pub age_seconds: Option<f64>,
    pub error_info: Option<Value>,
    pub result: Option<Value>,
    /// Echoed by Describe and used to generate results; one PDF when absent.
    pub snapshot_configuration: Option<Value>,
    /// One anonymous user when absent; an explicit `null` means the job ran for a registered user.
    #[serde(default = "some_default_users")]
    pub user_configuration: Option<Value>,
    pub faults: Option<Vec<FaultSpec>>,
}

fn some_default_users() -> Option<Value> {
    Some(shapes::default_user_configuration())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GlobalFaults {
    throttle_rps: Option<f64>,
    latency_ms: Option<u64>,
    faults: Option<Vec<FaultSpec>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Defaults {
    queued_polls: Option<u32>,
    running_polls: Option<u32>,
    outcome: Option<Outcome>,
    /// Wall-clock mode for the jobs Start creates (0: off).
    run_seconds: Option<u32>,
}

/// A refused control request: status and the reason, answered as `{"error": reason}`.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: String,
}

impl Refusal {
    fn bad_request(reason: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            reason: reason.into(),
        }
    }

    fn reply(self) -> Reply {
        control_json(self.status, &json!({ "error": self.reason }))
    }
}

/// `path` is what follows `/_emulator/`.
pub fn route(emulator: &Emulator, method: &Method, path: &str, body: &[u8]) -> Reply {
    let outcome = match (method, path) {
        (&Method::GET, "health") => Ok((StatusCode::OK, json!({ "ok": true }))),
        (&Method::POST, "jobs") => parse(body).and_then(|spec| {
            add_job(emulator, spec).map(|arn| (StatusCode::CREATED, json!({ "arn": arn })))
        }),
        (&Method::POST, "faults") => parse(body).and_then(|faults| set_faults(emulator, faults)),
        (&Method::POST, "defaults") => parse(body).map(|defaults| set_defaults(emulator, defaults)),
        (&Method::GET, "calls") => Ok((StatusCode::OK, calls(emulator))),
        (&Method::POST, "users") => parse(body).map(|user| add_user(emulator, user)),
        (&Method::POST, "reset") => {
            emulator.reset();
            Ok((StatusCode::OK, json!({ "ok": true })))
        }
        _ => Err(Refusal {
            status: StatusCode::NOT_FOUND,
            reason: format!("no control route {method} /_emulator/{path}"),
        }),
    };
    match outcome {
        Ok((status, body)) => control_json(status, &body),
        Err(refusal) => refusal.reply(),
    }
}

/// A registered user for `POST /_emulator/users`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSpec {
    pub account: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    pub user_name: String,
    #[serde(default)]
    pub email: Option<String>,
}

fn default_namespace() -> String {
    "default".into()
}

fn add_user(emulator: &Emulator, spec: UserSpec) -> (StatusCode, serde_json::Value) {
    let arn = crate::users::user_arn(
        emulator.region(),
        &spec.account,
        &spec.namespace,
        &spec.user_name,
    );
    emulator.lock().directory.add(
        &spec.account,
        &spec.namespace,
        crate::users::User {
            name: spec.user_name,
            email: spec.email,
        },
    );
    (StatusCode::CREATED, json!({ "arn": arn }))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|error| Refusal::bad_request(format!("bad JSON: {error}")))
}

/// Loads the `--jobs` file: a JSON array of job specs.
pub fn load_jobs(emulator: &Emulator, text: &str) -> Result<usize, String> {
    let specs: Vec<JobSpec> =
        serde_json::from_str(text).map_err(|error| format!("bad jobs file: {error}"))?;
    let count = specs.len();
    for (index, spec) in specs.into_iter().enumerate() {
        add_job(emulator, spec).map_err(|refusal| format!("jobs[{index}]: {}", refusal.reason))?;
    }
    Ok(count)
}

/// Creates a scripted job and returns its ARN.
pub fn add_job(emulator: &Emulator, spec: JobSpec) -> Result<String, Refusal> {
    let key = JobKey {
        account: spec.aws_account_id,
        dashboard: spec.dashboard_id,
        job_id: spec.snapshot_job_id,
    };
    check_account(&key.account)
        .and_then(|()| check_resource_id("dashboardId", &key.dashboard))
        .and_then(|()| check_resource_id("snapshotJobId", &key.job_id))
        .map_err(|error| Refusal::bad_request(error.message))?;
    let age_seconds = spec.age_seconds.unwrap_or(0.0);
    if !age_seconds.is_finite() {
        return Err(Refusal::bad_request("ageSeconds must be a finite number"));
    }
    let error_info = object_or_none("errorInfo", spec.error_info)?;
    let result = object_or_none("result", spec.result)?;
    let snapshot_configuration =
        object_or_none("snapshotConfiguration", spec.snapshot_configuration)?
            .unwrap_or_else(shapes::default_snapshot_configuration);
    let user_configuration = object_or_none("userConfiguration", spec.user_configuration)?;
    let faults = FaultList::parse(spec.faults.unwrap_or_default()).map_err(Refusal::bad_request)?;

    let mut state = emulator.lock();
    if state.jobs.contains_key(&key) {
        return Err(Refusal {
            status: StatusCode::CONFLICT,
            reason: format!(
                "job {} of dashboard {} in account {} already exists; POST /_emulator/reset first",
                key.job_id, key.dashboard, key.account
            ),
        });
    }
    let mut timeline = state.defaults;
    timeline.queued_polls = spec.queued_polls.unwrap_or(timeline.queued_polls);
    timeline.running_polls = spec.running_polls.unwrap_or(timeline.running_polls);
    timeline.outcome = spec.outcome.unwrap_or(timeline.outcome);
    if let Some(seconds) = spec.run_seconds {
        timeline.run_seconds = (seconds > 0).then_some(seconds);
    }
    let new_job = NewJob {
        key: key.clone(),
        timeline,
        age_seconds,
        snapshot_configuration,
        user_configuration,
        error_info,
        result,
        faults,
    };
    let job = Job::new(new_job, emulator.region(), epoch_now());
    let arn = job.arn.clone();
    state.jobs.insert(key, job);
    Ok(arn)
}

fn object_or_none(field: &str, value: Option<Value>) -> Result<Option<Value>, Refusal> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(object @ Value::Object(_)) => Ok(Some(object)),
        Some(_) => Err(Refusal::bad_request(format!(
            "{field} must be a JSON object"
        ))),
    }
}

/// Replaces every global fault setting; fields left out are switched off.
fn set_faults(emulator: &Emulator, spec: GlobalFaults) -> Result<(StatusCode, Value), Refusal> {
    if let Some(rate) = spec.throttle_rps {
        if !rate.is_finite() || rate <= 0.0 {
            return Err(Refusal::bad_request(
                "throttleRps must be a positive number, or null to switch throttling off",
            ));
        }
    }
    let faults = FaultList::parse(spec.faults.unwrap_or_default()).map_err(Refusal::bad_request)?;
    let mut state = emulator.lock();
    state.throttle.set_rate(spec.throttle_rps);
    state.latency = Duration::from_millis(spec.latency_ms.unwrap_or(0));
    state.faults = faults;
    Ok((StatusCode::OK, json!({ "ok": true })))
}

/// Updates only the fields given and answers with the defaults now in force.
fn set_defaults(emulator: &Emulator, spec: Defaults) -> (StatusCode, Value) {
    let mut state = emulator.lock();
    let defaults = &mut state.defaults;
    defaults.queued_polls = spec.queued_polls.unwrap_or(defaults.queued_polls);
    defaults.running_polls = spec.running_polls.unwrap_or(defaults.running_polls);
    defaults.outcome = spec.outcome.unwrap_or(defaults.outcome);
    if let Some(seconds) = spec.run_seconds {
        defaults.run_seconds = (seconds > 0).then_some(seconds);
    }
    (StatusCode::OK, json!(*defaults))
}

fn calls(emulator: &Emulator) -> Value {
    let state = emulator.lock();
    let jobs: Vec<Value> = state
        .jobs
        .values()
        .map(|job| {
            json!({
                "awsAccountId": job.key.account,
                "dashboardId": job.key.dashboard,
                "snapshotJobId": job.key.job_id,
                "describe": job.calls.describe,
                "result": job.calls.result,
                "status": job.status().as_str(),
            })
        })
        .collect();
    let calls = state.calls;
    json!({
        "total": calls.total,
        "byOperation": { "start": calls.start, "describe": calls.describe, "result": calls.result },
        "throttled": calls.throttled,
        "jobs": jobs,
    })
}
