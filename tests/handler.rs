//! `App::handle`, the function Lambda calls: a raw event and its context in, the answer out.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Context, LambdaEvent};
use quicksight_snapshot_poller::contract::{Answer, Status};
use serde_json::value::RawValue;
use support::*;

/// An invocation of `event` whose Lambda deadline is `deadline_ms` since the epoch.
fn invocation(event: &str, deadline_ms: u64) -> LambdaEvent<Box<RawValue>> {
    let mut context = Context::default();
    context.request_id = "req-handler".into();
    context.deadline = deadline_ms;
    let payload = RawValue::from_string(event.to_owned()).expect("valid JSON");
    LambdaEvent::new(payload, context)
}

fn in_ms(from_now: Duration) -> u64 {
    (SystemTime::now() + from_now)
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

fn fixture(name: &str) -> String {
    event(name).to_string()
}

#[tokio::test]
async fn handler_answers_a_fixture_event_with_the_jobs_status() {
    let job = finished_job(&[], "FAILED", failed_result);

    let answer = job
        .app
        .handle(invocation(
            &fixture("api-casing.json"),
            in_ms(Duration::from_secs(30)),
        ))
        .await
        .expect("answered");

    let Answer::Single(output) = answer else {
        panic!("one job's answer");
    };
    assert_eq!(output.status, Status::Failed);
    assert_eq!(output.job.dashboard_id, "sales-dashboard");
    assert_eq!(job.describe.num_calls(), 1);
    assert_eq!(job.result.num_calls(), 1);
    assert_eq!(job.published.all().len(), 1, "one notice");
}

#[tokio::test]
async fn handler_answers_a_batch_event_for_every_job() {
    let job = finished_job(&[], "COMPLETED", clean_completed_result);
    let batch = fixture("batch/jobs.json");

    let answer = job
        .app
        .handle(invocation(&batch, in_ms(Duration::from_secs(30))))
        .await
        .expect("answered");

    let Answer::Batch(batch) = answer else {
        panic!("a batch answer");
    };
    assert_eq!(batch.jobs.len(), 3);
    assert_eq!(batch.status, Status::Succeeded);
    assert_eq!(job.describe.num_calls(), 3);
}

#[tokio::test]
async fn handler_refuses_an_oversized_event_before_any_call() {
    let job = finished_job(
        &[("MAX_EVENT_BYTES", "10000"), ("MAX_OUTPUT_BYTES", "10000")],
        "COMPLETED",
        clean_completed_result,
    );
    let padded = format!(
        r#"{{"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "j", "pad": "{}"}}"#,
        "x".repeat(20_000)
    );

    let err = job
        .app
        .handle(invocation(&padded, in_ms(Duration::from_secs(30))))
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(err.to_string().contains("MAX_EVENT_BYTES"), "{err}");
    assert_eq!(job.describe.num_calls(), 0);
}

#[tokio::test]
async fn handler_with_a_deadline_in_the_past_still_polls() {
    // A runtime emulator may send a deadline long gone; the poll gets a default budget.
    let job = finished_job(&[], "COMPLETED", clean_completed_result);

    let answer = job
        .app
        .handle(invocation(&fixture("api-casing.json"), 1_000))
        .await
        .expect("answered");

    assert_eq!(answer.status(), Status::Succeeded);
    assert_eq!(job.describe.num_calls(), 1);
}
