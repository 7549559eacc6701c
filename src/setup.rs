//! Cold-start wiring: one SDK configuration, the clients built from it, the App.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

use crate::app::App;
use crate::config::Config;
use crate::error::Error;
use crate::http;
use crate::notify::Notifier;
use crate::quicksight::QuickSightClients;

/// The SDK's own standard retry (exponential backoff with jitter, throttling-aware) and
/// timeouts bound every call; the poller writes no retry loop of its own.
pub async fn sdk_config(config: &Config) -> Result<SdkConfig, Error> {
    let retry = RetryConfig::standard()
        .with_max_attempts(config.sdk_max_attempts)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(3));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(config.sdk_attempt_timeout)
        .operation_timeout(config.sdk_operation_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http::https_client(config.trust_store)?)
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(region) = &config.default_region {
        // Same precedence as the default region chain (AWS_REGION, then AWS_DEFAULT_REGION),
        // without building the chain's IMDS client.
        loader = loader.region(Region::new(region.clone()));
    }
    if config.credentials_in_env {
        // The default chain would pick these first anyway. Naming its first link skips building
        // the rest (an STS client for web identity among them), a tenth of a cold start.
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    Ok(loader.load().await)
}

/// Builds the App from one loaded SDK configuration: QuickSight clients per job region on
/// demand, and the SNS configuration for the topic's own region (its client is built at the
/// first publish).
pub fn app(config: Config, sdk: &SdkConfig) -> App {
    let quicksight = QuickSightClients::new(aws_sdk_quicksight::config::Builder::from(sdk));
    let sns_config = aws_sdk_sns::config::Builder::from(sdk)
        .region(Region::new(config.topic.region.clone()))
        .build();
    let notifier = Notifier::new(sns_config, config.topic.clone());
    App::new(config, quicksight, notifier)
}
