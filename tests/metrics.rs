//! Every invocation writes exactly one metrics line, under its outcome: a poll, a batch, and
//! each way an invocation is refused or fails.

mod support;

use std::sync::{Arc, Mutex};

use quicksight_snapshot_poller::{App, Sink};
use serde_json::{json, Value};
use support::*;

/// The app with its metrics kept in memory.
fn recorded(app: App) -> (App, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    (app.with_metrics(Sink::Memory(lines.clone())), lines)
}

/// The one line written, parsed.
fn the_line(lines: &Mutex<Vec<String>>) -> Value {
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    serde_json::from_str(&lines[0]).expect("a JSON line")
}

#[tokio::test]
async fn a_failed_job_writes_one_line_counting_its_poll() {
    let job = finished_job(&[], "FAILED", failed_result);
    let (app, lines) = recorded(job.app);

    app.invoke(&event("api-casing.json"), TIME_LEFT)
        .await
        .expect("answered");

    let line = the_line(&lines);
    assert_eq!(line["Outcome"], "FAILED");
    assert_eq!(
        (&line["Polls"], &line["JobsFailed"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(line["Notifications"], 1);
}

#[tokio::test]
async fn a_batch_writes_one_line_for_all_its_polls() {
    let job = finished_job(&[], "COMPLETED", clean_completed_result);
    let (app, lines) = recorded(job.app);

    app.invoke(&event("batch/jobs.json"), TIME_LEFT)
        .await
        .expect("answered");

    let line = the_line(&lines);
    assert_eq!(line["Outcome"], "SUCCEEDED");
    assert_eq!(line["Polls"], 3);
}

#[tokio::test]
async fn a_batch_refused_by_the_allow_list_writes_one_line_and_no_poll() {
    let job = finished_job(
        &[("ALLOWED_ACCOUNT_IDS", "210987654321")],
        "COMPLETED",
        clean_completed_result,
    );
    let (app, lines) = recorded(job.app);

    let err = app
        .invoke(&event("batch/jobs.json"), TIME_LEFT)
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "InvalidJobReference");
    let line = the_line(&lines);
    assert_eq!(line["Outcome"], "InvalidJobReference");
    assert_eq!(line["Polls"], 0);
    assert_eq!(job.describe.num_calls(), 0);
}

#[tokio::test]
async fn an_unreadable_event_writes_one_line_under_its_error_type() {
    let job = finished_job(&[], "COMPLETED", clean_completed_result);
    let (app, lines) = recorded(job.app);

    app.invoke(&event("invalid/not-an-object.json"), TIME_LEFT)
        .await
        .expect_err("refused");

    assert_eq!(the_line(&lines)["Outcome"], "InvalidJobReference");
}

#[tokio::test]
async fn an_answer_over_the_output_budget_is_counted_as_output_too_large() {
    let job = finished_job(
        &[("MAX_OUTPUT_BYTES", "10000"), ("BATCH_MAX_JOBS", "20")],
        "COMPLETED",
        clean_completed_result,
    );
    let (app, lines) = recorded(job.app);
    let reference = event("api-casing.json");
    let jobs: Vec<Value> = (0..20).map(|_| reference.clone()).collect();

    let err = app
        .invoke(&json!({ "jobs": jobs }), TIME_LEFT)
        .await
        .expect_err("too large");

    assert_eq!(err.error_type(), "OutputTooLarge");
    let line = the_line(&lines);
    assert_eq!(line["Outcome"], "OutputTooLarge");
    assert_eq!(line["Polls"], 20, "the polls made still count");
}
