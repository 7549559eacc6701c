//! The three QuickSight operations over real HTTP, as an SDK sees them.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn start_answers_202_with_the_job_arn_and_id() {
    let emulator = start_emulator().await;
    let reply = call(
        emulator.addr,
        "POST",
        &jobs_path("sales"),
        &start_request("nightly-1"),
    )
    .await;

    assert_eq!(reply.status, 202);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(
        body["Arn"],
        "arn:aws:quicksight:us-east-1:123456789012:dashboard/sales/snapshot-job/nightly-1"
    );
    assert_eq!(body["SnapshotJobId"], "nightly-1");
    assert_eq!(body["Status"], 202);
    assert_eq!(reply.header("x-amzn-requestid"), body["RequestId"].as_str());
}

#[tokio::test]
async fn describe_follows_the_scripted_timeline() {
    let emulator = start_emulator().await;
    call(
        emulator.addr,
        "POST",
        &jobs_path("sales"),
        &start_request("j1"),
    )
    .await;

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(describe_status(emulator.addr, "sales", "j1").await);
    }
    assert_eq!(
        statuses,
        ["QUEUED", "RUNNING", "RUNNING", "COMPLETED", "COMPLETED"]
    );
}

#[tokio::test]
async fn describe_reports_the_job_with_epoch_second_timestamps_and_redacted_users() {
    let emulator = start_emulator().await;
    call(
        emulator.addr,
        "POST",
        &jobs_path("sales"),
        &start_request("j1"),
    )
    .await;
    let body = call(emulator.addr, "GET", &job_path("sales", "j1"), "")
        .await
        .json();

    assert_eq!(body["AwsAccountId"], ACCOUNT);
    assert_eq!(body["DashboardId"], "sales");
    assert_eq!(body["SnapshotJobId"], "j1");
    assert_eq!(body["Status"], 200);
    let created = body["CreatedTime"]
        .as_f64()
        .expect("CreatedTime is a number");
    assert!(
        created > 1_700_000_000.0 && created < 4_000_000_000.0,
        "{created}"
    );
    assert!(body["LastUpdatedTime"].as_f64() >= Some(created));
    assert_eq!(
        body["UserConfiguration"],
        json!({ "AnonymousUsers": [{ "RowLevelPermissionTagKeys": ["region"] }] })
    );
    assert_eq!(
        body["SnapshotConfiguration"]["FileGroups"][1]["Files"][0]["FormatType"],
        "CSV"
    );
}

#[tokio::test]
async fn result_before_terminal_state_is_rejected() {
    let emulator = start_emulator().await;
    call(
        emulator.addr,
        "POST",
        &jobs_path("sales"),
        &start_request("j1"),
    )
    .await;

    let reply = call(
        emulator.addr,
        "GET",
        &format!("{}/result", job_path("sales", "j1")),
        "",
    )
    .await;
    reply.assert_error(400, "InvalidParameterValueException");
    assert_eq!(
        reply.json()["Message"],
        "Dashboard Snapshot Job with id j1 has not reached a terminal state."
    );
}

#[tokio::test]
async fn a_completed_job_lists_an_s3_uri_per_file_group() {
    let emulator = start_emulator().await;
    call(
        emulator.addr,
        "POST",
        &jobs_path("sales"),
        &start_request("j1"),
    )
    .await;
    for _ in 0..4 {
        describe_status(emulator.addr, "sales", "j1").await;
    }

    let reply = call(
        emulator.addr,
        "GET",
        &format!("{}/result", job_path("sales", "j1")),
        "",
    )
    .await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["JobStatus"], "COMPLETED");
    let groups = &body["Result"]["AnonymousUsers"][0]["FileGroups"];
    assert_eq!(
        groups[0]["S3Results"][0]["S3Uri"],
        "s3://exports/nightly/j1/1.pdf"
    );
    assert_eq!(
        groups[1]["S3Results"][0]["S3Uri"],
        "s3://exports/nightly/j1/2.csv"
    );
    assert_eq!(
        groups[1]["S3Results"][0]["S3DestinationConfiguration"]["BucketConfiguration"]
            ["BucketName"],
        "exports"
    );
}

#[tokio::test]
async fn a_dashboard_named_for_failure_fails_with_error_info() {
    let emulator = start_emulator().await;
    call(
        emulator.addr,
        "POST",
        &jobs_path("report-fail"),
        &start_request("j1"),
    )
    .await;
    let statuses: Vec<String> = {
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(describe_status(emulator.addr, "report-fail", "j1").await);
        }
        seen
    };
    assert_eq!(statuses.last().map(String::as_str), Some("FAILED"));

    let body = call(
        emulator.addr,
        "GET",
        &format!("{}/result", job_path("report-fail", "j1")),
        "",
    )
    .await
    .json();
    assert_eq!(body["JobStatus"], "FAILED");
    assert!(body["ErrorInfo"]["ErrorType"].is_string());
    assert!(body["ErrorInfo"]["ErrorMessage"].is_string());
}

#[tokio::test]
async fn path_with_encoded_slash_is_rejected() {
    let emulator = start_emulator().await;
    let reply = call(emulator.addr, "GET", &job_path("sales%2Fq1", "j1"), "").await;

    reply.assert_error(400, "InvalidParameterValueException");
    assert!(reply.json()["Message"]
        .as_str()
        .unwrap_or_default()
        .contains("dashboardId"));
}

#[tokio::test]
async fn a_short_account_id_is_rejected() {
    let emulator = start_emulator().await;
    let reply = get(
        emulator.addr,
        "/accounts/1234/dashboards/d1/snapshot-jobs/j1",
    )
    .await;
    reply.assert_error(400, "InvalidParameterValueException");
}

#[tokio::test]
async fn start_enforces_twelve_running_jobs() {
    let emulator = start_emulator().await;
    for n in 0..12 {
        let reply = call(
            emulator.addr,
            "POST",
            &jobs_path("sales"),
            &start_request(&format!("j{n}")),
        )
        .await;
        assert_eq!(reply.status, 202, "job {n}: {}", reply.body);
    }
    let refused = call(
        emulator.addr,
        "POST",
        &jobs_path("sales"),
        &start_request("j12"),
    )
    .await;
    refused.assert_error(409, "LimitExceededException");

    // A finished job frees its slot.
    for _ in 0..4 {
        describe_status(emulator.addr, "sales", "j0").await;
    }
    let accepted = call(
        emulator.addr,
        "POST",
        &jobs_path("sales"),
        &start_request("j12"),
    )
    .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
}

#[tokio::test]
async fn reusing_a_job_id_is_a_resource_exists_conflict() {
    let emulator = start_emulator().await;
    call(
        emulator.addr,
        "POST",
        &jobs_path("sales"),
        &start_request("j1"),
    )
    .await;
    let reply = call(
        emulator.addr,
        "POST",
        &jobs_path("sales"),
        &start_request("j1"),
    )
    .await;
    reply.assert_error(409, "ResourceExistsException");
}

#[tokio::test]
async fn start_without_file_groups_is_an_invalid_parameter() {
    let emulator = start_emulator().await;
    let body = json!({ "SnapshotJobId": "j1", "SnapshotConfiguration": {} }).to_string();
    let reply = call(emulator.addr, "POST", &jobs_path("sales"), &body).await;
    reply.assert_error(400, "InvalidParameterValueException");
}

#[tokio::test]
async fn a_malformed_start_body_is_a_serialization_error() {
    let emulator = start_emulator().await;
    let reply = call(
        emulator.addr,
        "POST",
        &jobs_path("sales"),
        "{\"SnapshotJobId\": ",
    )
    .await;
    reply.assert_error(400, "SerializationException");
}

#[tokio::test]
async fn an_unknown_job_is_resource_not_found() {
    let emulator = start_emulator().await;
    let reply = call(emulator.addr, "GET", &job_path("sales", "ghost"), "").await;
    reply.assert_error(404, "ResourceNotFoundException");
    let body = reply.json();
    assert!(body["Message"].is_string());
    assert_eq!(reply.header("x-amzn-requestid"), body["RequestId"].as_str());
}

#[tokio::test]
async fn an_unknown_route_is_an_unknown_operation() {
    let emulator = start_emulator().await;
    let reply = get(emulator.addr, "/accounts/123456789012/dashboards/d1").await;
    reply.assert_error(404, "UnknownOperationException");
}

#[tokio::test]
async fn one_connection_serves_many_requests() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emulator = start_emulator().await;
    let mut stream = tokio::net::TcpStream::connect(emulator.addr)
        .await
        .expect("connect");
    let request = "GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n";
    stream
        .write_all(format!("{request}{request}").as_bytes())
        .await
        .expect("write");
    let mut received = String::new();
    let mut buffer = [0u8; 4096];
    while received.matches("{\"ok\":true}").count() < 2 {
        let read = stream.read(&mut buffer).await.expect("read");
        assert!(read > 0, "connection closed early: {received}");
        received.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    assert_eq!(received.matches("HTTP/1.1 200 OK").count(), 2);
}
