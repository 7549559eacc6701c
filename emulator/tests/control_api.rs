//! The `/_emulator` control API.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn health_answers_ok() {
    let emulator = start_emulator().await;
    let reply = get(emulator.addr, "/_emulator/health").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({ "ok": true }));
}

#[tokio::test]
async fn a_scripted_job_answers_with_its_arn_and_shows_in_the_call_log() {
    let emulator = start_emulator().await;
    let created = add_job(
        emulator.addr,
        json!({ "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": "j1" }),
    )
    .await;
    assert_eq!(
        created["arn"],
        "arn:aws:quicksight:us-east-1:123456789012:dashboard/d1/snapshot-job/j1"
    );
    describe_status(emulator.addr, "d1", "j1").await;
    call(
        emulator.addr,
        "GET",
        &format!("{}/result", job_path("d1", "j1")),
        "",
    )
    .await;

    let calls = get(emulator.addr, "/_emulator/calls").await.json();
    assert_eq!(
        calls,
        json!({
            "total": 2,
            "byOperation": { "start": 0, "describe": 1, "result": 1 },
            "throttled": 0,
            "jobs": [{
                "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": "j1",
                "describe": 1, "result": 1, "status": "QUEUED",
            }],
        })
    );
}

#[tokio::test]
async fn a_scripted_failure_reports_the_given_error_info() {
    let emulator = start_emulator().await;
    let error_info =
        json!({ "ErrorType": "DASHBOARD_ACCESS_DENIED", "ErrorMessage": "lost access" });
    add_job(
        emulator.addr,
        json!({
            "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": "j1",
            "queuedPolls": 0, "runningPolls": 0, "outcome": "FAILED", "errorInfo": error_info,
        }),
    )
    .await;
    assert_eq!(describe_status(emulator.addr, "d1", "j1").await, "FAILED");
    let body = call(
        emulator.addr,
        "GET",
        &format!("{}/result", job_path("d1", "j1")),
        "",
    )
    .await
    .json();
    assert_eq!(body["ErrorInfo"], error_info);
}

#[tokio::test]
async fn defaults_change_the_timeline_of_started_jobs() {
    let emulator = start_emulator().await;
    let reply = call(
        emulator.addr,
        "POST",
        "/_emulator/defaults",
        r#"{"queuedPolls":0,"runningPolls":0}"#,
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({ "queuedPolls": 0, "runningPolls": 0, "outcome": "COMPLETED" })
    );
    call(
        emulator.addr,
        "POST",
        &jobs_path("d1"),
        &start_request("j1"),
    )
    .await;
    assert_eq!(
        describe_status(emulator.addr, "d1", "j1").await,
        "COMPLETED"
    );
}

#[tokio::test]
async fn reset_forgets_jobs_faults_and_counters() {
    let emulator = start_emulator().await;
    add_job(
        emulator.addr,
        json!({ "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": "j1" }),
    )
    .await;
    call(
        emulator.addr,
        "POST",
        "/_emulator/faults",
        r#"{"throttleRps":1}"#,
    )
    .await;
    describe_status(emulator.addr, "d1", "j1").await;

    assert_eq!(
        call(emulator.addr, "POST", "/_emulator/reset", "")
            .await
            .status,
        200
    );
    let calls = get(emulator.addr, "/_emulator/calls").await.json();
    assert_eq!(calls["total"], 0);
    assert_eq!(calls["jobs"], json!([]));
    for _ in 0..3 {
        let reply = call(emulator.addr, "GET", &job_path("d1", "j1"), "").await;
        assert_eq!(reply.status, 404, "throttling must be off after reset");
    }
}

#[tokio::test]
async fn mistakes_in_control_requests_are_explained() {
    let emulator = start_emulator().await;
    let cases = [
        (
            "/_emulator/jobs",
            json!({ "awsAccountId": ACCOUNT, "dashboardId": "d1" }),
        ),
        (
            "/_emulator/jobs",
            json!({ "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": "j1", "queuedPoll": 1 }),
        ),
        (
            "/_emulator/jobs",
            json!({ "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": "j1", "outcome": "DONE" }),
        ),
        (
            "/_emulator/jobs",
            json!({ "awsAccountId": "1", "dashboardId": "d1", "snapshotJobId": "j1" }),
        ),
        (
            "/_emulator/faults",
            json!({ "faults": [{ "error": "OopsException" }] }),
        ),
        ("/_emulator/faults", json!({ "throttleRps": 0 })),
    ];
    for (path, body) in cases {
        let reply = call(emulator.addr, "POST", path, &body.to_string()).await;
        assert_eq!(reply.status, 400, "{path} {body}");
        assert!(reply.json()["error"].is_string(), "{}", reply.body);
    }
    let duplicate = json!({ "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": "j1" });
    add_job(emulator.addr, duplicate.clone()).await;
    let reply = call(
        emulator.addr,
        "POST",
        "/_emulator/jobs",
        &duplicate.to_string(),
    )
    .await;
    assert_eq!(reply.status, 409);
}
