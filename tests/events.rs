//! Every file in events/ is a fixture: the valid ones poll their job, the invalid ones are
//! rejected with `InvalidJobReference` and a message naming what is wrong.

mod support;

use std::time::Duration;

use quicksight_snapshot_poller::contract::Status;
use support::*;

fn json_files(dir: &str) -> Vec<String> {
    let path = format!("{}/events/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn every_valid_event_polls_the_sample_job() {
    let names = json_files("");
    assert!(
        names.len() >= 6,
        "events/ holds one file per input shape: {names:?}"
    );
    for name in names {
        let describe = describe_answers("RUNNING", Duration::from_secs(30));
        let created = Created::default();
        let scheduler = scheduler_accepts(&created);
        // A chain's first tick (`"loop": "scheduler"`) also schedules the next poll.
        let app = chained(app(&[], &[&describe], &[]), &[&scheduler]);

        let out = app
            .poll(&event(&name), TIME_LEFT)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        assert_eq!(out.status, Status::InProgress, "{name}");
        assert_eq!(out.job.aws_account_id, "123456789012", "{name}");
        assert_eq!(out.job.dashboard_id, "sales-dashboard", "{name}");
        assert_eq!(out.job.snapshot_job_id, "daily-export-2026-11-28", "{name}");
        assert_eq!(out.job.region, "us-east-1", "{name}");
        assert_eq!(describe.num_calls(), 1, "{name}");
        let chained = event(&name).get("loop").is_some_and(|kind| !kind.is_null());
        assert_eq!(created.all().len(), usize::from(chained), "{name}");
    }
}

#[tokio::test]
async fn every_invalid_event_is_rejected_naming_the_field() {
    let expected = [
        ("account-id-as-number.json", "AwsAccountId must be a string"),
        ("arn-of-another-service.json", "\"sns\""),
        ("dashboard-id-with-path.json", "DashboardId must be 1-512"),
        ("eventbridge-empty-detail.json", "detail.AwsAccountId"),
        (
            "missing-account-and-job.json",
            "missing AwsAccountId, SnapshotJobId",
        ),
        ("not-an-object.json", "got an array"),
    ];
    let names = json_files("invalid");
    assert_eq!(
        names.len(),
        expected.len(),
        "a message to expect for each file: {names:?}"
    );
    for (name, needle) in expected {
        let describe = describe_answers("RUNNING", Duration::from_secs(30));
        let created = Created::default();
        let scheduler = scheduler_accepts(&created);
        // A chain's first tick (`"loop": "scheduler"`) also schedules the next poll.
        let app = chained(app(&[], &[&describe], &[]), &[&scheduler]);

        let err = app
            .poll(&event(&format!("invalid/{name}")), TIME_LEFT)
            .await
            .expect_err(name);

        assert_eq!(err.error_type(), "InvalidJobReference", "{name}");
        assert!(err.to_string().contains(needle), "{name}: {err}");
        assert_eq!(describe.num_calls(), 0, "{name}: no call for bad input");
    }
}
