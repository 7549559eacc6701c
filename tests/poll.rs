//! The whole poll against mocked QuickSight and SNS clients: statuses, results, errors, notices.

mod support;

use std::time::Duration;

use aws_sdk_quicksight::operation::describe_dashboard_snapshot_job_result::DescribeDashboardSnapshotJobResultOutput;
use aws_sdk_quicksight::types::{
    AnonymousUserSnapshotJobResult, RegisteredUserSnapshotJobResult, SnapshotFileFormatType,
    SnapshotJobErrorInfo, SnapshotJobResult, SnapshotJobResultFileGroup, SnapshotJobS3Result,
    SnapshotJobStatus,
};
use aws_smithy_mocks::mock;
use quicksight_snapshot_poller::contract::{Status, UserType};
use serde_json::json;
use support::*;

const MINUTE: Duration = Duration::from_secs(60);

fn reference() -> serde_json::Value {
    event("api-casing.json")
}

/// Two anonymous users (PDF + CSV groups, then EXCEL) and one registered user whose CSV failed.
fn completed_result() -> DescribeDashboardSnapshotJobResultOutput {
    let result = SnapshotJobResult::builder()
        .anonymous_users(
            AnonymousUserSnapshotJobResult::builder()
                .file_groups(file_group(
                    SnapshotFileFormatType::Pdf,
                    &["s3://bucket/a/report.pdf"],
                    &[],
                ))
                .file_groups(file_group(
                    SnapshotFileFormatType::Csv,
                    &["s3://bucket/a/table.csv"],
                    &[],
                ))
                .build(),
        )
        .anonymous_users(
            AnonymousUserSnapshotJobResult::builder()
                .file_groups(file_group(
                    SnapshotFileFormatType::Excel,
                    &["s3://bucket/b/book.xlsx"],
                    &[],
                ))
                .build(),
        )
        .registered_users(
            RegisteredUserSnapshotJobResult::builder()
                .file_groups(file_group(
                    SnapshotFileFormatType::Csv,
                    &["s3://bucket/r/visual.csv"],
                    &[("RLS_CHANGED", "Row-level security settings have changed.")],
                ))
                .build(),
        )
        .build();
    DescribeDashboardSnapshotJobResultOutput::builder()
        .job_status(SnapshotJobStatus::Completed)
        .result(result)
        .request_id("req-result")
        .status(200)
        .build()
}

#[tokio::test]
async fn queued_and_running_jobs_are_in_progress_without_a_result_call_or_notice() {
    for status in ["QUEUED", "RUNNING"] {
        let describe = describe_answers(status, Duration::from_secs(10));
        let result = result_never_called();
        let published = Published::default();
        let sns = sns_accepts(&published);
        let app = app(&[], &[&describe, &result], &[&sns]);

        let out = app.poll(&reference(), TIME_LEFT).await.expect("polls");

        assert_eq!(out.status, Status::InProgress, "{status}");
        assert!(!out.done);
        assert_eq!(out.job_status.as_deref(), Some(status));
        assert_eq!(out.attempt, 1);
        assert_eq!(out.wait_seconds, 5, "a young job waits the minimum");
        assert_eq!(describe.num_calls(), 1);
        assert_eq!(
            result.num_calls(),
            0,
            "Result must not be called before the job is terminal"
        );
        assert!(published.all().is_empty());
        assert!(out.notification.is_none());
    }
}

#[tokio::test]
async fn completed_job_collects_every_uri_of_every_user_and_file_group() {
    let FinishedJob { app, published, .. } = finished_job(&[], "COMPLETED", completed_result);

    let out = app.poll(&reference(), TIME_LEFT).await.expect("polls");

    assert_eq!(out.status, Status::Succeeded);
    assert!(out.done);
    assert_eq!(out.wait_seconds, 0);
    assert_eq!(out.request_id.as_deref(), Some("req-result"));
    type Row<'a> = (
        UserType,
        usize,
        usize,
        Option<&'a str>,
        Option<&'a str>,
        usize,
    );
    let summary: Vec<Row> = out
        .results
        .iter()
        .map(|f| {
            (
                f.user_type,
                f.user_index,
                f.file_group_index,
                f.format.as_deref(),
                f.s3_uri.as_deref(),
                f.errors.len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                UserType::Anonymous,
                0,
                0,
                Some("PDF"),
                Some("s3://bucket/a/report.pdf"),
                0
            ),
            (
                UserType::Anonymous,
                0,
                1,
                Some("CSV"),
                Some("s3://bucket/a/table.csv"),
                0
            ),
            (
                UserType::Anonymous,
                1,
                0,
                Some("EXCEL"),
                Some("s3://bucket/b/book.xlsx"),
                0
            ),
            (
                UserType::Registered,
                0,
                0,
                Some("CSV"),
                Some("s3://bucket/r/visual.csv"),
                1
            ),
        ]
    );
    assert_eq!(out.results[3].errors[0].kind, "RLS_CHANGED");
    assert!(out.error.is_none());
    // A file that failed inside a completed job is worth a notice even when successes are not.
    assert_eq!(published.all().len(), 1);
}

#[tokio::test]
async fn clean_success_is_not_notified_unless_configured() {
    for (notify_on_success, expected) in [("false", 0), ("true", 1)] {
        let FinishedJob { app, published, .. } = finished_job(
            &[("NOTIFY_ON_SUCCESS", notify_on_success)],
            "COMPLETED",
            clean_completed_result,
        );

        let out = app.poll(&reference(), TIME_LEFT).await.expect("polls");

        assert_eq!(out.status, Status::Succeeded);
        assert_eq!(
            published.all().len(),
            expected,
            "NOTIFY_ON_SUCCESS={notify_on_success}"
        );
        assert_eq!(out.notification.is_some(), expected == 1);
        if expected == 1 {
            let body = published.all()[0].message().unwrap_or_default().to_owned();
            assert!(
                body.contains("s3://bucket/a/report.pdf"),
                "success notice carries the URIs"
            );
        }
    }
}

#[tokio::test]
async fn failed_job_publishes_one_notification_with_its_error_info() {
    let FinishedJob { app, published, .. } = finished_job(&[], "FAILED", failed_result);

    let out = app.poll(&reference(), TIME_LEFT).await.expect("polls");

    assert_eq!(out.status, Status::Failed);
    assert!(out.done);
    let error = out.error.as_ref().expect("error");
    assert_eq!(error.kind, "DASHBOARD_ACCESS_DENIED");
    assert_eq!(
        error.message,
        "The registered user lost access to the dashboard."
    );
    let sent = published.all();
    assert_eq!(sent.len(), 1);
    let notification = out.notification.as_ref().expect("notification in output");
    assert_eq!(notification.message_id, "msg-1");
    assert_eq!(notification.topic_arn, TOPIC);

    let publish = &sent[0];
    assert_eq!(publish.topic_arn(), Some(TOPIC));
    assert_eq!(publish.message_structure(), Some("json"));
    let attrs = publish.message_attributes().expect("attributes");
    let attr = |name: &str| {
        attrs
            .get(name)
            .and_then(|a| a.string_value())
            .map(str::to_owned)
    };
    assert_eq!(attr("status").as_deref(), Some("FAILED"));
    assert_eq!(attr("jobStatus").as_deref(), Some("FAILED"));
    assert_eq!(
        attr("errorType").as_deref(),
        Some("DASHBOARD_ACCESS_DENIED")
    );
    assert_eq!(attr("dashboardId").as_deref(), Some("sales-dashboard"));
    assert_eq!(attr("awsAccountId").as_deref(), Some("123456789012"));
    assert!(
        publish.message_group_id().is_none(),
        "standard topics take no group id"
    );

    let envelope: serde_json::Value = serde_json::from_str(publish.message().unwrap()).unwrap();
    let body: serde_json::Value =
        serde_json::from_str(envelope["default"].as_str().unwrap()).unwrap();
    assert_eq!(body["status"], "FAILED");
    assert_eq!(body["error"]["type"], "DASHBOARD_ACCESS_DENIED");
    assert_eq!(body["job"]["snapshotJobId"], "daily-export-2026-11-28");
    let email = envelope["email"].as_str().unwrap();
    assert!(email.contains("Error: DASHBOARD_ACCESS_DENIED"), "{email}");
}

#[tokio::test]
async fn job_past_its_deadline_times_out_and_notifies_without_a_result_call() {
    let describe = describe_answers("RUNNING", Duration::from_secs(700));
    let result = result_never_called();
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(
        &[("JOB_DEADLINE_SECONDS", "600")],
        &[&describe, &result],
        &[&sns],
    );

    let out = app.poll(&reference(), TIME_LEFT).await.expect("polls");

    assert_eq!(out.status, Status::TimedOut);
    assert_eq!(out.error.as_ref().unwrap().kind, "JobDeadlineExceeded");
    assert_eq!(result.num_calls(), 0);
    assert_eq!(published.all().len(), 1);
}

#[tokio::test]
async fn unknown_job_status_keeps_polling() {
    let describe = describe_answers("CANCELLING", MINUTE);
    let result = result_never_called();
    let app = app(&[], &[&describe, &result], &[]);

    let out = app.poll(&reference(), TIME_LEFT).await.expect("polls");

    assert_eq!(out.status, Status::InProgress);
    assert_eq!(out.job_status.as_deref(), Some("CANCELLING"));
    assert_eq!(out.wait_seconds, 12);
}

#[tokio::test]
async fn throttling_fails_the_invocation_retryably_without_a_notice() {
    let describe = describe_fails(429, "ThrottlingException");
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&describe], &[&sns]);

    let err = app
        .poll(&reference(), TIME_LEFT)
        .await
        .expect_err("throttled");

    assert_eq!(err.error_type(), "QuickSightThrottled");
    assert!(err.is_retryable());
    assert!(published.all().is_empty());
}

#[tokio::test]
async fn internal_failure_fails_the_invocation_as_unavailable() {
    let describe = describe_fails(500, "InternalFailureException");
    let app = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&describe], &[]);

    let err = app.poll(&reference(), TIME_LEFT).await.expect_err("fault");

    assert_eq!(err.error_type(), "QuickSightUnavailable");
    assert!(
        err.to_string().contains("DescribeDashboardSnapshotJob"),
        "{err}"
    );
}

#[tokio::test]
async fn throttled_result_call_is_retried_later_not_reported() {
    let describe = describe_answers("FAILED", MINUTE);
    let result = result_fails(429, "ThrottlingException");
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&describe, &result], &[&sns]);

    let err = app
        .poll(&reference(), TIME_LEFT)
        .await
        .expect_err("throttled");

    assert_eq!(err.error_type(), "QuickSightThrottled");
    assert!(
        err.to_string()
            .contains("DescribeDashboardSnapshotJobResult"),
        "{err}"
    );
    assert!(
        published.all().is_empty(),
        "no notice until the failure detail is known"
    );
}

#[tokio::test]
async fn terminal_api_errors_fail_the_job_and_notify() {
    for (status, code) in [
        (401, "AccessDeniedException"),
        (404, "ResourceNotFoundException"),
        (403, "UnsupportedUserEditionException"),
        (400, "InvalidParameterValueException"),
    ] {
        let describe = describe_fails(status, code);
        let published = Published::default();
        let sns = sns_accepts(&published);
        let app = app(&[], &[&describe], &[&sns]);

        let out = app.poll(&reference(), TIME_LEFT).await.expect("answered");

        assert_eq!(out.status, Status::Failed, "{code}");
        assert!(out.job_status.is_none());
        assert_eq!(out.error.as_ref().unwrap().kind, code);
        assert_eq!(published.all().len(), 1, "{code}");
        let attrs = published.all()[0].message_attributes().cloned().unwrap();
        assert_eq!(attrs["errorType"].string_value(), Some(code));
        assert!(
            !attrs.contains_key("jobStatus"),
            "no empty attribute values"
        );
    }
}

#[tokio::test]
async fn not_found_right_after_start_is_pending_until_the_grace_polls_run_out() {
    let describe = describe_fails(404, "ResourceNotFoundException");
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(&[("NOT_FOUND_GRACE_POLLS", "2")], &[&describe], &[&sns]);

    let first = app
        .poll(&event("start-output.json"), TIME_LEFT)
        .await
        .expect("polls");
    assert_eq!(first.status, Status::InProgress);
    assert!(first.job_status.is_none());
    assert_eq!(first.wait_seconds, 5);
    assert!(published.all().is_empty());

    let second = serde_json::to_value(&first).unwrap();
    let second = app.poll(&second, TIME_LEFT).await.expect("polls");
    assert_eq!(second.attempt, 2);
    assert_eq!(second.status, Status::InProgress);

    let third = serde_json::to_value(&second).unwrap();
    let third = app.poll(&third, TIME_LEFT).await.expect("polls");
    assert_eq!(third.attempt, 3);
    assert_eq!(third.status, Status::Failed);
    assert_eq!(
        third.error.as_ref().unwrap().kind,
        "ResourceNotFoundException"
    );
    assert_eq!(published.all().len(), 1);
}

#[tokio::test]
async fn failed_publish_fails_the_invocation_so_the_notice_is_retried() {
    let describe = describe_answers("FAILED", MINUTE);
    let result = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job_result)
        .then_output(failed_result);
    let sns = mock!(aws_sdk_sns::Client::publish)
        .then_http_response(|| sns_error_response(500, "InternalError", "SNS is down"));
    let app = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&describe, &result], &[&sns]);

    let err = app
        .poll(&reference(), TIME_LEFT)
        .await
        .expect_err("publish failed");

    assert_eq!(err.error_type(), "NotificationFailed");
    assert!(err.is_retryable());
    assert!(err.to_string().contains(TOPIC), "{err}");
    assert!(
        err.to_string().contains("InternalError: SNS is down"),
        "{err}"
    );
    assert!(err.to_string().len() < 300, "no raw response dump: {err}");
}

#[tokio::test]
async fn fifo_topic_gets_a_group_and_a_dedup_id_stable_across_retried_polls() {
    let FinishedJob { app, published, .. } =
        finished_job(&[("SNS_TOPIC_ARN", FIFO_TOPIC)], "FAILED", failed_result);

    let first = app.poll(&reference(), TIME_LEFT).await.expect("polls");
    let again = app.poll(&reference(), TIME_LEFT).await.expect("polls");

    assert_eq!(first.notification.unwrap().topic_arn, FIFO_TOPIC);
    let sent = published.all();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].message_group_id(),
        Some("123456789012:sales-dashboard:daily-export-2026-11-28")
    );
    let dedup = sent[0].message_deduplication_id().expect("dedup id");
    assert_eq!(dedup.len(), 64);
    assert_eq!(
        sent[1].message_deduplication_id(),
        Some(dedup),
        "same outcome, same id: SNS drops the repeat"
    );
    assert_eq!(again.status, Status::Failed);
}

#[tokio::test]
async fn bad_input_is_rejected_before_any_call() {
    let describe = describe_answers("RUNNING", MINUTE);
    let app = app(&[], &[&describe], &[]);

    let err = app
        .poll(
            &json!({"AwsAccountId": "123456789012", "DashboardId": "a/b", "SnapshotJobId": "j"}),
            TIME_LEFT,
        )
        .await
        .expect_err("invalid");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert_eq!(describe.num_calls(), 0);
}

#[tokio::test]
async fn previous_output_comes_back_as_the_next_attempt() {
    let describe = describe_answers("RUNNING", Duration::from_secs(100));
    let app = app(&[], &[&describe], &[]);

    let out = app
        .poll(&event("previous-output.json"), TIME_LEFT)
        .await
        .expect("polls");

    assert_eq!(out.attempt, 4);
    assert_eq!(out.wait_seconds, 20);
    assert_eq!(out.job.dashboard_id, "sales-dashboard");
}

#[tokio::test]
async fn job_outside_the_allowed_accounts_is_refused_without_a_call() {
    let describe = describe_answers("RUNNING", MINUTE);
    let app = app(
        &[("ALLOWED_ACCOUNT_IDS", "210987654321")],
        &[&describe],
        &[],
    );

    let err = app
        .poll(&reference(), TIME_LEFT)
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(err.to_string().contains("ALLOWED_ACCOUNT_IDS"), "{err}");
    assert_eq!(describe.num_calls(), 0);
}

/// The poller with real SDK clients (no mocks) whose endpoint is a closed loopback port.
fn app_against_closed_port(
    credentials: aws_sdk_quicksight::config::SharedCredentialsProvider,
) -> quicksight_snapshot_poller::App {
    use aws_sdk_quicksight::config::{BehaviorVersion, Region};
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url("http://127.0.0.1:9")
        // The SDK has no HTTPS client of its own here (no `default-https-client`): the
        // poller's own stack, rustls on ring.
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build();
    quicksight_snapshot_poller::setup::app(config(&[]), &sdk)
}

#[tokio::test]
async fn unreachable_quicksight_is_unavailable_with_a_one_line_cause() {
    use aws_sdk_quicksight::config::{Credentials, SharedCredentialsProvider};
    // A real client against a closed loopback port: the failure is a refused connection.
    let app = app_against_closed_port(SharedCredentialsProvider::new(Credentials::new(
        "test", "test", None, None, "test",
    )));

    let err = app
        .poll(&reference(), TIME_LEFT)
        .await
        .expect_err("unreachable");

    assert_eq!(err.error_type(), "QuickSightUnavailable");
    let message = err.to_string();
    assert!(message.contains("could not send the request"), "{message}");
    assert!(message.contains("Connection refused"), "{message}");
    assert!(!message.contains('\n') && message.len() < 400, "{message}");
}

#[tokio::test]
async fn garbled_answer_is_unavailable_and_says_it_could_not_be_understood() {
    let describe =
        aws_smithy_mocks::mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
            .then_http_response(|| {
                aws_sdk_quicksight::config::http::HttpResponse::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
                    aws_smithy_types::body::SdkBody::from(r#"{"JobStatus": "RUNN"#),
                )
            });
    let app = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&describe], &[]);

    let err = app
        .poll(&reference(), TIME_LEFT)
        .await
        .expect_err("garbled");

    assert_eq!(err.error_type(), "QuickSightUnavailable");
    assert!(
        err.to_string().contains("unrecognized answer (HTTP 200)"),
        "{err}"
    );
}

#[tokio::test]
async fn rejected_credentials_are_the_callers_problem_not_a_failed_job() {
    for (status, code) in [
        (403, "ExpiredTokenException"),
        (403, "UnrecognizedClientException"),
        (403, "InvalidClientTokenId"),
        (403, "InvalidSignatureException"),
    ] {
        let describe = describe_fails(status, code);
        let published = Published::default();
        let sns = sns_accepts(&published);
        let app = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&describe], &[&sns]);

        let err = app
            .poll(&reference(), TIME_LEFT)
            .await
            .expect_err("credentials rejected");

        assert_eq!(err.error_type(), "CredentialsError", "{code}");
        assert!(err.is_retryable(), "{code}");
        let message = err.to_string();
        assert!(message.starts_with("AWS credentials rejected"), "{message}");
        assert!(message.contains(code), "{message}");
        assert!(
            published.all().is_empty(),
            "{code}: not notified as the job's failure"
        );
    }
}

#[tokio::test]
async fn missing_credentials_say_so_instead_of_an_sdk_error_chain() {
    use aws_credential_types::provider::{error::CredentialsError, future, ProvideCredentials};
    use aws_sdk_quicksight::config::SharedCredentialsProvider;

    #[derive(Debug)]
    struct NoCredentials;
    impl ProvideCredentials for NoCredentials {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
                "no providers in chain provided credentials",
            )))
        }
    }
    // Nothing listens there: a poll that got as far as sending would say "connection refused".
    let app = app_against_closed_port(SharedCredentialsProvider::new(NoCredentials));

    let err = app
        .poll(&reference(), TIME_LEFT)
        .await
        .expect_err("no credentials");

    assert_eq!(err.error_type(), "CredentialsError");
    let message = err.to_string();
    assert!(message.starts_with("AWS credentials missing"), "{message}");
    assert!(message.contains("AWS_PROFILE"), "{message}");
    assert!(!message.contains("dispatch failure"), "{message}");
}

#[tokio::test]
async fn request_timeout_is_retried_not_reported_as_a_failed_job() {
    let describe = describe_fails(408, "RequestTimeoutException");
    let app = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&describe], &[]);

    let err = app
        .poll(&reference(), TIME_LEFT)
        .await
        .expect_err("timeout");

    assert_eq!(err.error_type(), "QuickSightUnavailable");
}

#[tokio::test]
async fn publish_refused_for_good_is_not_retried_but_transient_errors_are() {
    for (status, code, error_type) in [
        (404, "NotFound", "NotificationRejected"),
        (403, "AuthorizationError", "NotificationRejected"),
        (400, "KMSDisabled", "NotificationRejected"),
        (400, "KMSAccessDenied", "NotificationRejected"),
        (400, "Throttled", "NotificationFailed"),
        (400, "KMSThrottling", "NotificationFailed"),
        (500, "InternalError", "NotificationFailed"),
        (403, "ExpiredToken", "CredentialsError"),
    ] {
        let describe = describe_answers("FAILED", MINUTE);
        let result = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job_result)
            .then_output(failed_result);
        let sns = mock!(aws_sdk_sns::Client::publish)
            .then_http_response(move || sns_error_response(status, code, "refused"));
        let app = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&describe, &result], &[&sns]);

        let err = app
            .poll(&reference(), TIME_LEFT)
            .await
            .expect_err("publish failed");

        assert_eq!(err.error_type(), error_type, "{code}");
        assert_eq!(
            err.is_retryable(),
            error_type != "NotificationRejected",
            "{code}"
        );
        assert!(err.to_string().contains(code), "{code}: {err}");
    }
}

/// A COMPLETED job's Result with a top-level ErrorInfo, and files with these URIs (none: the
/// one S3 result has no URI).
fn completed_with_error(kind: &str, uris: &[&str]) -> DescribeDashboardSnapshotJobResultOutput {
    let group = if uris.is_empty() {
        SnapshotJobResultFileGroup::builder()
            .s3_results(SnapshotJobS3Result::builder().build())
            .build()
    } else {
        file_group(SnapshotFileFormatType::Pdf, uris, &[])
    };
    DescribeDashboardSnapshotJobResultOutput::builder()
        .job_status(SnapshotJobStatus::Completed)
        .result(
            SnapshotJobResult::builder()
                .anonymous_users(
                    AnonymousUserSnapshotJobResult::builder()
                        .file_groups(group)
                        .build(),
                )
                .build(),
        )
        .error_info(
            SnapshotJobErrorInfo::builder()
                .error_type(kind)
                .error_message("documented: the request succeeds but carries an error code")
                .build(),
        )
        .request_id("req-result")
        .status(200)
        .build()
}

#[tokio::test]
async fn completed_job_whose_result_has_an_error_and_no_file_is_a_failure() {
    let FinishedJob { app, published, .. } = finished_job(&[], "COMPLETED", || {
        completed_with_error("RLS_CHANGED", &[])
    });

    let out = app.poll(&reference(), TIME_LEFT).await.expect("answered");

    assert_eq!(out.status, Status::Failed);
    assert_eq!(out.job_status.as_deref(), Some("COMPLETED"));
    assert_eq!(out.error.as_ref().expect("error").kind, "RLS_CHANGED");
    assert!(
        out.rerunnable,
        "RLS_CHANGED: re-run the job with current settings"
    );
    assert_eq!(published.all().len(), 1);
}

#[tokio::test]
async fn completed_job_whose_result_has_an_error_and_some_files_succeeds_loudly() {
    let FinishedJob { app, published, .. } = finished_job(&[], "COMPLETED", || {
        completed_with_error("CAPABILITY_RESTRICTED", &["s3://bucket/a/report.pdf"])
    });

    let out = app.poll(&reference(), TIME_LEFT).await.expect("answered");

    assert_eq!(out.status, Status::Succeeded);
    assert_eq!(
        out.error.as_ref().expect("error").kind,
        "CAPABILITY_RESTRICTED"
    );
    assert!(!out.rerunnable);
    assert_eq!(out.results.len(), 1);
    assert_eq!(
        published.all().len(),
        1,
        "notified although NOTIFY_ON_SUCCESS is off"
    );
}

#[tokio::test]
async fn result_lagging_a_terminal_describe_is_polled_again_soon_not_failed() {
    for (status, code) in [
        (400, "InvalidParameterValueException"),
        (404, "ResourceNotFoundException"),
    ] {
        let describe = describe_answers("COMPLETED", MINUTE);
        let result = result_fails(status, code);
        let published = Published::default();
        let sns = sns_accepts(&published);
        let app = app(&[], &[&describe, &result], &[&sns]);

        let out = app.poll(&reference(), TIME_LEFT).await.expect("answered");

        assert_eq!(out.status, Status::InProgress, "{code}");
        assert_eq!(out.job_status.as_deref(), Some("COMPLETED"));
        let error = out.error.expect("says why it polls again");
        assert_eq!(error.kind, "ResultNotReady");
        assert!(error.message.contains(code), "{}", error.message);
        assert_eq!(out.wait_seconds, 5, "the shortest wait");
        assert_eq!(out.request_id.as_deref(), Some("req-err"));
        assert!(published.all().is_empty(), "{code}: no notice");
    }
}

#[tokio::test]
async fn result_still_refused_long_after_the_job_finished_is_a_failure() {
    let long_ago = std::time::SystemTime::now() - Duration::from_secs(600);
    let describe =
        mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job).then_output(move || {
            let mut described = described("COMPLETED", Duration::from_secs(900));
            described.last_updated_time = Some(long_ago.into());
            described
        });
    let result = result_fails(404, "ResourceNotFoundException");
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(&[], &[&describe, &result], &[&sns]);

    let out = app.poll(&reference(), TIME_LEFT).await.expect("answered");

    assert_eq!(out.status, Status::Failed);
    assert_eq!(out.error.expect("error").kind, "ResourceNotFoundException");
    assert_eq!(published.all().len(), 1);
}

#[tokio::test]
async fn every_answer_names_a_request_id_errors_included() {
    let describe = describe_fails(401, "AccessDeniedException");
    let published = Published::default();
    let sns = sns_accepts(&published);
    let refused = app(&[], &[&describe], &[&sns]);
    let out = refused
        .poll(&reference(), TIME_LEFT)
        .await
        .expect("answered");
    assert_eq!(out.request_id.as_deref(), Some("req-err"));

    let describe = describe_fails(500, "InternalFailureException");
    let failing = app(&[("SDK_MAX_ATTEMPTS", "1")], &[&describe], &[]);
    let err = failing
        .poll(&reference(), TIME_LEFT)
        .await
        .expect_err("fault");
    assert!(err.to_string().ends_with("(request id req-err)"), "{err}");
}

#[tokio::test]
async fn success_notice_carries_download_links_that_the_output_never_does() {
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;
    use quicksight_snapshot_poller::Presigner;

    let FinishedJob { app, published, .. } = finished_job(
        &[("NOTIFY_ON_SUCCESS", "true")],
        "COMPLETED",
        clean_completed_result,
    );
    let credentials = Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "test");
    let app = app.with_presigner(Presigner::new(
        SharedCredentialsProvider::new(credentials),
        Duration::from_secs(3600),
    ));

    let out = app.poll(&reference(), TIME_LEFT).await.expect("answered");

    let output_json = serde_json::to_string(&out).unwrap();
    assert!(!output_json.contains("X-Amz-Signature") && !output_json.contains("downloadUrl"));
    let sent = published.all();
    let envelope: serde_json::Value = serde_json::from_str(sent[0].message().unwrap()).unwrap();
    let body: serde_json::Value =
        serde_json::from_str(envelope["default"].as_str().unwrap()).unwrap();
    let link = body["results"][0]["downloadUrl"].as_str().expect("a link");
    assert!(
        link.starts_with("https://bucket.s3.us-east-1.amazonaws.com/a/report.pdf?X-Amz-Algorithm="),
        "{link}"
    );
    assert!(link.contains("X-Amz-Expires=3600") && link.contains("X-Amz-Signature="));
    let email = envelope["email"].as_str().unwrap();
    assert!(
        email.contains(&format!("    download: {link}\n")),
        "{email}"
    );
}

#[tokio::test]
async fn a_file_quicksight_gave_as_an_https_link_is_passed_on_as_it_is() {
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;
    use quicksight_snapshot_poller::Presigner;

    let presigner = Presigner::new(
        SharedCredentialsProvider::new(Credentials::new("AKID", "secret", None, None, "test")),
        Duration::from_secs(600),
    );
    let mut output: quicksight_snapshot_poller::PollOutput = serde_json::from_value(json!({
        "status": "SUCCEEDED", "done": true, "jobStatus": "COMPLETED", "attempt": 1,
        "job": {"arn": "x", "partition": "aws", "region": "eu-west-1",
                "awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j"},
        "waitSeconds": 0, "createdTime": null, "lastUpdatedTime": null, "ageSeconds": null,
        "requestId": null, "error": null, "notification": null,
        "results": [
            {"userType": "ANONYMOUS", "userIndex": 0, "fileGroupIndex": 0, "format": "PDF",
             "s3Uri": "https://quicksight-owned.example/report.pdf?token=1", "errors": []},
            {"userType": "ANONYMOUS", "userIndex": 0, "fileGroupIndex": 1, "format": "CSV",
             "s3Uri": "s3://qs-exports/a.csv", "errors": []},
            {"userType": "ANONYMOUS", "userIndex": 0, "fileGroupIndex": 2, "format": "CSV",
             "s3Uri": null, "errors": [{"type": "X", "message": "failed"}]}
        ]
    }))
    .expect("an output");
    output.results[1].bucket_region = Some("ap-south-1".into());

    let links = presigner.links(&output).await;

    assert_eq!(
        links[0].as_deref(),
        Some("https://quicksight-owned.example/report.pdf?token=1")
    );
    let signed = links[1].as_deref().expect("a link");
    assert!(
        signed.starts_with("https://qs-exports.s3.ap-south-1.amazonaws.com/a.csv?"),
        "{signed}"
    );
    assert_eq!(links[2], None, "a failed file has nothing to open");
}

#[test]
fn the_previous_output_fixture_holds_every_key_of_the_contract() {
    let fixture = event("previous-output.json");
    let output: quicksight_snapshot_poller::PollOutput =
        serde_json::from_value(fixture.clone()).expect("the fixture is an output");
    let written = serde_json::to_value(&output).expect("serializes");
    let keys = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        keys(&fixture),
        keys(&written),
        "events/previous-output.json is stale"
    );
    assert_eq!(keys(&fixture["job"]), keys(&written["job"]));
}
