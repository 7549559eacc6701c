//! Scripted faults and throttling over real HTTP.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

fn job(job_id: &str, faults: serde_json::Value) -> serde_json::Value {
    json!({
        "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": job_id,
        "queuedPolls": 0, "runningPolls": 1, "outcome": "COMPLETED", "faults": faults,
    })
}

#[tokio::test]
async fn throttling_above_rate_answers_429_with_error_type_header() {
    let emulator = start_emulator().await;
    add_job(emulator.addr, job("j1", json!([]))).await;
    let faults = json!({ "throttleRps": 3 }).to_string();
    assert_eq!(
        call(emulator.addr, "POST", "/_emulator/faults", &faults)
            .await
            .status,
        200
    );

    let mut statuses = Vec::new();
    for _ in 0..5 {
        let reply = call(emulator.addr, "GET", &job_path("d1", "j1"), "").await;
        if reply.status == 429 {
            assert_eq!(reply.error_type(), Some("ThrottlingException"));
            assert!(reply.json()["Message"].is_string());
        }
        statuses.push(reply.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);

    let calls = get(emulator.addr, "/_emulator/calls").await.json();
    assert_eq!(calls["throttled"], 2);
    assert_eq!(calls["byOperation"]["describe"], 5);
}

#[tokio::test]
async fn drop_fault_closes_connection_without_reply() {
    let emulator = start_emulator().await;
    add_job(
        emulator.addr,
        job(
            "j1",
            json!([{ "operation": "describe", "kind": "drop", "count": 1 }]),
        ),
    )
    .await;

    assert!(send(emulator.addr, "GET", &job_path("d1", "j1"), "")
        .await
        .is_none());
    // The drop neither moved the timeline nor broke the server.
    assert_eq!(describe_status(emulator.addr, "d1", "j1").await, "RUNNING");
}

#[tokio::test]
async fn malformed_fault_sends_200_with_a_truncated_body() {
    let emulator = start_emulator().await;
    add_job(
        emulator.addr,
        job(
            "j1",
            json!([{ "operation": "describe", "kind": "malformed", "count": 1 }]),
        ),
    )
    .await;

    let reply = call(emulator.addr, "GET", &job_path("d1", "j1"), "").await;
    assert_eq!(reply.status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&reply.body).is_err());
}

#[tokio::test]
async fn error_faults_answer_the_modelled_status_and_are_used_up_in_order() {
    let emulator = start_emulator().await;
    let faults = json!([
        { "operation": "describe", "error": "AccessDeniedException", "count": 1 },
        { "operation": "describe", "error": "InternalFailureException", "count": 1 },
        { "operation": "describe", "error": "UnsupportedUserEditionException", "count": 1 },
    ]);
    add_job(emulator.addr, job("j1", faults)).await;

    let mut seen = Vec::new();
    for _ in 0..4 {
        let reply = call(emulator.addr, "GET", &job_path("d1", "j1"), "").await;
        seen.push((reply.status, reply.error_type().map(str::to_owned)));
    }
    let expected = [
        (401, Some("AccessDeniedException".to_owned())),
        (500, Some("InternalFailureException".to_owned())),
        (403, Some("UnsupportedUserEditionException".to_owned())),
        (200, None),
    ];
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn global_faults_hit_every_job_and_start_too() {
    let emulator = start_emulator().await;
    let faults = json!({ "faults": [
        { "operation": "start", "error": "ThrottlingException", "count": 1 },
        { "operation": "any", "error": "InternalFailureException", "count": 1 },
    ]});
    call(
        emulator.addr,
        "POST",
        "/_emulator/faults",
        &faults.to_string(),
    )
    .await;

    let throttled = call(
        emulator.addr,
        "POST",
        &jobs_path("d1"),
        &start_request("j1"),
    )
    .await;
    assert_eq!(throttled.status, 429);
    let failed = call(
        emulator.addr,
        "POST",
        &jobs_path("d1"),
        &start_request("j1"),
    )
    .await;
    assert_eq!(failed.status, 500);
    // Neither faulted start created the job, so the third one is accepted.
    let accepted = call(
        emulator.addr,
        "POST",
        &jobs_path("d1"),
        &start_request("j1"),
    )
    .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);

    let calls = get(emulator.addr, "/_emulator/calls").await.json();
    assert_eq!(calls["byOperation"]["start"], 3);
    assert_eq!(calls["throttled"], 1);
}

#[tokio::test]
async fn delay_fault_answers_normally_after_the_delay() {
    let emulator = start_emulator().await;
    let faults = json!([{ "operation": "describe", "kind": "delay", "delayMs": 300, "count": 1 }]);
    add_job(emulator.addr, job("j1", faults)).await;

    let began = Instant::now();
    assert_eq!(describe_status(emulator.addr, "d1", "j1").await, "RUNNING");
    assert!(began.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        describe_status(emulator.addr, "d1", "j1").await,
        "COMPLETED"
    );
}

#[tokio::test]
async fn a_never_job_stays_running_and_can_be_backdated() {
    let emulator = start_emulator().await;
    add_job(
        emulator.addr,
        json!({
            "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": "slow",
            "queuedPolls": 0, "runningPolls": 0, "outcome": "NEVER", "ageSeconds": 3600,
        }),
    )
    .await;

    for _ in 0..20 {
        assert_eq!(
            describe_status(emulator.addr, "d1", "slow").await,
            "RUNNING"
        );
    }
    let body = call(emulator.addr, "GET", &job_path("d1", "slow"), "")
        .await
        .json();
    let created = body["CreatedTime"].as_f64().unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs_f64())
        .unwrap_or_default();
    assert!(
        (now - created - 3600.0).abs() < 60.0,
        "created {created}, now {now}"
    );
}
