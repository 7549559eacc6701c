//! The poll chain on EventBridge Scheduler, against mocked clients: one schedule per unfinished
//! tick, none at the end, a tick delivered twice scheduled once, a failure to schedule retried.

mod support;

use std::time::Duration;

use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindowMode};
use quicksight_snapshot_poller::contract::{Answer, Status};
use serde_json::{json, Value};
use support::*;

fn in_a_chain(mut reference: Value) -> Value {
    reference["loop"] = json!("scheduler");
    reference
}

#[tokio::test]
async fn a_running_job_schedules_one_next_poll_with_its_output() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let created = Created::default();
    let scheduler = scheduler_accepts(&created);
    let app = chained(app(&[], &[&describe], &[]), &[&scheduler]);

    let answer = app
        .invoke(&in_a_chain(event("api-casing.json")), TIME_LEFT)
        .await
        .expect("answered");

    let Answer::Single(output) = answer else {
        panic!("one job");
    };
    let [request] = created.all().try_into().expect("one schedule");
    let next = output.next_poll.as_ref().expect("the next poll");
    assert_eq!(request.name(), Some(next.schedule_name.as_str()));
    assert_eq!(request.group_name(), Some("polls"));
    assert_eq!(
        request.schedule_expression(),
        Some(format!("at({})", next.at.trim_end_matches('Z')).as_str())
    );
    assert_eq!(request.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(
        request.action_after_completion(),
        Some(&ActionAfterCompletion::Delete)
    );
    // Spread over the minute after the one named, not all on its first second.
    let window = request.flexible_time_window().expect("a window");
    assert_eq!(window.mode(), &FlexibleTimeWindowMode::Flexible);
    assert_eq!(window.maximum_window_in_minutes(), Some(1));
    let target = request.target().expect("a target");
    assert_eq!((target.arn(), target.role_arn()), (FUNCTION, ROLE));
    assert_eq!(
        target.dead_letter_config().and_then(|d| d.arn()),
        Some(DEAD_LETTER_QUEUE),
        "a tick Scheduler cannot deliver goes to the operators' queue"
    );
    let retries = target.retry_policy().expect("an explicit retry policy");
    assert_eq!(
        (
            retries.maximum_event_age_in_seconds(),
            retries.maximum_retry_attempts()
        ),
        (Some(300), Some(2))
    );
    let input: Value = serde_json::from_str(target.input().expect("an input")).unwrap();
    assert_eq!(input["loop"], "scheduler");
    assert_eq!(input["attempt"], 1);
    assert_eq!(input["status"], "IN_PROGRESS");
    assert_eq!(
        input["nextPoll"],
        Value::Null,
        "the next tick schedules its own"
    );
}

#[tokio::test]
async fn a_failed_job_ends_the_chain_with_one_notice_and_no_schedule() {
    let job = finished_job(&[], "FAILED", failed_result);
    let created = Created::default();
    let scheduler = scheduler_accepts(&created);
    let app = chained(job.app, &[&scheduler]);

    let answer = app
        .invoke(&in_a_chain(event("api-casing.json")), TIME_LEFT)
        .await
        .expect("answered");

    assert_eq!(answer.status(), Status::Failed);
    assert!(created.all().is_empty(), "no next poll");
    assert_eq!(job.published.all().len(), 1);
}

#[tokio::test]
async fn a_tick_delivered_twice_finds_its_schedule_already_there() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let scheduler = scheduler_fails(409, "ConflictException");
    let app = chained(app(&[], &[&describe], &[]), &[&scheduler]);
    let previous = json!({
        "status": "IN_PROGRESS", "jobStatus": "RUNNING", "attempt": 3, "loop": "scheduler",
        "job": {"arn": "x", "partition": "aws", "region": "us-east-1",
                "awsAccountId": "123456789012", "dashboardId": "sales-dashboard",
                "snapshotJobId": "daily-export-2026-11-28"}
    });

    let answer = app.invoke(&previous, TIME_LEFT).await.expect("answered");

    let Answer::Single(output) = answer else {
        panic!("one job");
    };
    assert_eq!(output.attempt, 4);
    let next = output.next_poll.expect("already scheduled counts");
    assert!(next.schedule_name.ends_with("-4"), "{}", next.schedule_name);
}

#[tokio::test]
async fn a_refused_schedule_fails_the_invocation_so_it_is_retried() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let scheduler = scheduler_fails(500, "InternalServerException");
    let app = chained(app(&[], &[&describe], &[]), &[&scheduler]);

    let err = app
        .invoke(&in_a_chain(event("api-casing.json")), TIME_LEFT)
        .await
        .expect_err("failed");

    assert_eq!(err.error_type(), "SchedulingFailed");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("InternalServerException"), "{err}");
}

#[tokio::test]
async fn a_chain_is_refused_before_any_call_without_its_settings() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let app = app(&[], &[&describe], &[]);

    let err = app
        .invoke(&in_a_chain(event("api-casing.json")), TIME_LEFT)
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(err.to_string().contains("SCHEDULE_GROUP_NAME"), "{err}");
    assert_eq!(describe.num_calls(), 0);
}

#[tokio::test]
async fn a_batch_in_a_chain_schedules_one_next_round() {
    let describe = describe_answers("RUNNING", Duration::from_secs(30));
    let created = Created::default();
    let scheduler = scheduler_accepts(&created);
    let app = chained(app(&[], &[&describe], &[]), &[&scheduler]);

    let answer = app
        .invoke(&in_a_chain(event("batch/jobs.json")), TIME_LEFT)
        .await
        .expect("answered");

    let Answer::Batch(batch) = answer else {
        panic!("a batch");
    };
    assert_eq!(created.all().len(), 1);
    assert!(batch.next_poll.is_some());
    let [request] = created.all().try_into().expect("one schedule");
    let input: Value = serde_json::from_str(request.target().unwrap().input().unwrap()).unwrap();
    assert_eq!(input["jobs"].as_array().map(Vec::len), Some(3));
    assert_eq!(input["loop"], "scheduler");
}

#[tokio::test]
async fn a_bad_loop_value_is_named_in_the_refusal() {
    let app = app(&[], &[], &[]);
    let mut reference = event("api-casing.json");
    reference["loop"] = json!("cron");

    let err = app
        .invoke(&reference, TIME_LEFT)
        .await
        .expect_err("refused");

    assert_eq!(err.error_type(), "InvalidJobReference");
    assert!(
        err.to_string().contains("loop must be \"scheduler\""),
        "{err}"
    );
}
