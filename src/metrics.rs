//! CloudWatch Embedded Metric Format: one log line per invocation, turned into metrics by
//! CloudWatch Logs itself, so measuring costs no API call and no latency.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

pub const NAMESPACE: &str = "QuickSightSnapshotPoller";

/// Where the EMF lines go: stdout in Lambda (CloudWatch Logs reads it), stderr when run
/// locally (stdout carries the answer), nowhere in tests that do not look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    Stderr,
    Off,
}

/// What one invocation measured.
#[derive(Debug, Clone, PartialEq)]
pub struct PollMetrics {
    /// The output's status, or the errorType when the invocation failed: at most nine values,
    /// the only dimension, so the metric count stays fixed however many jobs are polled.
    pub outcome: String,
    pub job_age: Option<Duration>,
    pub quicksight_latency: Duration,
    pub throttled: bool,
    pub notified: bool,
}

impl PollMetrics {
    /// An invocation refused before any call (bad input): counted under its errorType.
    pub fn refused(err: &crate::error::Error) -> Self {
        PollMetrics {
            outcome: err.error_type().to_owned(),
            job_age: None,
            quicksight_latency: std::time::Duration::ZERO,
            throttled: false,
            notified: false,
        }
    }

    pub fn to_emf(&self, now: SystemTime) -> Value {
        let timestamp = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let mut metrics = vec![
            json!({"Name": "Polls", "Unit": "Count"}),
            json!({"Name": "QuickSightLatency", "Unit": "Milliseconds"}),
            json!({"Name": "Throttles", "Unit": "Count"}),
            json!({"Name": "Notifications", "Unit": "Count"}),
        ];
        let mut line = json!({
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [],
            },
            "Outcome": self.outcome,
            "Polls": 1,
            "QuickSightLatency": self.quicksight_latency.as_secs_f64() * 1000.0,
            "Throttles": u8::from(self.throttled),
            "Notifications": u8::from(self.notified),
        });
        if let Some(age) = self.job_age {
            metrics.push(json!({"Name": "JobAge", "Unit": "Seconds"}));
            line["JobAge"] = json!(age.as_secs());
        }
        line["_aws"]["CloudWatchMetrics"] = json!([{
            "Namespace": NAMESPACE,
            "Dimensions": [["Outcome"]],
            "Metrics": metrics,
        }]);
        line
    }

    pub fn emit(&self, sink: Sink) {
        let line = self.to_emf(SystemTime::now()).to_string();
        // A metric that cannot be written must never fail the poll.
        let _ = match sink {
            Sink::Stdout => writeln!(std::io::stdout().lock(), "{line}"),
            Sink::Stderr => writeln!(std::io::stderr().lock(), "{line}"),
            Sink::Off => Ok(()),
        };
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
        assert_eq!(directives.len(), 1);
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
                assert!(value[name].is_number(), "metric {name} is a number member");
                assert!(metric["Unit"].is_string());
            }
        }
    }

    #[test]
    fn a_poll_emits_one_valid_emf_line_with_low_cardinality_dimensions() {
        let metrics = PollMetrics {
            outcome: "IN_PROGRESS".into(),
            job_age: Some(Duration::from_secs(42)),
            quicksight_latency: Duration::from_millis(35),
            throttled: false,
            notified: false,
        };
        let line = metrics.to_emf(SystemTime::now()).to_string();
        assert!(!line.contains('\n'));
        assert_valid_emf(&line);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["JobAge"], 42);
        assert_eq!(value["Outcome"], "IN_PROGRESS");
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Outcome"]])
        );
    }

    #[test]
    fn a_throttled_invocation_counts_a_throttle_and_has_no_job_age() {
        let metrics = PollMetrics {
            outcome: "QuickSightThrottled".into(),
            job_age: None,
            quicksight_latency: Duration::from_millis(900),
            throttled: true,
            notified: false,
        };
        let line = metrics.to_emf(SystemTime::now()).to_string();
        assert_valid_emf(&line);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["Throttles"], 1);
        assert!(value.get("JobAge").is_none());
    }
}
