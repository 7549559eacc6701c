use super::*;
use crate::contract::{Caller, FileResult, JobInfo, Status, UserType, Withheld};
use crate::ledger::LedgerSettings;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsOutput};
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

fn settings() -> EventSettings {
    EventSettings {
        bus: "reports".into(),
        source: "acme.reports".into(),
    }
}

fn finished(status: Status, files: usize) -> PollOutput {
    let mut output = PollOutput::new(JobInfo::sample("d", "j"), 3);
    output.status = status;
    output.done = true;
    output.label = Some("tenant-7".into());
    output.caller = Some(Caller {
        role_arn: "arn:aws:iam::123456789012:role/reader".into(),
        user_arn: None,
        user_name: Some("ana".into()),
        email: None,
        namespace: Some("default".into()),
        identity_region: None,
        withheld: vec![Withheld::IdentityContext],
    });
    output.results = (0..files)
        .map(|i| FileResult {
            user_type: UserType::Registered,
            user_index: 0,
            file_group_index: i,
            format: Some("PDF".into()),
            s3_uri: Some(format!("s3://exports/{}/{i}.pdf", "p".repeat(80))),
            errors: Vec::new(),
            bucket_region: None,
        })
        .collect();
    output
}

fn detail(entry: &PutEventsRequestEntry) -> serde_json::Value {
    serde_json::from_str(entry.detail().expect("a detail")).expect("JSON")
}

#[test]
fn the_entry_names_the_bus_source_type_and_job_and_carries_the_redacted_output() {
    let output = finished(Status::Succeeded, 2);
    let links = vec![
        Some("https://exports.s3/0?X-Amz-Signature=x".to_owned()),
        None,
    ];
    let entry = entry(&output, &links, &settings());
    assert_eq!(entry.event_bus_name(), Some("reports"));
    assert_eq!(entry.source(), Some("acme.reports"));
    assert_eq!(entry.detail_type(), Some("Snapshot Job Finished"));
    assert_eq!(entry.resources(), std::slice::from_ref(&output.job.arn));
    let detail = detail(&entry);
    assert_eq!(detail["schemaVersion"], "1");
    assert_eq!(detail["status"], "SUCCEEDED");
    assert_eq!(detail["label"], "tenant-7");
    assert_eq!(detail["job"]["snapshotJobId"], "j");
    assert_eq!(
        detail["counts"],
        serde_json::json!({"files": 2, "written": 2, "failed": 0})
    );
    assert_eq!(detail["files"][0]["format"], "PDF");
    assert_eq!(
        detail["files"][0]["downloadUrl"],
        links[0].as_deref().unwrap()
    );
    assert_eq!(detail["files"][1]["downloadUrl"], serde_json::Value::Null);
    assert_eq!(detail["caller"]["userName"], "ana");
    assert!(detail["caller"].get("withheld").is_none(), "{detail}");
    assert_eq!(detail["filesOmitted"], serde_json::Value::Null);
}

#[test]
fn a_detail_over_the_limit_keeps_its_counts_and_says_the_files_were_left_out() {
    let output = finished(Status::Succeeded, 3_000);
    let entry = entry(&output, &[], &settings());
    let size = 14
        + entry.source().unwrap().len()
        + entry.detail_type().unwrap().len()
        + entry.detail().unwrap().len()
        + output.job.arn.len();
    assert!(size <= ENTRY_MAX_BYTES, "{size}");
    let detail = detail(&entry);
    assert_eq!(detail["counts"]["files"], 3_000);
    assert_eq!(detail["files"], serde_json::json!([]));
    assert_eq!(detail["filesOmitted"]["count"], 3_000);
    assert!(detail["filesOmitted"]["reason"]
        .as_str()
        .unwrap()
        .contains("256 KB"));
}

fn events(rules: &[&Rule]) -> JobEvents {
    let client = mock_client!(
        aws_sdk_eventbridge,
        RuleMode::MatchAny,
        rules.iter().copied()
    );
    JobEvents::new(client.config().clone(), settings())
}

fn put_answer(id: Option<&'static str>, code: Option<&'static str>) -> Rule {
    mock!(aws_sdk_eventbridge::Client::put_events).then_output(move || {
        let entry = PutEventsResultEntry::builder()
            .set_event_id(id.map(str::to_owned))
            .set_error_code(code.map(str::to_owned))
            .set_error_message(code.map(|_| "injected".to_owned()))
            .build();
        PutEventsOutput::builder()
            .failed_entry_count(i32::from(code.is_some()))
            .entries(entry)
            .build()
    })
}

#[tokio::test]
async fn a_put_event_is_recorded_in_the_output() {
    let put = put_answer(Some("ev-1"), None);
    let mut output = finished(Status::Failed, 0);
    events(&[&put])
        .announce(&mut output, Duration::from_secs(10))
        .await
        .expect("put");
    let receipt = output.event.expect("an event");
    assert_eq!(
        (receipt.event_id.as_str(), receipt.event_bus.as_str()),
        ("ev-1", "reports")
    );
}

#[tokio::test]
async fn an_entry_eventbridge_did_not_take_fails_the_invocation_so_it_is_retried() {
    let refused = put_answer(None, Some("InternalFailure"));
    let err = events(&[&refused])
        .announce(&mut finished(Status::TimedOut, 0), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotificationFailed");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("InternalFailure"), "{err}");
    assert!(err.to_string().contains("EventBridge bus reports"), "{err}");
}

#[tokio::test]
async fn a_bus_that_does_not_exist_is_a_refusal_no_retry_changes() {
    let missing = mock!(aws_sdk_eventbridge::Client::put_events).then_error(|| {
        // Not in PutEvents' model: EventBridge answers it all the same.
        PutEventsError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("ResourceNotFoundException")
                .message("Event bus reports does not exist.")
                .build(),
        )
    });
    let err = events(&[&missing])
        .announce(&mut finished(Status::Failed, 0), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotificationRejected");
}

#[tokio::test]
async fn an_event_the_ledger_has_seen_put_is_not_put_again() {
    let put = put_answer(Some("ev-2"), None);
    let told = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::ConditionalCheckFailedException(
            ConditionalCheckFailedException::builder()
                .item("messageId", AttributeValue::S("ev-first".into()))
                .item("eventBus", AttributeValue::S("reports".into()))
                .build(),
        )
    });
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&told]);
    let ledger = Ledger::new(
        dynamodb.config().clone(),
        LedgerSettings {
            table: "notices".into(),
            retention: Duration::from_secs(86_400),
            started_by: "invocation",
        },
    );
    let mut output = finished(Status::Succeeded, 1);
    events(&[&put])
        .with_ledger(Arc::new(ledger))
        .announce(&mut output, Duration::from_secs(10))
        .await
        .expect("told before");
    assert_eq!(put.num_calls(), 0);
    assert_eq!(output.event.expect("the first event").event_id, "ev-first");
}
