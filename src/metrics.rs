//! CloudWatch Embedded Metric Format: one log line per invocation, turned into metrics by
//! CloudWatch Logs itself, so measuring costs no API call and no latency.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value};

use crate::contract::Status;

pub const NAMESPACE: &str = "QuickSightSnapshotPoller";
/// The dimension of every metric but the job counts: the answer's status, or the errorType of
/// a failed invocation.
pub const DIMENSION: &str = "Outcome";
/// The function's name (in Lambda), so that two stacks in one account keep their metrics
/// apart; a dimension of every metric.
pub const FUNCTION_DIMENSION: &str = "Function";
/// Every metric a line can carry. `QuickSightLatency` and `JobAge` only when measured; the job
/// counts (jobs that ended FAILED or TIMED_OUT on this invocation's polls, a batch's
/// carried-over jobs not counted again) under `Function` alone: what the job alarms count,
/// whatever the invocation's own outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Jobs whose QuickSight calls this invocation made.
    Polls,
    /// Polls QuickSight throttled.
    Throttles,
    /// Notices published.
    Notifications,
    /// Milliseconds in QuickSight calls, per poll.
    QuickSightLatency,
    /// Seconds since the job's CreatedTime, per poll.
    JobAge,
    /// Jobs that ended FAILED.
    JobsFailed,
    /// Jobs that ended TIMED_OUT.
    JobsTimedOut,
}

impl Metric {
    /// The metrics under `Function` and `Outcome`.
    pub const BY_OUTCOME: [Metric; 5] = [
        Metric::Polls,
        Metric::Throttles,
        Metric::Notifications,
        Metric::QuickSightLatency,
        Metric::JobAge,
    ];
    /// The job counts, under `Function` alone.
    pub const JOB_COUNTS: [Metric; 2] = [Metric::JobsFailed, Metric::JobsTimedOut];

    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Polls => "Polls",
            Metric::Throttles => "Throttles",
            Metric::Notifications => "Notifications",
            Metric::QuickSightLatency => "QuickSightLatency",
            Metric::JobAge => "JobAge",
            Metric::JobsFailed => "JobsFailed",
            Metric::JobsTimedOut => "JobsTimedOut",
        }
    }

    /// Its CloudWatch unit.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::QuickSightLatency => "Milliseconds",
            Metric::JobAge => "Seconds",
            _ => "Count",
        }
    }
}

/// What the metrics are, for alarms and dashboards to be checked against
/// (`quicksight-snapshot-poller --print-metrics`): namespace, dimension, metric names and units,
/// and every value the dimension can take.
pub fn catalogue() -> Value {
    let statuses = [
        Status::InProgress,
        Status::Succeeded,
        Status::Failed,
        Status::TimedOut,
    ]
    .map(|status| status.as_str());
    // Raised at cold start or after the line is written: never an outcome of a line.
    let unwritten = ["InvalidConfiguration", "OutputTooLarge"];
    let outcomes: Vec<&str> = statuses
        .into_iter()
        .chain(crate::error::ERROR_TYPES)
        .filter(|outcome| !unwritten.contains(outcome))
        .collect();
    let metric = |m: Metric, dimensions: &[&str]| json!({"name": m.name(), "unit": m.unit(), "dimensions": dimensions});
    let by_outcome = [FUNCTION_DIMENSION, DIMENSION];
    let metrics: Vec<Value> = Metric::BY_OUTCOME
        .into_iter()
        .map(|m| metric(m, &by_outcome))
        .chain(
            Metric::JOB_COUNTS
                .into_iter()
                .map(|m| metric(m, &[FUNCTION_DIMENSION])),
        )
        .collect();
    json!({
        "namespace": NAMESPACE,
        "dimension": DIMENSION,
        "metrics": metrics,
        "outcomes": outcomes,
    })
}

/// Where the EMF lines go: stdout in Lambda (CloudWatch Logs reads it), stderr when run
/// locally (stdout carries the answer), nowhere in tests that do not look.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Lambda: CloudWatch Logs reads stdout.
    Stdout,
    /// A terminal: stdout carries the answer.
    Stderr,
    /// No metrics (tests).
    Off,
    /// Kept in memory, a line each, for tests that read them.
    Memory(std::sync::Arc<std::sync::Mutex<Vec<String>>>),
}

/// What one job's poll measured.
#[derive(Debug, Clone, PartialEq)]
pub struct PollMetrics {
    /// The output's status, or the errorType when the poll failed.
    pub outcome: Outcome,
    pub job_age: Option<Duration>,
    /// Time spent in QuickSight calls, without the batch rate limiter's waits.
    pub quicksight_latency: Duration,
    pub throttled: bool,
    pub notified: bool,
}

/// What a poll or an invocation ended as: a status of the contract, or the errorType of the
/// failure; the `Outcome` dimension's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The answer's status (a batch's aggregate one).
    Status(Status),
    /// The errorType the poll or the invocation failed with.
    Failed(&'static str),
}

impl Outcome {
    /// The outcome of `result`, whose answer has the status `status` gives.
    pub fn of<T>(result: &Result<T, crate::error::Error>, status: impl Fn(&T) -> Status) -> Self {
        match result {
            Ok(answer) => Outcome::Status(status(answer)),
            Err(err) => Outcome::Failed(err.error_type()),
        }
    }

    /// The dimension's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Status(status) => status.as_str(),
            Outcome::Failed(error_type) => error_type,
        }
    }
}

impl PollMetrics {
    /// What polling one job measured: how it ended, its age, the QuickSight calls' own time,
    /// whether they were throttled and whether a notice went out.
    pub fn of(
        result: &Result<crate::contract::PollOutput, crate::error::Error>,
        quicksight_latency: Duration,
    ) -> Self {
        PollMetrics {
            outcome: Outcome::of(result, |output| output.status),
            job_age: result
                .as_ref()
                .ok()
                .and_then(|o| o.age_seconds)
                .map(Duration::from_secs),
            quicksight_latency,
            throttled: matches!(result, Err(crate::error::Error::QuickSightThrottled { .. })),
            notified: result.as_ref().is_ok_and(|o| o.notification.is_some()),
        }
    }
}

/// EMF allows at most 100 values for one metric in one line.
const MAX_VALUES: usize = 100;

/// What one invocation measured: written as exactly one EMF line, a batch's polls summed.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationMetrics {
    /// The answer's status, or the errorType when the invocation failed: at most a dozen
    /// values, the only dimension, so the metric count stays fixed however many jobs are polled.
    pub outcome: Outcome,
    /// Jobs whose QuickSight calls this invocation made.
    pub polls: usize,
    /// One value per poll (the first hundred).
    pub quicksight_latency: Vec<Duration>,
    pub job_age: Vec<Duration>,
    pub throttles: usize,
    pub notifications: usize,
    pub jobs_failed: usize,
    pub jobs_timed_out: usize,
    /// `AWS_LAMBDA_FUNCTION_NAME`, when there is one.
    pub function: Option<String>,
}

impl InvocationMetrics {
    /// One invocation's polls (one, or a batch's) under the invocation's outcome.
    pub fn of<'a>(outcome: Outcome, polls: impl IntoIterator<Item = &'a PollMetrics>) -> Self {
        let mut metrics = InvocationMetrics {
            outcome,
            polls: 0,
            quicksight_latency: Vec::new(),
            job_age: Vec::new(),
            throttles: 0,
            notifications: 0,
            jobs_failed: 0,
            jobs_timed_out: 0,
            function: None,
        };
        for poll in polls {
            match poll.outcome {
                Outcome::Status(Status::Failed) => metrics.jobs_failed += 1,
                Outcome::Status(Status::TimedOut) => metrics.jobs_timed_out += 1,
                _ => {}
            }
            metrics.polls += 1;
            if metrics.quicksight_latency.len() < MAX_VALUES {
                metrics.quicksight_latency.push(poll.quicksight_latency);
            }
            if let Some(age) = poll.job_age.filter(|_| metrics.job_age.len() < MAX_VALUES) {
                metrics.job_age.push(age);
            }
            metrics.throttles += usize::from(poll.throttled);
            metrics.notifications += usize::from(poll.notified);
        }
        metrics
    }

    /// Names the function the line is about.
    pub fn for_function(mut self, function: Option<&str>) -> Self {
        self.function = function.map(str::to_owned);
        self
    }

    /// The EMF line, serialized straight from these fields: building it as a `serde_json::Value`
    /// first cost a quarter of a warm poll's instructions outside the SDK (docs/benchmarks.md).
    pub fn to_emf(&self, now: SystemTime) -> String {
        let timestamp = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let line = EmfLine {
            metrics: self,
            timestamp,
            latency_ms: self
                .quicksight_latency
                .iter()
                .map(|d| d.as_secs_f64() * 1000.0)
                .collect(),
            age_seconds: self.job_age.iter().map(|d| d.as_secs() as f64).collect(),
        };
        // Only strings, integers and finite numbers: serializing cannot fail.
        serde_json::to_string(&line).unwrap_or_default()
    }

    pub fn emit(&self, sink: &Sink) {
        let line = self.to_emf(SystemTime::now());
        // A metric that cannot be written must never fail the poll.
        let _ = match sink {
            Sink::Stdout => writeln!(std::io::stdout().lock(), "{line}"),
            Sink::Stderr => writeln!(std::io::stderr().lock(), "{line}"),
            Sink::Off => Ok(()),
            Sink::Memory(lines) => {
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                Ok(())
            }
        };
    }
}

/// One invocation's EMF line: the metric members, and under `_aws` the two directives (the
/// per-outcome metrics, and the job counts under `Function` alone).
struct EmfLine<'a> {
    metrics: &'a InvocationMetrics,
    timestamp: u64,
    latency_ms: Vec<f64>,
    age_seconds: Vec<f64>,
}

/// A metric's values: one is written as a number, several as an array.
struct Values<'a>(&'a [f64]);

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            [one] => serializer.serialize_f64(*one),
            many => many.serialize(serializer),
        }
    }
}

#[derive(Serialize)]
struct Aws<'a> {
    #[serde(rename = "Timestamp")]
    timestamp: u64,
    #[serde(rename = "CloudWatchMetrics")]
    directives: [Directive<'a>; 2],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'static str,
    dimensions: [&'a [&'static str]; 1],
    metrics: Vec<MetricDirective>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDirective {
    name: &'static str,
    unit: &'static str,
}

impl MetricDirective {
    fn of(metric: Metric) -> Self {
        MetricDirective {
            name: metric.name(),
            unit: metric.unit(),
        }
    }
}

impl EmfLine<'_> {
    /// Latency and age, each only when it has values: EMF refuses a metric without one.
    fn valued(&self) -> impl Iterator<Item = (Metric, Values<'_>)> {
        [
            (Metric::QuickSightLatency, Values(&self.latency_ms)),
            (Metric::JobAge, Values(&self.age_seconds)),
        ]
        .into_iter()
        .filter(|(_, values)| !values.0.is_empty())
    }
}

impl Serialize for EmfLine<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.metrics;
        let (by_outcome, alone): (&[&str], &[&str]) = match &m.function {
            Some(_) => (&[FUNCTION_DIMENSION, DIMENSION], &[FUNCTION_DIMENSION]),
            None => (&[DIMENSION], &[]),
        };
        let aws = Aws {
            timestamp: self.timestamp,
            directives: [
                Directive {
                    namespace: NAMESPACE,
                    dimensions: [by_outcome],
                    metrics: [Metric::Polls, Metric::Throttles, Metric::Notifications]
                        .into_iter()
                        .chain(self.valued().map(|(metric, _)| metric))
                        .map(MetricDirective::of)
                        .collect(),
                },
                Directive {
                    namespace: NAMESPACE,
                    dimensions: [alone],
                    metrics: Metric::JOB_COUNTS.map(MetricDirective::of).into(),
                },
            ],
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("_aws", &aws)?;
        map.serialize_entry(DIMENSION, m.outcome.as_str())?;
        if let Some(function) = &m.function {
            map.serialize_entry(FUNCTION_DIMENSION, function)?;
        }
        map.serialize_entry(Metric::Polls.name(), &m.polls)?;
        map.serialize_entry(Metric::Throttles.name(), &m.throttles)?;
        map.serialize_entry(Metric::Notifications.name(), &m.notifications)?;
        for (metric, values) in self.valued() {
            map.serialize_entry(metric.name(), &values)?;
        }
        map.serialize_entry(Metric::JobsFailed.name(), &m.jobs_failed)?;
        map.serialize_entry(Metric::JobsTimedOut.name(), &m.jobs_timed_out)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The EMF specification's rules for a metric directive, checked on a produced line.
    fn assert_valid_emf(line: &str) {
        let value: Value = serde_json::from_str(line).expect("one JSON object per line");
        let aws = &value["_aws"];
        assert!(aws["Timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000));
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert_eq!(directives.len(), 2, "by outcome, and the job counts");
        for directive in directives {
            assert_eq!(directive["Namespace"], NAMESPACE);
            for set in directive["Dimensions"].as_array().expect("dimension sets") {
                for key in set.as_array().expect("dimension set") {
                    let key = key.as_str().expect("dimension name");
                    assert!(value[key].is_string(), "dimension {key} is a string member");
                }
            }
            for metric in directive["Metrics"].as_array().expect("metrics") {
                let name = metric["Name"].as_str().expect("metric name");
                let member = &value[name];
                let values = member
                    .as_array()
                    .cloned()
                    .unwrap_or_else(|| vec![member.clone()]);
                assert!(
                    (1..=100).contains(&values.len()) && values.iter().all(Value::is_number),
                    "metric {name} is a number or up to 100 numbers"
                );
                assert!(metric["Unit"].is_string());
            }
        }
    }

    const IN_PROGRESS: Outcome = Outcome::Status(Status::InProgress);
    const FAILED: Outcome = Outcome::Status(Status::Failed);

    fn poll(outcome: Outcome, age: Option<u64>, millis: u64, throttled: bool) -> PollMetrics {
        PollMetrics {
            outcome,
            job_age: age.map(Duration::from_secs),
            quicksight_latency: Duration::from_millis(millis),
            throttled,
            notified: outcome == FAILED,
        }
    }

    #[test]
    fn a_poll_emits_one_valid_emf_line_with_low_cardinality_dimensions() {
        let metrics = InvocationMetrics::of(IN_PROGRESS, &[poll(IN_PROGRESS, Some(42), 35, false)]);
        let line = metrics.to_emf(SystemTime::now());
        assert!(!line.contains('\n'));
        assert_valid_emf(&line);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["JobAge"], 42.0);
        assert_eq!(value["Polls"], 1);
        assert_eq!(value["Outcome"], "IN_PROGRESS");
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Outcome"]])
        );
        let named = InvocationMetrics::of(FAILED, &[poll(FAILED, None, 3, false)])
            .for_function(Some("stack-poller"))
            .to_emf(SystemTime::now());
        assert_valid_emf(&named);
        let named: Value = serde_json::from_str(&named).unwrap();
        assert_eq!(named["Function"], "stack-poller");
        assert_eq!(
            named["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Outcome"]])
        );
        assert_eq!(
            named["_aws"]["CloudWatchMetrics"][1]["Dimensions"],
            json!([["Function"]])
        );
        assert_eq!(
            (named["JobsFailed"].as_u64(), named["JobsTimedOut"].as_u64()),
            (Some(1), Some(0))
        );
    }

    #[test]
    fn a_throttled_invocation_counts_a_throttle_and_has_no_job_age() {
        let metrics = InvocationMetrics::of(
            Outcome::Failed("QuickSightThrottled"),
            &[poll(
                Outcome::Failed("QuickSightThrottled"),
                None,
                900,
                true,
            )],
        );
        let line = metrics.to_emf(SystemTime::now());
        assert_valid_emf(&line);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["Throttles"], 1);
        assert!(value.get("JobAge").is_none());
    }

    #[test]
    fn a_batch_is_one_line_summing_its_polls_with_a_value_per_poll() {
        let polls: Vec<PollMetrics> = (0..150)
            .map(|i| {
                poll(
                    if i % 50 == 0 { FAILED } else { IN_PROGRESS },
                    Some(i),
                    10 + i,
                    i % 3 == 0,
                )
            })
            .collect();
        let line = InvocationMetrics::of(FAILED, &polls).to_emf(SystemTime::now());
        assert_valid_emf(&line);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["Polls"], 150);
        assert_eq!(value["Throttles"], 50);
        assert_eq!(value["Notifications"], 3);
        assert_eq!(
            value["JobsFailed"], 3,
            "each failed job counted, whatever the batch's outcome"
        );
        assert_eq!(
            value["QuickSightLatency"].as_array().map(Vec::len),
            Some(100)
        );
        assert_eq!(value["Outcome"], "FAILED");
    }

    #[test]
    fn the_catalogue_names_every_metric_a_line_carries_and_every_outcome() {
        let catalogue = catalogue();
        let names: Vec<&str> = catalogue["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        let line = InvocationMetrics::of(FAILED, &[poll(FAILED, Some(1), 2, true)])
            .to_emf(SystemTime::now());
        let line: Value = serde_json::from_str(&line).unwrap();
        for directive in line["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(names.contains(&name), "{metric}");
            }
        }
        assert_eq!(names.len(), 7);
        let outcomes = catalogue["outcomes"].as_array().unwrap();
        for outcome in [
            "FAILED",
            "TIMED_OUT",
            "QuickSightThrottled",
            "NotificationFailed",
        ] {
            assert!(outcomes.contains(&json!(outcome)), "{outcome}");
        }
    }

    #[test]
    fn a_refused_invocation_counts_no_poll() {
        let err = crate::error::Error::InvalidJobReference("x".into());
        let line =
            InvocationMetrics::of(Outcome::Failed(err.error_type()), &[]).to_emf(SystemTime::now());
        assert_valid_emf(&line);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["Polls"], 0);
        assert_eq!(value["Outcome"], "InvalidJobReference");
        assert!(value.get("QuickSightLatency").is_none());
    }
}
