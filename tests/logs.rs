//! What the poller logs: enough to follow a job, never the S3 URIs (they can name tenants and
//! files) at info level.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_sdk_quicksight::operation::describe_dashboard_snapshot_job_result::DescribeDashboardSnapshotJobResultOutput;
use aws_sdk_quicksight::types::{
    AnonymousUserSnapshotJobResult, SnapshotJobResult, SnapshotJobResultFileGroup,
    SnapshotJobS3Result, SnapshotJobStatus,
};
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use support::*;

const URI: &str = "s3://tenant-a-exports/finance/q4-board-pack.pdf";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn completed_with_one_uri() -> DescribeDashboardSnapshotJobResultOutput {
    let group = SnapshotJobResultFileGroup::builder()
        .s3_results(SnapshotJobS3Result::builder().s3_uri(URI).build())
        .build();
    let user = AnonymousUserSnapshotJobResult::builder()
        .file_groups(group)
        .build();
    DescribeDashboardSnapshotJobResultOutput::builder()
        .job_status(SnapshotJobStatus::Completed)
        .result(SnapshotJobResult::builder().anonymous_users(user).build())
        .status(200)
        .build()
}

#[tokio::test]
async fn info_logs_name_the_job_and_outcome_but_never_an_s3_uri() {
    let captured = Captured::default();
    let subscriber = lambda_runtime::tracing::subscriber::fmt()
        .with_max_level(lambda_runtime::tracing::Level::INFO)
        .with_writer(captured.clone())
        .finish();
    let _guard =
        lambda_runtime::tracing::subscriber::util::SubscriberInitExt::set_default(subscriber);

    let FinishedJob { app, .. } = finished_job(
        &[("NOTIFY_ON_SUCCESS", "true")],
        "COMPLETED",
        completed_with_one_uri,
    );

    let out = app
        .poll(&event("api-casing.json"), TIME_LEFT)
        .await
        .expect("polls");

    assert_eq!(
        out.results[0].s3_uri.as_deref(),
        Some(URI),
        "the output carries the URI"
    );
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("polled"), "{logs}");
    assert!(logs.contains("daily-export-2026-11-28"), "{logs}");
    assert!(logs.contains("SUCCEEDED"), "{logs}");
    assert!(
        !logs.contains("s3://"),
        "an S3 URI reached the info log: {logs}"
    );
}
