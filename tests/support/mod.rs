//! A poller wired to aws-smithy-mocks clients, and builders for QuickSight answers.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_quicksight::config::http::HttpResponse;
use aws_sdk_quicksight::operation::describe_dashboard_snapshot_job::DescribeDashboardSnapshotJobOutput;
use aws_sdk_quicksight::operation::describe_dashboard_snapshot_job_result::DescribeDashboardSnapshotJobResultOutput;
use aws_sdk_quicksight::primitives::DateTime;
use aws_sdk_quicksight::types::{
    AnonymousUserSnapshotJobResult, SnapshotFile, SnapshotFileFormatType,
    SnapshotFileSheetSelection, SnapshotFileSheetSelectionScope, SnapshotJobErrorInfo,
    SnapshotJobResult, SnapshotJobResultErrorInfo, SnapshotJobResultFileGroup, SnapshotJobS3Result,
    SnapshotJobStatus,
};
use aws_sdk_scheduler::operation::create_schedule::{CreateScheduleInput, CreateScheduleOutput};
use aws_sdk_sns::operation::publish::{PublishInput, PublishOutput};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use quicksight_snapshot_poller::contract::Answer;
use quicksight_snapshot_poller::QuickSightClients;
use quicksight_snapshot_poller::{App, Chain, ChainSettings, Config, Destination};
use quicksight_snapshot_poller::{Error, PollOutput};
use quicksight_snapshot_poller::{Notifier, SnsChannel};

pub const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:snapshot-alerts";
pub const FIFO_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:snapshot-alerts.fifo";
pub const TIME_LEFT: Duration = Duration::from_secs(30);

pub fn config(vars: &[(&str, &str)]) -> Config {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| match name {
                "SNS_TOPIC_ARN" => Some(TOPIC.into()),
                "AWS_REGION" => Some("us-east-1".into()),
                _ => None,
            })
    })
    .expect("valid test configuration")
}

/// What the mocked SNS received.
#[derive(Clone, Default)]
pub struct Published(Arc<Mutex<Vec<PublishInput>>>);

impl Published {
    pub fn all(&self) -> Vec<PublishInput> {
        self.0.lock().unwrap().clone()
    }
}

/// An SNS Publish rule that records every request and answers with a message id.
pub fn sns_accepts(published: &Published) -> Rule {
    let published = published.clone();
    mock!(aws_sdk_sns::Client::publish).then_compute_output(move |input| {
        let mut all = published.0.lock().unwrap();
        all.push(input.clone());
        PublishOutput::builder()
            .message_id(format!("msg-{}", all.len()))
            .build()
    })
}

pub fn app(vars: &[(&str, &str)], quicksight: &[&Rule], sns: &[&Rule]) -> App {
    let config = config(vars);
    let qs = mock_client!(
        aws_sdk_quicksight,
        RuleMode::MatchAny,
        quicksight.iter().copied()
    );
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns.iter().copied());
    let Some(Destination::Sns(topic)) = config.notify_to.clone() else {
        panic!("tests configure a topic");
    };
    App::new(
        config,
        QuickSightClients::new(qs.config().to_builder()),
        Some(Notifier::new(SnsChannel::new(sns.config().clone(), topic))),
    )
}

/// A DescribeDashboardSnapshotJob answer for a job created `age` ago.
pub fn described(status: &str, age: Duration) -> DescribeDashboardSnapshotJobOutput {
    let created = SystemTime::now() - age;
    DescribeDashboardSnapshotJobOutput::builder()
        .arn("arn:aws:quicksight:us-east-1:123456789012:dashboard/sales-dashboard/snapshot-job/daily-export-2026-11-28")
        .aws_account_id("123456789012")
        .dashboard_id("sales-dashboard")
        .snapshot_job_id("daily-export-2026-11-28")
        .job_status(SnapshotJobStatus::from(status))
        .created_time(DateTime::from(created))
        .last_updated_time(DateTime::from(SystemTime::now()))
        .request_id("req-describe")
        .status(200)
        .build()
}

pub fn describe_answers(status: &'static str, age: Duration) -> Rule {
    mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .then_output(move || described(status, age))
}

/// An error reply as QuickSight sends it on the wire: status, X-Amzn-ErrorType, JSON body.
pub fn error_response(status: u16, error_type: &str, message: &str) -> HttpResponse {
    let body = format!(r#"{{"Message":"{message}","RequestId":"req-err"}}"#);
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("valid status"),
        SdkBody::from(body),
    );
    response
        .headers_mut()
        .insert("X-Amzn-ErrorType", error_type.to_owned());
    response
        .headers_mut()
        .insert("Content-Type", "application/json");
    response.headers_mut().insert("x-amzn-RequestId", "req-err");
    response
}

pub fn describe_fails(status: u16, error_type: &'static str) -> Rule {
    mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job)
        .then_http_response(move || error_response(status, error_type, "injected"))
}

pub fn result_fails(status: u16, error_type: &'static str) -> Rule {
    mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job_result)
        .then_http_response(move || error_response(status, error_type, "injected"))
}

/// The Result rule must stay unused for unfinished jobs: build it, assert `num_calls() == 0`.
pub fn result_never_called() -> Rule {
    mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job_result).then_http_response(
        || error_response(400, "InvalidParameterValueException", "not terminal"),
    )
}

/// A job QuickSight describes as `status` (a minute old) and whose Result call answers
/// `result`, polled by an app whose SNS records what it is sent.
pub struct FinishedJob {
    pub app: App,
    pub published: Published,
    pub describe: Rule,
    pub result: Rule,
}

pub fn finished_job(
    vars: &[(&str, &str)],
    status: &'static str,
    result: fn() -> DescribeDashboardSnapshotJobResultOutput,
) -> FinishedJob {
    let describe = describe_answers(status, Duration::from_secs(60));
    let result = mock!(aws_sdk_quicksight::Client::describe_dashboard_snapshot_job_result)
        .then_output(result);
    let published = Published::default();
    let sns = sns_accepts(&published);
    let app = app(vars, &[&describe, &result], &[&sns]);
    FinishedJob {
        app,
        published,
        describe,
        result,
    }
}

pub fn event(name: &str) -> serde_json::Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An SNS error as it comes on the wire (awsQuery: an XML ErrorResponse).
pub fn sns_error_response(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>req-sns</RequestId></ErrorResponse>"#
    );
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("valid status"),
        SdkBody::from(body),
    );
    response.headers_mut().insert("Content-Type", "text/xml");
    response
}

/// COMPLETED with one PDF.
pub fn clean_completed_result() -> DescribeDashboardSnapshotJobResultOutput {
    DescribeDashboardSnapshotJobResultOutput::builder()
        .job_status(SnapshotJobStatus::Completed)
        .result(
            SnapshotJobResult::builder()
                .anonymous_users(
                    AnonymousUserSnapshotJobResult::builder()
                        .file_groups(file_group(
                            SnapshotFileFormatType::Pdf,
                            &["s3://bucket/a/report.pdf"],
                            &[],
                        ))
                        .build(),
                )
                .build(),
        )
        .status(200)
        .build()
}

/// FAILED with QuickSight's error info.
pub fn failed_result() -> DescribeDashboardSnapshotJobResultOutput {
    DescribeDashboardSnapshotJobResultOutput::builder()
        .job_status(SnapshotJobStatus::Failed)
        .error_info(
            SnapshotJobErrorInfo::builder()
                .error_type("DASHBOARD_ACCESS_DENIED")
                .error_message("The registered user lost access to the dashboard.")
                .build(),
        )
        .request_id("req-result")
        .status(200)
        .build()
}

/// A file group of one file in `format`, written to `uris` or failed with `errors`.
pub fn file_group(
    format: SnapshotFileFormatType,
    uris: &[&str],
    errors: &[(&str, &str)],
) -> SnapshotJobResultFileGroup {
    let file = SnapshotFile::builder()
        .format_type(format)
        .sheet_selections(
            SnapshotFileSheetSelection::builder()
                .sheet_id("sheet-1")
                .selection_scope(SnapshotFileSheetSelectionScope::AllVisuals)
                .build()
                .expect("sheet selection"),
        )
        .build()
        .expect("file");
    let mut group = SnapshotJobResultFileGroup::builder().files(file);
    for uri in uris {
        let mut s3 = SnapshotJobS3Result::builder().s3_uri(*uri);
        for (kind, message) in errors {
            s3 = s3.error_info(
                SnapshotJobResultErrorInfo::builder()
                    .error_type(*kind)
                    .error_message(*message)
                    .build(),
            );
        }
        group = group.s3_results(s3.build());
    }
    group.build()
}

/// The role a chain's schedules invoke the function with, in tests.
pub const ROLE: &str = "arn:aws:iam::123456789012:role/poll-chain";
/// The function a chain's schedules invoke, in tests.
pub const DEAD_LETTER_QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:operators-dlq";
pub const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:poller";

/// What the mocked Scheduler was asked to create.
#[derive(Clone, Default)]
pub struct Created(Arc<Mutex<Vec<CreateScheduleInput>>>);

impl Created {
    pub fn all(&self) -> Vec<CreateScheduleInput> {
        self.0.lock().unwrap().clone()
    }
}

pub fn scheduler_accepts(created: &Created) -> Rule {
    let created = created.clone();
    mock!(aws_sdk_scheduler::Client::create_schedule).then_compute_output(move |input| {
        created.0.lock().unwrap().push(input.clone());
        CreateScheduleOutput::builder()
            .schedule_arn("arn:aws:scheduler:us-east-1:123456789012:schedule/polls/x")
            .build()
            .expect("an output")
    })
}

pub fn scheduler_fails(status: u16, code: &'static str) -> Rule {
    mock!(aws_sdk_scheduler::Client::create_schedule)
        .then_http_response(move || error_response(status, code, "injected"))
}

pub fn chained(app: App, scheduler: &[&Rule]) -> App {
    let client = mock_client!(
        aws_sdk_scheduler,
        RuleMode::MatchAny,
        scheduler.iter().copied()
    );
    app.with_chain(Chain::new(
        client.config().clone(),
        ChainSettings {
            group: "polls".into(),
            role_arn: ROLE.into(),
            target_arn: Some(FUNCTION.into()),
            dead_letter_arn: Some(DEAD_LETTER_QUEUE.into()),
        },
    ))
}

/// One job's poll through the function's own path (`App::invoke`, what the handler calls), the
/// answer unwrapped: the library keeps no entry point for tests alone.
#[allow(async_fn_in_trait)]
pub trait PollOne {
    async fn poll(
        &self,
        event: &serde_json::Value,
        time_left: Duration,
    ) -> Result<PollOutput, Error>;
}

impl PollOne for App {
    async fn poll(
        &self,
        event: &serde_json::Value,
        time_left: Duration,
    ) -> Result<PollOutput, Error> {
        match self.invoke(event, time_left).await? {
            Answer::Single(output) => Ok(*output),
            other => panic!("one job reference was answered as something else: {other:?}"),
        }
    }
}
