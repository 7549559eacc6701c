//! A floor for benches/run.sh: the QuickSight SDK call alone, written the way its examples
//! write it (default config, one client, one DescribeDashboardSnapshotJob per invocation, the
//! status back), so the tables show what the SDK costs and what the poller adds to it.
//! A bin of this package so that it links the very same SDK build as the poller.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = &aws_sdk_quicksight::Client::new(&sdk);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let field = |name: &str| event.payload[name].as_str().unwrap_or_default().to_owned();
        let job = client
            .describe_dashboard_snapshot_job()
            .aws_account_id(field("AwsAccountId"))
            .dashboard_id(field("DashboardId"))
            .snapshot_job_id(field("SnapshotJobId"))
            .send()
            .await?;
        Ok::<_, Error>(json!({"jobStatus": job.job_status().map(|s| s.as_str())}))
    }))
    .await
}
