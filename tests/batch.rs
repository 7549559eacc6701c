//! Batches `{"jobs": [...]}`: one result per job, an aggregate, finished jobs carried over.

mod support;

use std::time::Duration;

use aws_sdk_quicksight::operation::describe_dashboard_snapshot_job_result::DescribeDashboardSnapshotJobResultOutput;
use aws_sdk_quicksight::types::{SnapshotJobErrorInfo, SnapshotJobStatus};
use aws_smithy_mocks::mock;
use quicksight_snapshot_poller::contract::{Answer, BatchOutput, Status};
use serde_json::json;
use support::*;

const MINUTE: Duration = Duration::from_secs(60);

fn describe_job(job: &'static str, status: &'static str, age: Duration) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .match_requests(move |req| req.snapshot_job_id() == Some(job))
        .then_output(move || described(status, age))
}

fn failed_result() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job_result)
        .match_requests(|req| req.snapshot_job_id() == Some("weekly-ops-48"))
        .then_output(|| {
            DescribeDashboardSnapshotJobResultOutput::builder()
                .job_status(SnapshotJobStatus::Failed)
                .error_info(
                    SnapshotJobErrorInfo::builder()
                        .error_type("DATASET_DELETED")
                        .error_message("The dataset has been deleted.")
                        .build(),
                )
                .status(200)
                .build()
        })
}

fn completed() -> DescribeDashboardSnapshotJobResultOutput {
    DescribeDashboardSnapshotJobResultOutput::builder()
        .job_status(SnapshotJobStatus::Completed)
        .status(200)
        .build()
}

fn batch(answer: Answer) -> BatchOutput {
    match answer {
        Answer::Batch(batch) => batch,
        other => panic!("expected a batch answer, got {other:?}"),
    }
}

#[tokio::test]
async fn batch_reports_each_job_and_an_aggregate_and_notifies_each_failure() {
    let running = describe_job(
        "daily-export-2026-11-28",
        "RUNNING",
        Duration::from_secs(100),
    );
    let queued = describe_job("monthly-close-2026-11", "QUEUED", Duration::from_secs(10));
    let failed = describe_job("weekly-ops-48", "FAILED", MINUTE);
    let result = failed_result();
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(&[], &[&running, &queued, &failed, &result], &[&sns]);

    let out = batch(
        app.invoke(&event("batch/jobs.json"), TIME_LEFT)
            .await
            .expect("answers"),
    );

    assert_eq!(out.status, Status::InProgress);
    assert!(!out.done);
    assert_eq!(out.attempt, 1);
    assert_eq!((out.counts.in_progress, out.counts.failed), (2, 1));
    assert_eq!(
        out.wait_seconds, 5,
        "the shortest wait of the unfinished jobs"
    );
    let ids: Vec<&str> = out
        .jobs
        .iter()
        .map(|j| j.job.snapshot_job_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "daily-export-2026-11-28",
            "monthly-close-2026-11",
            "weekly-ops-48"
        ]
    );
    assert_eq!(out.jobs[2].error.as_ref().unwrap().kind, "DATASET_DELETED");
    assert_eq!(
        published.all().len(),
        1,
        "each failed job notifies on its own"
    );
    assert!(out.jobs[2].notification.is_some());
}

#[tokio::test]
async fn finished_jobs_are_carried_over_and_never_polled_or_notified_again() {
    let running = describe_job(
        "daily-export-2026-11-28",
        "COMPLETED",
        Duration::from_secs(100),
    );
    let result = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job_result)
        .match_requests(|req| req.snapshot_job_id() == Some("daily-export-2026-11-28"))
        .then_output(completed);
    let queued = describe_job("monthly-close-2026-11", "QUEUED", Duration::from_secs(10));
    let failed = describe_job("weekly-ops-48", "FAILED", MINUTE);
    let failed_res = failed_result();
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(
        &[],
        &[&running, &result, &queued, &failed, &failed_res],
        &[&sns],
    );

    let first = batch(
        app.invoke(&event("batch/jobs.json"), TIME_LEFT)
            .await
            .unwrap(),
    );
    let again = serde_json::to_value(&first).unwrap();
    let second = batch(app.invoke(&again, TIME_LEFT).await.unwrap());

    assert_eq!(second.attempt, 2);
    assert_eq!(failed.num_calls(), 1, "a FAILED job is not described again");
    assert_eq!(
        running.num_calls(),
        1,
        "a COMPLETED job is not described again"
    );
    assert_eq!(queued.num_calls(), 2);
    assert_eq!(
        published.all().len(),
        1,
        "no second notice for the carried-over failure"
    );
    assert_eq!(second.jobs[2], first.jobs[2]);
    assert_eq!(second.jobs[1].attempt, 2);
}

#[tokio::test]
async fn all_done_batch_is_failed_when_any_job_failed() {
    let done = describe_job("daily-export-2026-11-28", "COMPLETED", MINUTE);
    let result = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job_result)
        .match_requests(|req| req.snapshot_job_id() != Some("weekly-ops-48"))
        .then_output(completed);
    let done2 = describe_job("monthly-close-2026-11", "COMPLETED", MINUTE);
    let failed = describe_job("weekly-ops-48", "FAILED", MINUTE);
    let failed_res = failed_result();
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(
        &[],
        &[&done, &done2, &result, &failed, &failed_res],
        &[&sns],
    );

    let out = batch(
        app.invoke(&event("batch/jobs.json"), TIME_LEFT)
            .await
            .unwrap(),
    );

    assert!(out.done);
    assert_eq!(out.status, Status::Failed);
    assert_eq!(out.wait_seconds, 0);
    assert_eq!((out.counts.succeeded, out.counts.failed), (2, 1));
    // The error a state machine fails the execution with (its Choice reads error.type).
    let error = out.error.expect("a failed batch has an error");
    assert_eq!(error.kind, "JobsFailed");
    assert_eq!(
        error.message,
        "1 of 3 jobs failed: ops-dashboard/weekly-ops-48 (DATASET_DELETED)"
    );
}

#[tokio::test]
async fn a_throttled_job_stays_in_progress_without_failing_the_batch() {
    let throttled = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .match_requests(|req| req.snapshot_job_id() == Some("daily-export-2026-11-28"))
        .then_http_response(|| error_response(429, "ThrottlingException", "Rate exceeded"));
    let other = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .then_output(|| described("RUNNING", Duration::from_secs(30)));
    let app = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&throttled, &other], &[]);

    let out = batch(
        app.invoke(&event("batch/eventbridge-jobs.json"), TIME_LEFT)
            .await
            .unwrap(),
    );

    assert_eq!(out.status, Status::InProgress);
    assert_eq!(out.jobs.len(), 2);
    let first = &out.jobs[0];
    assert_eq!(first.status, Status::InProgress);
    assert_eq!(first.error.as_ref().unwrap().kind, "QuickSightThrottled");
    assert_eq!(out.jobs[1].job_status.as_deref(), Some("RUNNING"));
    assert!(out.jobs[1].error.is_none());
}

#[tokio::test]
async fn one_bad_entry_refuses_the_whole_batch_before_any_call() {
    let any = describe_job("daily-export-2026-11-28", "RUNNING", MINUTE);
    let app = app(&[], &[&any], &[]);
    let event = json!({"jobs": [
        {"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "daily-export-2026-11-28"},
        {"AwsAccountId": "123456789012", "DashboardId": "a/b", "SnapshotJobId": "j"}
    ]});

    let err = app.invoke(&event, TIME_LEFT).await.expect_err("refused");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(err.to_string().contains("jobs[1].DashboardId"), "{err}");
    assert_eq!(any.num_calls(), 0);
}

#[tokio::test]
async fn empty_and_oversized_batches_are_refused() {
    let app = app(&[("BATCH_MAX_JOBS", "2")], &[], &[]);
    for jobs in [json!([]), json!([{}, {}, {}])] {
        let err = app
            .invoke(&json!({"jobs": jobs}), TIME_LEFT)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("1 to 2 job references"), "{err}");
    }
    let err = app
        .invoke(&json!({"jobs": "all"}), TIME_LEFT)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("jobs must be an array"), "{err}");
}

#[tokio::test]
async fn jobs_the_last_round_had_no_time_for_are_polled_first() {
    let describe = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .then_output(|| described("RUNNING", Duration::from_secs(30)));
    // One job at a time, 1 call/s, 2.2 s: the first job is polled at once; the second
    // would start at 1 s, past the last start (2.2 - 1.5 = 0.7 s), and is put off.
    let app = app(
        &[("BATCH_CONCURRENCY", "1"), ("BATCH_RATE_PER_SECOND", "1")],
        &[&describe],
        &[],
    );
    let two = json!({"jobs": [
        {"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "first"},
        {"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "second"}
    ]});

    let round1 = batch(app.invoke(&two, Duration::from_millis(2200)).await.unwrap());
    assert!(round1.jobs[0].error.is_none());
    assert_eq!(round1.jobs[1].error.as_ref().unwrap().kind, "NotPolled");

    let round2 = serde_json::to_value(&round1).unwrap();
    let round2 = batch(
        app.invoke(&round2, Duration::from_millis(2200))
            .await
            .unwrap(),
    );
    assert!(round2.jobs[1].error.is_none(), "the put-off job went first");
    assert_eq!(round2.jobs[0].error.as_ref().unwrap().kind, "NotPolled");
    let ids: Vec<&str> = round2
        .jobs
        .iter()
        .map(|j| j.job.snapshot_job_id.as_str())
        .collect();
    assert_eq!(ids, ["first", "second"], "answers stay in input order");
}

/// The batch's previous output with its one job still IN_PROGRESS after `streak` failed rounds.
fn previous_round(job: serde_json::Value) -> serde_json::Value {
    json!({"status": "IN_PROGRESS", "done": false, "attempt": 3, "jobs": [job]})
}

fn failing_job(streak: u32, origin: &str) -> serde_json::Value {
    json!({
        "status": "IN_PROGRESS", "done": false, "jobStatus": null, "attempt": 1,
        "origin": origin, "errorStreak": streak,
        "error": {"type": "QuickSightThrottled", "message": "Rate exceeded"},
        "job": {"arn": "x", "partition": "aws", "region": "us-east-1",
                "awsAccountId": "123456789012", "dashboardId": "sales-dashboard",
                "snapshotJobId": "daily-export-2026-11-28"}
    })
}

#[tokio::test]
async fn a_job_whose_poll_keeps_failing_is_escalated_and_notified_after_the_bound() {
    let throttled = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .then_http_response(|| error_response(429, "ThrottlingException", "Rate exceeded"));
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(
        &[("SDK_MAX_ATTEMPTS", "1"), ("BATCH_MAX_ERROR_ROUNDS", "3")],
        &[&throttled],
        &[&sns],
    );

    // Round 3 of 3: not yet escalated after round 2.
    let round = batch(
        app.invoke(&previous_round(failing_job(1, "NAMED")), TIME_LEFT)
            .await
            .unwrap(),
    );
    assert_eq!(round.jobs[0].status, Status::InProgress);
    assert_eq!(round.jobs[0].error_streak, 2);
    assert!(published.all().is_empty());

    let out = batch(
        app.invoke(&previous_round(failing_job(2, "NAMED")), TIME_LEFT)
            .await
            .unwrap(),
    );
    let job = &out.jobs[0];
    assert_eq!(job.status, Status::Failed);
    assert_eq!(job.error_streak, 3);
    let error = job.error.as_ref().expect("error");
    assert_eq!(error.kind, "QuickSightThrottled");
    assert!(
        error.message.starts_with("3 round(s) in a row: "),
        "{}",
        error.message
    );
    assert!(job.notification.is_some());
    assert_eq!(published.all().len(), 1, "told once");
    assert_eq!(out.status, Status::Failed);
    assert_eq!(out.error.expect("error").kind, "JobsFailed");
}

#[tokio::test]
async fn an_escalated_job_whose_notice_fails_waits_for_it_then_fails_the_invocation() {
    let throttled = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .then_http_response(|| error_response(429, "ThrottlingException", "Rate exceeded"));
    let sns = mock!(aws_sdk_sns::Client::publish)
        .then_http_response(|| sns_error_response(500, "InternalError", "SNS is down"));
    let app = app(
        &[("SDK_MAX_ATTEMPTS", "1"), ("BATCH_MAX_ERROR_ROUNDS", "2")],
        &[&throttled],
        &[&sns],
    );

    // Escalated, but SNS is down: the batch answers (its other jobs are not polled again by
    // a retry) and the job waits for its notice.
    let out = batch(
        app.invoke(&previous_round(failing_job(1, "NAMED")), TIME_LEFT)
            .await
            .expect("the batch still answers"),
    );
    let job = &out.jobs[0];
    assert_eq!(job.status, Status::InProgress);
    assert_eq!(job.error_streak, 2);
    let error = job.error.as_ref().expect("error");
    assert_eq!(error.kind, "NotificationFailed");
    assert!(
        error
            .message
            .starts_with("FAILED after 2 round(s) in a row"),
        "{}",
        error.message
    );
    assert!(sns.num_calls() >= 1, "the escalation notice was tried");

    // As many rounds again without a notice: the invocation fails, for Retry and Catch.
    let err = app
        .invoke(&previous_round(failing_job(3, "NAMED")), TIME_LEFT)
        .await
        .expect_err("the notice could not be published");
    assert_eq!(err.error_type(), "NotificationFailed");
}

#[tokio::test]
async fn a_failing_batch_job_backs_off_round_after_round() {
    let throttled = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .then_http_response(|| error_response(429, "ThrottlingException", "Rate exceeded"));
    let app = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&throttled], &[]);
    let mut waits = Vec::new();
    for streak in 0..4 {
        let out = batch(
            app.invoke(&previous_round(failing_job(streak, "NAMED")), TIME_LEFT)
                .await
                .unwrap(),
        );
        waits.push(out.jobs[0].wait_seconds);
    }
    assert_eq!(
        waits,
        [10, 20, 40, 60],
        "doubling from MIN_WAIT_SECONDS, up to MAX_WAIT_SECONDS"
    );
}

#[tokio::test]
async fn a_finished_job_whose_status_says_otherwise_is_refused() {
    let app = app(&[], &[], &[]);
    // A whole output, as a previous round wrote it, but "done" while IN_PROGRESS.
    let job = json!({
        "status": "IN_PROGRESS", "done": true, "jobStatus": "RUNNING",
        "job": {"arn": "x", "partition": "aws", "region": "us-east-1",
                "awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j"},
        "attempt": 2, "waitSeconds": 0, "createdTime": null, "lastUpdatedTime": null,
        "ageSeconds": null, "requestId": null, "results": [], "error": null,
        "notification": null
    });
    let err = app
        .invoke(&previous_round(job), TIME_LEFT)
        .await
        .expect_err("refused");
    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(
        err.to_string()
            .contains("status IN_PROGRESS contradicts done: true"),
        "{err}"
    );
}

#[tokio::test]
async fn a_named_job_gets_no_not_found_grace_after_a_throttled_round() {
    let not_found = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .then_http_response(|| error_response(404, "ResourceNotFoundException", "no such job"));
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(&[], &[&not_found], &[&sns]);

    let named = batch(
        app.invoke(&previous_round(failing_job(1, "NAMED")), TIME_LEFT)
            .await
            .unwrap(),
    );
    assert_eq!(
        named.jobs[0].status,
        Status::Failed,
        "a named job that is not found is gone"
    );
    assert_eq!(
        named.jobs[0].error.as_ref().unwrap().kind,
        "ResourceNotFoundException"
    );

    let started = batch(
        app.invoke(&previous_round(failing_job(1, "STARTED")), TIME_LEFT)
            .await
            .unwrap(),
    );
    assert_eq!(
        started.jobs[0].status,
        Status::InProgress,
        "a job the loop started may not be visible yet"
    );
    assert_eq!(published.all().len(), 1);
}

#[tokio::test]
async fn an_answer_over_the_output_budget_fails_as_output_too_large() {
    let running = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .then_output(|| described("RUNNING", Duration::from_secs(30)));
    let app = app(
        &[("MAX_OUTPUT_BYTES", "10000"), ("BATCH_MAX_JOBS", "20")],
        &[&running],
        &[],
    );
    let jobs: Vec<serde_json::Value> = (0..20)
        .map(|i| json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": format!("j{i}")}))
        .collect();

    let err = app
        .invoke(&json!({ "jobs": jobs }), TIME_LEFT)
        .await
        .expect_err("too large");

    assert_eq!(err.error_type(), "OutputTooLarge");
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .contains("more than MAX_OUTPUT_BYTES (10000)"),
        "{err}"
    );
    let bytes: usize = err.to_string()["the answer is ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a size");
    assert!(bytes > 10_000, "{bytes}");
}
