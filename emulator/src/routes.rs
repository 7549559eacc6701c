//! Maps a request to an operation by method and path, the way the restJson1 front end does.

use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use hyper::body::Body as HttpBody;
use hyper::{Method, Request};

use crate::ids::decode_segment;
use crate::jobs::JobKey;
use crate::state::Emulator;
use crate::wire::{AwsError, ErrorType, Reply, RequestId};
use crate::{control, operations};

/// Real Start bodies are a few kilobytes; anything near this is a client bug or abuse.
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub async fn route<B>(emulator: Arc<Emulator>, request: Request<B>) -> Reply
where
    B: HttpBody + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let request_id = RequestId::fresh();
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            let message = format!("The request body could not be read: {error}");
            return AwsError::new(ErrorType::Serialization, message).reply(&request_id);
        }
    };
    let path = parts.uri.path();
    if let Some(control_path) = path.strip_prefix("/_emulator/") {
        return control::route(&emulator, &parts.method, control_path, &body);
    }

    // Split before decoding, so an encoded '/' stays inside its segment and fails validation.
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let job_key = |account: &str, dashboard: &str, job_id: &str| JobKey {
        account: decode_segment(account),
        dashboard: decode_segment(dashboard),
        job_id: decode_segment(job_id),
    };
    if parts.method == Method::POST && path == "/" && crate::sts::is_sts_request(&body) {
        return crate::sts::route(&emulator, &parts.headers, &body).await;
    }
    let sessions = emulator.lock().sessions.clone();
    let caller = emulator.identities.caller(&parts.headers, &sessions).await;
    let caller = caller.as_deref();
    match (&parts.method, segments.as_slice()) {
        (&Method::POST, ["accounts", account, "dashboards", dashboard, "snapshot-jobs"]) => {
            let (account, dashboard) = (decode_segment(account), decode_segment(dashboard));
            let start = operations::Start {
                account,
                dashboard,
                caller,
            };
            operations::start(&emulator, start, &body, &request_id).await
        }
        (&Method::GET, ["accounts", account, "dashboards", dashboard, "snapshot-jobs", job]) => {
            let key = job_key(account, dashboard, job);
            operations::describe(&emulator, key, caller, &request_id).await
        }
        (
            &Method::GET,
            ["accounts", account, "dashboards", dashboard, "snapshot-jobs", job, "result"],
        ) => {
            let key = job_key(account, dashboard, job);
            operations::result(&emulator, key, caller, &request_id).await
        }
        (&Method::POST, ["accounts", account, "identity-context"]) => {
            let account = decode_segment(account);
            crate::users::get_identity_context(&emulator, &account, &body, &request_id)
        }
        _ => {
            let message = format!("No operation matches {} {path}.", parts.method);
            AwsError::new(ErrorType::UnknownOperation, message).reply(&request_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::StatusCode;
    use serde_json::{json, Value};

    const ACCOUNT: &str = "123456789012";

    struct Answer {
        status: StatusCode,
        error_type: Option<String>,
        body: Value,
    }

    async fn call(emulator: &Arc<Emulator>, method: &str, path: &str, body: &str) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/...",
            )
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("valid test request");
        let Reply::Respond(response) = route(emulator.clone(), request).await else {
            panic!("{method} {path}: the emulator hung up");
        };
        let status = response.status();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("full body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            error_type,
            body,
        }
    }

    fn start_body(job_id: &str) -> String {
        json!({
            "SnapshotJobId": job_id,
            "UserConfiguration": { "AnonymousUsers": [{}] },
            "SnapshotConfiguration": { "FileGroups": [{ "Files": [{
                "FormatType": "CSV",
                "SheetSelections": [{ "SheetId": "s1", "SelectionScope": "ALL_VISUALS" }],
            }]}]},
        })
        .to_string()
    }

    fn jobs_path(dashboard: &str) -> String {
        format!("/accounts/{ACCOUNT}/dashboards/{dashboard}/snapshot-jobs")
    }

    #[tokio::test]
    async fn a_started_job_is_queued_then_running_then_completed() {
        let emulator = Emulator::new("us-east-1");
        let started = call(&emulator, "POST", &jobs_path("sales"), &start_body("j1")).await;
        assert_eq!(started.status, StatusCode::ACCEPTED);
        assert_eq!(
            started.body["Arn"],
            "arn:aws:quicksight:us-east-1:123456789012:dashboard/sales/snapshot-job/j1"
        );
        assert_eq!(started.body["Status"], 202);

        let describe = format!("{}/j1", jobs_path("sales"));
        let mut seen = Vec::new();
        for _ in 0..4 {
            let answer = call(&emulator, "GET", &describe, "").await;
            assert_eq!(answer.status, StatusCode::OK);
            seen.push(answer.body["JobStatus"].as_str().unwrap_or("?").to_owned());
        }
        assert_eq!(seen, ["QUEUED", "RUNNING", "RUNNING", "COMPLETED"]);

        let result = call(&emulator, "GET", &format!("{describe}/result"), "").await;
        assert_eq!(result.status, StatusCode::OK);
        let s3 = &result.body["Result"]["AnonymousUsers"][0]["FileGroups"][0]["S3Results"][0];
        assert_eq!(s3["S3Uri"], "s3://emulator-snapshots/snapshots/j1/1.csv");
    }

    #[tokio::test]
    async fn a_dashboard_named_for_failure_gives_a_failed_job() {
        let emulator = Emulator::new("us-east-1");
        emulator.lock().defaults.running_polls = 0;
        let dashboard = "will-fail";
        call(&emulator, "POST", &jobs_path(dashboard), &start_body("j1")).await;
        let describe = format!("{}/j1", jobs_path(dashboard));
        call(&emulator, "GET", &describe, "").await;
        let last = call(&emulator, "GET", &describe, "").await;
        assert_eq!(last.body["JobStatus"], "FAILED");

        let result = call(&emulator, "GET", &format!("{describe}/result"), "").await;
        assert_eq!(result.body["JobStatus"], "FAILED");
        assert_eq!(result.body["ErrorInfo"]["ErrorType"], "INTERNAL_FAILURE");
    }

    #[tokio::test]
    async fn in_wall_clock_mode_twelve_running_jobs_hold_every_slot_until_their_run_ends() {
        let emulator = Emulator::new("us-east-1");
        emulator.lock().defaults.run_seconds = Some(1);
        for i in 0..12 {
            let started = call(
                &emulator,
                "POST",
                &jobs_path("d1"),
                &start_body(&format!("j{i}")),
            )
            .await;
            assert_eq!(started.status, StatusCode::ACCEPTED, "{i}");
        }
        let refused = call(&emulator, "POST", &jobs_path("d1"), &start_body("j12")).await;
        assert_eq!(
            refused.error_type.as_deref(),
            Some("LimitExceededException")
        );
        // Nobody polled: the slots free themselves when the runs end, as in the service.
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let admitted = call(&emulator, "POST", &jobs_path("d1"), &start_body("j12")).await;
        assert_eq!(admitted.status, StatusCode::ACCEPTED);
        let described = call(&emulator, "GET", &format!("{}/j0", jobs_path("d1")), "").await;
        assert_eq!(described.body["JobStatus"], "COMPLETED");
    }

    #[tokio::test]
    async fn an_unknown_job_is_not_found() {
        let emulator = Emulator::new("us-east-1");
        let answer = call(&emulator, "GET", &format!("{}/nope", jobs_path("d1")), "").await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(
            answer.error_type.as_deref(),
            Some("ResourceNotFoundException")
        );
        assert!(answer.body["RequestId"].is_string());
    }

    #[tokio::test]
    async fn an_unknown_route_is_an_unknown_operation() {
        let emulator = Emulator::new("us-east-1");
        for (method, path) in [
            ("GET", "/"),
            ("GET", "/accounts/123456789012/dashboards"),
            (
                "DELETE",
                "/accounts/123456789012/dashboards/d1/snapshot-jobs/j1",
            ),
            ("GET", "/accounts/123456789012/dashboards/d1/snapshot-jobs"),
        ] {
            let answer = call(&emulator, method, path, "").await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(
                answer.error_type.as_deref(),
                Some("UnknownOperationException")
            );
        }
    }

    #[tokio::test]
    async fn ids_are_validated_after_percent_decoding() {
        let emulator = Emulator::new("us-east-1");
        let rejected = [
            "/accounts/12345678901/dashboards/d1/snapshot-jobs/j1",
            "/accounts/123456789012/dashboards/a%2Fb/snapshot-jobs/j1",
            "/accounts/123456789012/dashboards/d1/snapshot-jobs/..",
            "/accounts/123456789012/dashboards/d1/snapshot-jobs/j%ZZ",
            "/accounts/123456789012/dashboards//snapshot-jobs/j1",
        ];
        for path in rejected {
            let answer = call(&emulator, "GET", path, "").await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(
                answer.error_type.as_deref(),
                Some("InvalidParameterValueException"),
                "{path}"
            );
        }
        // An encoded character that is legal once decoded is accepted.
        let path = "/accounts/123456789012/dashboards/d%2D1/snapshot-jobs/j1";
        assert_eq!(
            call(&emulator, "GET", path, "").await.status,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn start_refuses_bodies_the_service_would_refuse() {
        let emulator = Emulator::new("us-east-1");
        let cases = [
            ("{not json", "SerializationException"),
            ("[]", "SerializationException"),
            (
                r#"{"SnapshotJobId":"j1"}"#,
                "InvalidParameterValueException",
            ),
            (
                r#"{"SnapshotJobId":"j1","SnapshotConfiguration":{}}"#,
                "InvalidParameterValueException",
            ),
            (
                r#"{"SnapshotJobId":"j/1","SnapshotConfiguration":{"FileGroups":[{"Files":[{"FormatType":"PDF"}]}]}}"#,
                "InvalidParameterValueException",
            ),
            (
                r#"{"SnapshotJobId":"j1","SnapshotConfiguration":{"FileGroups":[{"Files":[{"FormatType":"PNG"}]}]}}"#,
                "InvalidParameterValueException",
            ),
            (
                r#"{"SnapshotJobId":7,"SnapshotConfiguration":{"FileGroups":[]}}"#,
                "SerializationException",
            ),
        ];
        for (body, error_type) in cases {
            let answer = call(&emulator, "POST", &jobs_path("d1"), body).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(answer.error_type.as_deref(), Some(error_type), "{body}");
        }
        assert!(emulator.lock().jobs.is_empty());
    }

    #[tokio::test]
    async fn reusing_a_job_id_is_a_conflict() {
        let emulator = Emulator::new("us-east-1");
        call(&emulator, "POST", &jobs_path("d1"), &start_body("j1")).await;
        let again = call(&emulator, "POST", &jobs_path("d1"), &start_body("j1")).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(again.error_type.as_deref(), Some("ResourceExistsException"));
    }

    #[tokio::test]
    async fn a_faulted_describe_does_not_move_the_timeline() {
        let emulator = Emulator::new("us-east-1");
        let job = json!({
            "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": "j1",
            "queuedPolls": 1, "runningPolls": 0, "outcome": "COMPLETED",
            "faults": [
                { "operation": "describe", "error": "ThrottlingException", "count": 1 },
                { "operation": "describe", "kind": "unknown-status", "count": 1 },
                { "operation": "describe", "kind": "missing-fields", "count": 1 },
            ],
        });
        let created = call(&emulator, "POST", "/_emulator/jobs", &job.to_string()).await;
        assert_eq!(created.status, StatusCode::CREATED);

        let describe = format!("{}/j1", jobs_path("d1"));
        let throttled = call(&emulator, "GET", &describe, "").await;
        assert_eq!(throttled.error_type.as_deref(), Some("ThrottlingException"));
        let odd = call(&emulator, "GET", &describe, "").await;
        assert_eq!(odd.body["JobStatus"], "CANCELLING");
        let bare = call(&emulator, "GET", &describe, "").await;
        assert_eq!(bare.status, StatusCode::OK);
        assert!(bare.body.get("JobStatus").is_none());
        assert_eq!(bare.body["Arn"], created.body["arn"]);

        let statuses = [
            call(&emulator, "GET", &describe, "").await.body["JobStatus"].clone(),
            call(&emulator, "GET", &describe, "").await.body["JobStatus"].clone(),
        ];
        assert_eq!(statuses, [json!("QUEUED"), json!("COMPLETED")]);
    }

    #[tokio::test]
    async fn a_verbatim_result_is_returned_as_given() {
        let emulator = Emulator::new("us-east-1");
        let result = json!({ "RegisteredUsers": [{ "FileGroups": [{ "S3Results": [{
            "S3Uri": "s3://b/p/x.pdf",
            "ErrorInfo": [{ "ErrorType": "RLS_CHANGED", "ErrorMessage": "re-run" }],
        }]}]}]});
        let job = json!({
            "awsAccountId": ACCOUNT, "dashboardId": "d1", "snapshotJobId": "j1",
            "queuedPolls": 0, "runningPolls": 0, "result": result,
        });
        call(&emulator, "POST", "/_emulator/jobs", &job.to_string()).await;
        let answer = call(
            &emulator,
            "GET",
            &format!("{}/j1/result", jobs_path("d1")),
            "",
        )
        .await;
        assert_eq!(answer.body["Result"], result);
    }

    #[tokio::test]
    async fn identity_contexts_are_issued_only_for_registered_users() {
        let emulator = Emulator::new("us-east-1");
        emulator.lock().directory.add(
            ACCOUNT,
            "tenants",
            crate::users::User {
                name: "ana".into(),
                email: Some("ana@example.com".into()),
            },
        );
        let path = format!("/accounts/{ACCOUNT}/identity-context");

        let by_email = call(
            &emulator,
            "POST",
            &path,
            r#"{"UserIdentifier":{"Email":"ana@example.com"},"Namespace":"tenants"}"#,
        )
        .await;
        assert_eq!(by_email.status, StatusCode::OK);
        let token = by_email.body["Context"]
            .as_str()
            .expect("a token")
            .to_owned();
        assert!(token.contains(".tenants.ana."), "{token}");
        let issued = emulator
            .lock()
            .directory
            .issued(&token)
            .cloned()
            .expect("kept");
        assert_eq!(
            issued.user_arn,
            format!("arn:aws:quicksight:us-east-1:{ACCOUNT}:user/tenants/ana")
        );

        let unknown = call(
            &emulator,
            "POST",
            &path,
            r#"{"UserIdentifier":{"UserName":"bob"},"Namespace":"tenants"}"#,
        )
        .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(
            unknown.error_type.as_deref(),
            Some("ResourceNotFoundException")
        );
        let no_namespace = call(
            &emulator,
            "POST",
            &path,
            r#"{"UserIdentifier":{"UserName":"ana"},"Namespace":"nowhere"}"#,
        )
        .await;
        assert_eq!(no_namespace.status, StatusCode::NOT_FOUND);
        assert!(no_namespace.body["Message"]
            .as_str()
            .unwrap()
            .contains("Namespace nowhere"));
        let namespace_missing = call(
            &emulator,
            "POST",
            &path,
            r#"{"UserIdentifier":{"UserName":"ana"}}"#,
        )
        .await;
        assert_eq!(namespace_missing.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            namespace_missing.error_type.as_deref(),
            Some("InvalidParameterValueException")
        );
    }
}
