//! Polling as a job's roleArn, against mocked STS and QuickSight: the role assumed once per
//! role, user and job and cached, a named user's identity context fetched by the function, a
//! caller's token used for its own poll and never carried or published, refusals sorted.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_quicksight::operation::get_identity_context::{
    GetIdentityContextInput, GetIdentityContextOutput,
};
use aws_sdk_quicksight::types::UserIdentifier;
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
    sts_issues_for(assumed, Duration::from_secs(3600))
}

/// STS answering with credentials that live `lifetime`.
fn sts_issues_for(assumed: &Assumed, lifetime: Duration) -> Rule {
    let assumed = assumed.clone();
    mock!(aws_sdk_sts::Client::assume_role).then_compute_output(move |input| {
        let mut all = assumed.0.lock().unwrap();
        all.push(input.clone());
        let expiry = SystemTime::now() + lifetime;
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

/// What the mocked GetIdentityContext was asked; it answers a token naming the call's count.
#[derive(Clone, Default)]
struct Fetched(Arc<Mutex<Vec<GetIdentityContextInput>>>);

fn contexts_issued(fetched: &Fetched) -> Rule {
    let fetched = fetched.clone();
    mock!(aws_sdk_quicksight::Client::get_identity_context).then_compute_output(move |input| {
        let mut all = fetched.0.lock().unwrap();
        all.push(input.clone());
        GetIdentityContextOutput::builder()
            .context(format!("fetched-token-{}", all.len()))
            .request_id("req-context")
            .status(200)
            .build()
            .expect("a context answer")
    })
}

/// A poller of a running job whose STS issues sessions that live `lifetime` and whose QuickSight
/// issues identity contexts, recording both.
struct NamedUserPoller {
    app: App,
    fetched: Fetched,
    assumed: Assumed,
}

fn named_user_poller(lifetime: Duration) -> NamedUserPoller {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let fetched = Fetched::default();
    let contexts = contexts_issued(&fetched);
    let assumed = Assumed::default();
    let sts = sts_issues_for(&assumed, lifetime);
    let app = as_roles(app(&allowed(), &[&describe, &contexts], &[]), &[&sts]);
    NamedUserPoller {
        app,
        fetched,
        assumed,
    }
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
async fn a_callers_token_serves_its_own_poll_and_no_output_carries_it() {
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
    let text = serde_json::to_string(&output).unwrap();
    assert!(!text.contains(CONTEXT), "{text}");
    assert!(!text.contains("ext-42"), "{text}");
    let caller = serde_json::to_value(output.caller.expect("carried")).unwrap();
    assert_eq!(caller["roleArn"], ROLE);
    assert_eq!(caller["withheld"], json!(["identityContext", "externalId"]));
}

#[tokio::test]
async fn a_named_user_is_polled_with_a_context_the_function_fetches() {
    let NamedUserPoller {
        app,
        fetched,
        assumed,
        ..
    } = named_user_poller(Duration::from_secs(3600));

    let output = app
        .poll(&as_role(json!({"userName": "ana"})), TIME_LEFT)
        .await
        .expect("answered");

    let [asked] = fetched.0.lock().unwrap().clone().try_into().expect("one");
    assert_eq!(asked.aws_account_id(), Some("123456789012"));
    assert_eq!(
        asked.user_identifier(),
        Some(&UserIdentifier::UserName("ana".into()))
    );
    assert_eq!(asked.namespace(), Some("default"));
    assert_eq!(asked.context_region(), None, "the job's own region");
    let expires = SystemTime::try_from(*asked.session_expires_at().expect("asked")).unwrap();
    assert!(expires > SystemTime::now() + Duration::from_secs(3000));
    let [request] = assumed.0.lock().unwrap().clone().try_into().expect("one");
    let [context] = request.provided_contexts() else {
        panic!("one provided context");
    };
    assert_eq!(
        context.provider_arn(),
        Some("arn:aws:iam::aws:contextProvider/QuickSight")
    );
    assert_eq!(context.context_assertion(), Some("fetched-token-1"));
    let text = serde_json::to_string(&output).unwrap();
    assert!(!text.contains("fetched-token"), "{text}");
    let caller = output.caller.expect("carried");
    assert_eq!(caller.user_name.as_deref(), Some("ana"));
    assert!(caller.withheld.is_empty());
}

#[tokio::test]
async fn a_user_arn_is_asked_for_in_its_identity_region_for_the_jobs_region() {
    let NamedUserPoller { app, fetched, .. } = named_user_poller(Duration::from_secs(3600));
    let user = "arn:aws:quicksight:eu-west-1:123456789012:user/default/ana";

    app.poll(&as_role(json!({"userArn": user})), TIME_LEFT)
        .await
        .expect("answered");

    let [asked] = fetched.0.lock().unwrap().clone().try_into().expect("one");
    assert_eq!(
        asked.user_identifier(),
        Some(&UserIdentifier::UserArn(user.into()))
    );
    assert_eq!(asked.namespace(), None);
    assert_eq!(
        asked.context_region(),
        Some("us-east-1"),
        "the job's region"
    );
}

#[tokio::test]
async fn sessions_and_contexts_are_renewed_before_they_expire() {
    // Four minutes left: inside the five-minute renewal window at once.
    let NamedUserPoller {
        app,
        fetched,
        assumed,
        ..
    } = named_user_poller(Duration::from_secs(240));
    let reference = as_role(json!({"email": "ana@example.com", "namespace": "tenants"}));

    let first = app.poll(&reference, TIME_LEFT).await.expect("first");
    app.poll(&serde_json::to_value(&first).unwrap(), TIME_LEFT)
        .await
        .expect("second");

    assert_eq!(assumed.0.lock().unwrap().len(), 2, "a new session");
    assert_eq!(
        fetched.0.lock().unwrap().len(),
        1,
        "the context had an hour left"
    );
    let second = assumed.0.lock().unwrap()[1].clone();
    assert_eq!(
        second.provided_contexts()[0].context_assertion(),
        Some("fetched-token-1")
    );
}

#[tokio::test]
async fn every_job_gets_a_session_named_for_it() {
    let NamedUserPoller {
        app,
        fetched,
        assumed,
        ..
    } = named_user_poller(Duration::from_secs(3600));
    let mut other = as_role(json!({"userName": "ana"}));
    other["SnapshotJobId"] = json!("weekly-export");

    app.poll(&as_role(json!({"userName": "ana"})), TIME_LEFT)
        .await
        .expect("first job");
    app.poll(&other, TIME_LEFT).await.expect("second job");

    let names: Vec<String> = assumed
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|r| r.role_session_name().map(str::to_owned))
        .collect();
    assert_eq!(
        names,
        [
            "qsp-sales-dashboard-daily-export-2026-11-28",
            "qsp-sales-dashboard-weekly-export"
        ]
    );
    assert_eq!(fetched.0.lock().unwrap().len(), 1, "one context per user");
}

#[tokio::test]
async fn the_poll_after_a_withheld_token_says_to_name_the_user() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let assumed = Assumed::default();
    let sts = sts_issues(&assumed);
    let app = as_roles(app(&allowed(), &[&describe], &[]), &[&sts]);

    let first = app
        .poll(&as_role(json!({"identityContext": CONTEXT})), TIME_LEFT)
        .await
        .expect("the token serves its own poll");
    let err = app
        .poll(&serde_json::to_value(&first).unwrap(), TIME_LEFT)
        .await
        .expect_err("no token to act as the user");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(err.to_string().contains("name the user"), "{err}");
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn a_chain_refuses_a_raw_token_before_any_call() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let assumed = Assumed::default();
    let sts = sts_issues(&assumed);
    let created = Created::default();
    let scheduler = scheduler_accepts(&created);
    let app = as_roles(
        chained(app(&allowed(), &[&describe], &[]), &[&scheduler]),
        &[&sts],
    );

    let err = app
        .poll(
            &as_role(json!({"identityContext": CONTEXT, "loop": "scheduler"})),
            TIME_LEFT,
        )
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(err.to_string().contains("name the user"), "{err}");
    assert!(!err.to_string().contains(CONTEXT));
    assert_eq!(describe.num_calls(), 0);
    assert!(assumed.0.lock().unwrap().is_empty());
    assert!(created.all().is_empty());
}

#[tokio::test]
async fn later_polls_take_the_external_id_from_the_functions_settings() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let assumed = Assumed::default();
    let sts = sts_issues_for(&assumed, Duration::from_secs(240));
    let pairs = format!("{ROLE}=configured-id");
    let vars = [
        ("ALLOWED_ROLE_ARNS", ROLE),
        ("ROLE_EXTERNAL_IDS", pairs.as_str()),
    ];
    let app = as_roles(app(&vars, &[&describe], &[]), &[&sts]);

    let first = app
        .poll(&as_role(json!({"externalId": "given-id"})), TIME_LEFT)
        .await
        .expect("first");
    app.poll(&serde_json::to_value(&first).unwrap(), TIME_LEFT)
        .await
        .expect("second");

    let ids: Vec<Option<String>> = assumed
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.external_id().map(str::to_owned))
        .collect();
    assert_eq!(
        ids,
        [
            Some("given-id".to_owned()),
            Some("configured-id".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_user_outside_the_allowed_namespaces_is_refused_before_any_call() {
    let fetched = Fetched::default();
    let contexts = contexts_issued(&fetched);
    let vars = [
        ("ALLOWED_ROLE_ARNS", ROLE),
        ("ALLOWED_USER_NAMESPACES", "tenants"),
    ];
    let app = app(&vars, &[&contexts], &[]);

    let err = app
        .poll(&as_role(json!({"userName": "ana"})), TIME_LEFT)
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(err.to_string().contains("ALLOWED_USER_NAMESPACES"), "{err}");
    assert_eq!(contexts.num_calls(), 0);
}

#[tokio::test]
async fn an_unknown_user_is_identity_refused_and_no_role_is_assumed() {
    let unknown =
        mock!(aws_sdk_quicksight::Client::get_identity_context).then_http_response(|| {
            error_response(404, "ResourceNotFoundException", "User ana not found")
        });
    let assumed = Assumed::default();
    let sts = sts_issues(&assumed);
    let app = as_roles(app(&allowed(), &[&unknown], &[]), &[&sts]);

    let err = app
        .poll(&as_role(json!({"userName": "ana"})), TIME_LEFT)
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "IdentityRefused");
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("user ana (namespace default)"),
        "{err}"
    );
    assert!(assumed.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn sts_refusing_a_callers_expired_token_is_role_refused() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let sts = sts_fails(400, "ExpiredTokenException");
    let app = as_roles(app(&allowed(), &[&describe], &[]), &[&sts]);

    let err = app
        .poll(&as_role(json!({"identityContext": CONTEXT})), TIME_LEFT)
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "RoleRefused");
    assert!(err.to_string().contains("name the user"), "{err}");
    assert!(!err.to_string().contains(CONTEXT));
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
async fn the_identity_context_reaches_no_notice() {
    let job = finished_job(&allowed(), "FAILED", failed_result);
    let assumed = Assumed::default();
    let sts = sts_issues(&assumed);
    let app = as_roles(job.app, &[&sts]);

    let output = app
        .poll(
            &as_role(json!({"identityContext": CONTEXT, "externalId": "ext-42"})),
            TIME_LEFT,
        )
        .await
        .expect("answered");

    assert!(output.notification.is_some());
    let [publish] = job.published.all().try_into().expect("one notice");
    let message = publish.message().unwrap();
    assert!(!message.contains(CONTEXT), "{message}");
    assert!(!message.contains("ext-42"), "{message}");
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
