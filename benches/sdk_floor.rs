//! A floor for benches/run.sh: the QuickSight SDK call alone, written the way its examples
//! write it (default config but for the HTTPS client on ring, one client, one DescribeDashboardSnapshotJob per invocation, the
//! status back), so the tables show what the SDK costs and what the poller adds to it.
//! A bin of this package so that it links the very same SDK build as the poller.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The SDK's own HTTPS client on ring, as the poller's (neither has `default-https-client`).
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await;
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
