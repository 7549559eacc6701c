use super::*;
use crate::error::Error;
use serde_json::json;
use serde_json::Value;

const REGION: Option<&str> = Some("us-east-1");

fn parse(event: Value) -> Result<PollRequest, Error> {
    parse_event(&event, REGION)
}

fn message(event: Value) -> String {
    let err = parse(event).expect_err("should be rejected");
    assert_eq!(err.error_type(), "InvalidJobReference");
    err.to_string()
}

#[test]
fn api_casing_reference_uses_the_default_region() {
    let request = parse(
        json!({"AwsAccountId": "123456789012", "DashboardId": "d-1", "SnapshotJobId": "j_1"}),
    )
    .unwrap();
    assert_eq!(request.job.region, "us-east-1");
    assert_eq!(request.job.partition, "aws");
    assert_eq!(request.origin, JobOrigin::Named);
    assert_eq!(request.previous, None);
    assert_eq!(request.attempt(), 1);
}

#[test]
fn camel_case_reference_with_region_picks_the_partition() {
    let request = parse(json!({"awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j", "region": "cn-north-1"})).unwrap();
    assert_eq!(request.job.region, "cn-north-1");
    assert_eq!(request.job.partition, "aws-cn");
}

#[test]
fn start_output_is_a_just_started_job_in_the_arns_region() {
    let request = parse(json!({
        "Arn": "arn:aws-us-gov:quicksight:us-gov-west-1:123456789012:dashboard/d/snapshot-job/j",
        "SnapshotJobId": "j", "RequestId": "r-1", "Status": 202
    }))
    .unwrap();
    assert_eq!(request.job.region, "us-gov-west-1");
    assert_eq!(request.job.partition, "aws-us-gov");
    assert_eq!(request.origin, JobOrigin::Started);
    assert_eq!(request.previous, None);
    assert!(request.not_found_is_pending(2));
}

#[test]
fn previous_output_counts_the_attempt() {
    let request = parse(json!({
        "status": "IN_PROGRESS", "jobStatus": "RUNNING", "attempt": 4,
        "job": {"arn": "x", "partition": "aws", "region": "eu-west-1", "awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j"}
    }))
    .unwrap();
    assert_eq!(request.attempt(), 5);
    assert_eq!(request.job.region, "eu-west-1");
    assert!(!request.not_found_is_pending(10));
}

#[test]
fn not_found_grace_ends_after_the_configured_polls() {
    let previous = |attempt: u32| {
        parse(json!({
            "status": "IN_PROGRESS", "jobStatus": null, "attempt": attempt,
            "job": {"region": "us-east-1", "awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j"}
        }))
        .unwrap()
    };
    assert!(previous(1).not_found_is_pending(2));
    assert!(!previous(2).not_found_is_pending(2));
}

#[test]
fn named_job_gets_no_not_found_grace() {
    let request =
        parse(json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "j"}))
            .unwrap();
    assert!(!request.not_found_is_pending(5));
}

#[test]
fn eventbridge_rule_event_is_unwrapped() {
    let request = parse(json!({
        "version": "0", "id": "e", "detail-type": "Snapshot job started", "source": "my.app",
        "detail": {"awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j"}
    }))
    .unwrap();
    assert_eq!(request.job.job, "j");
}

#[test]
fn eventbridge_detail_errors_name_the_detail_field() {
    let msg = message(
        json!({"detail-type": "x", "source": "s", "detail": {"awsAccountId": "123456789012"}}),
    );
    assert!(msg.contains("detail.DashboardId"), "{msg}");
    assert!(msg.contains("detail.SnapshotJobId"), "{msg}");
}

#[test]
fn missing_fields_are_all_named() {
    let msg = message(json!({"DashboardId": "d"}));
    assert!(
        msg.contains("AwsAccountId") && msg.contains("SnapshotJobId"),
        "{msg}"
    );
    assert!(!msg.contains("missing DashboardId"), "{msg}");
}

#[test]
fn non_object_events_are_rejected() {
    assert!(message(json!([1, 2])).contains("got an array"));
    assert!(message(json!("j")).contains("got a string"));
}

#[test]
fn account_id_must_be_twelve_digits_as_a_string() {
    let msg =
        message(json!({"AwsAccountId": 123456789012u64, "DashboardId": "d", "SnapshotJobId": "j"}));
    assert!(
        msg.contains("AwsAccountId must be a string, got a number"),
        "{msg}"
    );
    let msg = message(json!({"AwsAccountId": "12345", "DashboardId": "d", "SnapshotJobId": "j"}));
    assert!(msg.contains("12 digits"), "{msg}");
}

#[test]
fn ids_with_path_characters_never_pass() {
    for bad in ["../etc", "a/b", "a%2Fb", "", "dash board", "dåsh"] {
        let msg = message(
            json!({"AwsAccountId": "123456789012", "DashboardId": bad, "SnapshotJobId": "j"}),
        );
        assert!(msg.contains("DashboardId must be 1-512"), "{bad}: {msg}");
    }
    let long = "a".repeat(513);
    let msg =
        message(json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": long}));
    assert!(msg.contains("SnapshotJobId") && msg.len() < 300, "{msg}");
}

#[test]
fn arn_conflicting_with_explicit_fields_is_rejected() {
    let msg = message(json!({
        "Arn": "arn:aws:quicksight:us-east-1:123456789012:dashboard/d/snapshot-job/j",
        "SnapshotJobId": "other"
    }));
    assert!(
        msg.contains("SnapshotJobId \"other\" does not match"),
        "{msg}"
    );
}

#[test]
fn region_is_required_when_the_function_has_none() {
    let err = parse_event(
        &json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "j"}),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("Region"), "{err}");
}

#[test]
fn previous_output_with_a_bad_attempt_is_rejected() {
    let msg = message(json!({
        "status": "IN_PROGRESS", "attempt": -1,
        "job": {"region": "us-east-1", "awsAccountId": "123456789012", "dashboardId": "d", "snapshotJobId": "j"}
    }));
    assert!(msg.contains("attempt"), "{msg}");
}

#[test]
fn a_label_is_carried_from_a_reference_and_from_a_previous_output() {
    let named = parse(json!({"AwsAccountId": "123456789012", "DashboardId": "d",
                             "SnapshotJobId": "j", "label": "Tenant 7 — EMEA"}))
    .unwrap();
    assert_eq!(named.label.as_deref(), Some("Tenant 7 — EMEA"));
    let fixture: Value =
        serde_json::from_str(include_str!("../../events/previous-output.json")).unwrap();
    let previous = parse(fixture).unwrap();
    assert_eq!(previous.label.as_deref(), Some("sales-emea"));
    let none = parse(json!({"AwsAccountId": "123456789012", "DashboardId": "d",
                            "SnapshotJobId": "j", "label": null}))
    .unwrap();
    assert_eq!(none.label, None);
}

#[test]
fn a_label_that_is_empty_too_long_or_not_text_is_refused_by_name() {
    let reference = |label: Value| {
        json!({"AwsAccountId": "123456789012", "DashboardId": "d", "SnapshotJobId": "j",
               "label": label})
    };
    for bad in [json!(""), json!("x".repeat(257)), json!("a\nb")] {
        assert!(message(reference(bad)).contains("label must be 1-256 characters"));
    }
    assert!(message(reference(json!(7))).contains("label must be a string"));
}
