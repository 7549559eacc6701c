//! Polling as a job's roleArn, against mocked STS and QuickSight: the role assumed once per
//! caller and cached, the identity context passed and never published, refusals sorted.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_sts::operation::assume_role::{AssumeRoleInput, AssumeRoleOutput};
use aws_sdk_sts::primitives::DateTime;
use aws_sdk_sts::types::Credentials;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use quicksight_snapshot_poller::{App, Roles};
use serde_json::{json, Value};
use support::*;

const ROLE: &str = "arn:aws:iam::210987654321:role/exporter";
const CONTEXT: &str = "eyJhbGciOi-the-identity-token";

/// What the mocked STS was asked.
#[derive(Clone, Default)]
struct Assumed(Arc<Mutex<Vec<AssumeRoleInput>>>);

fn sts_issues(assumed: &Assumed) -> Rule {
    let assumed = assumed.clone();
    mock!(aws_sdk_sts::Client::assume_role).then_compute_output(move |input| {
        let mut all = assumed.0.lock().unwrap();
        all.push(input.clone());
        let expiry = SystemTime::now() + Duration::from_secs(3600);
        AssumeRoleOutput::builder()
            .credentials(
                Credentials::builder()
                    .access_key_id(format!("ASIA{}", all.len()))
                    .secret_access_key("secret")
                    .session_token("token")
                    .expiration(DateTime::from(expiry))
                    .build()
                    .expect("credentials"),
            )
            .build()
    })
}

fn sts_fails(status: u16, code: &'static str) -> Rule {
    mock!(aws_sdk_sts::Client::assume_role)
        .then_http_response(move || sns_error_response(status, code, "injected"))
}

fn as_roles(app: App, sts: &[&Rule]) -> App {
    let client = mock_client!(aws_sdk_sts, RuleMode::MatchAny, sts.iter().copied());
    app.with_roles(Roles::new(client.config().clone()))
}

fn allowed() -> [(&'static str, &'static str); 1] {
    [("ALLOWED_ROLE_ARNS", ROLE)]
}

fn as_role(extra: Value) -> Value {
    let mut reference = event("api-casing.json");
    reference["roleArn"] = json!(ROLE);
    if let (Some(reference), Value::Object(extra)) = (reference.as_object_mut(), extra) {
        reference.extend(extra);
    }
    reference
}

#[tokio::test]
async fn a_registered_users_job_is_polled_in_an_identity_enhanced_session() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let assumed = Assumed::default();
    let sts = sts_issues(&assumed);
    let app = as_roles(app(&allowed(), &[&describe], &[]), &[&sts]);
    let reference = as_role(json!({"identityContext": CONTEXT, "externalId": "ext-42"}));

    let output = app.poll(&reference, TIME_LEFT).await.expect("answered");

    let [request] = assumed
        .0
        .lock()
        .unwrap()
        .clone()
        .try_into()
        .expect("one AssumeRole");
    assert_eq!(request.role_arn(), Some(ROLE));
    assert_eq!(
        request.role_session_name(),
        Some("qsp-sales-dashboard-daily-export-2026-11-28")
    );
    assert_eq!(request.external_id(), Some("ext-42"));
    let [context] = request.provided_contexts() else {
        panic!("one provided context");
    };
    assert_eq!(
        context.provider_arn(),
        Some("arn:aws:iam::aws:contextProvider/IdentityCenter")
    );
    assert_eq!(context.context_assertion(), Some(CONTEXT));
    assert_eq!(describe.num_calls(), 1);
    let caller = output.caller.expect("carried on for the next poll");
    assert_eq!(caller.identity_context.as_deref(), Some(CONTEXT));
}

#[tokio::test]
async fn the_assumed_credentials_serve_later_polls_until_near_expiry() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let assumed = Assumed::default();
    let sts = sts_issues(&assumed);
    let app = as_roles(app(&allowed(), &[&describe], &[]), &[&sts]);

    let first = app
        .poll(&as_role(json!({})), TIME_LEFT)
        .await
        .expect("first");
    let next = serde_json::to_value(&first).unwrap();
    app.poll(&next, TIME_LEFT).await.expect("second");

    assert_eq!(describe.num_calls(), 2);
    assert_eq!(assumed.0.lock().unwrap().len(), 1, "cached between polls");
}

#[tokio::test]
async fn credentials_quicksight_refuses_are_renewed_on_the_next_poll() {
    let expired = describe_fails(403, "ExpiredTokenException");
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let assumed = Assumed::default();
    let sts = sts_issues(&assumed);
    let config = config(&allowed());
    let qs = mock_client!(
        aws_sdk_quicksight,
        RuleMode::Sequential,
        [&expired, &describe]
    );
    let app = as_roles(
        App::new(
            config,
            quicksight_snapshot_poller::QuickSightClients::new(qs.config().to_builder()),
            None,
        ),
        &[&sts],
    );

    let err = app
        .poll(&as_role(json!({})), TIME_LEFT)
        .await
        .expect_err("expired");
    assert_eq!(err.error_type(), "CredentialsError");
    app.poll(&as_role(json!({})), TIME_LEFT)
        .await
        .expect("renewed");

    assert_eq!(assumed.0.lock().unwrap().len(), 2, "assumed again");
}

#[tokio::test]
async fn a_role_outside_the_allow_list_is_refused_before_any_call() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let assumed = Assumed::default();
    let sts = sts_issues(&assumed);
    let app = as_roles(
        app(
            &[("ALLOWED_ROLE_ARNS", "arn:aws:iam::210987654321:role/other")],
            &[&describe],
            &[],
        ),
        &[&sts],
    );

    let err = app
        .poll(&as_role(json!({})), TIME_LEFT)
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(err.to_string().contains("ALLOWED_ROLE_ARNS"), "{err}");
    assert_eq!(describe.num_calls(), 0);
    assert!(assumed.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_an_allow_list_no_role_is_assumed() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let app = app(&[], &[&describe], &[]);

    let err = app
        .poll(&as_role(json!({})), TIME_LEFT)
        .await
        .expect_err("refused");

    assert!(
        err.to_string().contains("ALLOWED_ROLE_ARNS is empty"),
        "{err}"
    );
    assert_eq!(describe.num_calls(), 0);
}

#[tokio::test]
async fn sts_refusing_the_role_is_not_retryable_and_describes_nothing() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let sts = sts_fails(403, "AccessDenied");
    let app = as_roles(app(&allowed(), &[&describe], &[]), &[&sts]);

    let err = app
        .poll(&as_role(json!({"identityContext": CONTEXT})), TIME_LEFT)
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "RoleRefused");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains(ROLE), "{err}");
    assert!(
        !err.to_string().contains(CONTEXT),
        "the context never leaves in a message"
    );
    assert_eq!(describe.num_calls(), 0);
}

#[tokio::test]
async fn sts_throttled_is_retryable() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let sts = sts_fails(400, "Throttling");
    let app = as_roles(app(&allowed(), &[&describe], &[]), &[&sts]);

    let err = app
        .poll(&as_role(json!({})), TIME_LEFT)
        .await
        .expect_err("throttled");

    assert_eq!(err.error_type(), "RoleUnavailable");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn the_identity_context_is_redacted_in_the_notice() {
    let job = finished_job(&allowed(), "FAILED", failed_result);
    let assumed = Assumed::default();
    let sts = sts_issues(&assumed);
    let app = as_roles(job.app, &[&sts]);

    let output = app
        .poll(&as_role(json!({"identityContext": CONTEXT})), TIME_LEFT)
        .await
        .expect("answered");

    assert!(output.notification.is_some());
    let [publish] = job.published.all().try_into().expect("one notice");
    let message = publish.message().unwrap();
    assert!(!message.contains(CONTEXT), "{message}");
    assert!(message.contains("REDACTED"), "{message}");
    assert!(message.contains(ROLE), "the role is no secret");
}

#[tokio::test]
async fn an_identity_context_without_a_role_is_refused_without_quoting_it() {
    let app = app(&allowed(), &[], &[]);
    let mut reference = event("api-casing.json");
    reference["identityContext"] = json!(CONTEXT);

    let err = app.poll(&reference, TIME_LEFT).await.expect_err("refused");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(
        err.to_string().contains("identityContext needs roleArn"),
        "{err}"
    );
    assert!(!err.to_string().contains(CONTEXT));
}
