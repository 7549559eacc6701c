//! Cold-start wiring: the SDK's settings and the one SDK configuration loaded from them, the
//! clients built from it, the App.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::arn::SnsTopicArn;
use crate::chain::Chain;
use crate::config::{Config, Destination, Env};
use crate::error::Error;
use crate::http::{self, TrustStore};
use crate::job_event::JobEvents;
use crate::ledger::Ledger;
use crate::notice::{Notifier, SnsChannel};
use crate::presign::Presigner;
use crate::quicksight::QuickSightClients;
use crate::roles::Roles;
use crate::runs::{RunStore, Runs};
use crate::settings;

/// How every SDK client calls AWS; read at cold start, used once to load the SDK configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkSettings {
    /// `SDK_MAX_ATTEMPTS`: attempts per AWS call.
    pub max_attempts: u32,
    /// `SDK_ATTEMPT_TIMEOUT_MS`: one HTTP attempt.
    pub attempt_timeout: Duration,
    /// `SDK_OPERATION_TIMEOUT_MS`: one call, all attempts and backoff included.
    pub operation_timeout: Duration,
    /// `TRUST_STORE`: the roots TLS trusts.
    pub trust_store: TrustStore,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` are both set, as Lambda sets them from
    /// the function's role.
    pub credentials_in_env: bool,
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` names an S3 endpoint of its own.
    pub s3_endpoint: bool,
}

impl SdkSettings {
    /// Reads the SDK's settings; the trust store must suit the partition of `destination`.
    pub fn read(env: &Env, destination: Option<&Destination>) -> Result<Self, Error> {
        Ok(SdkSettings {
            max_attempts: env.number(&settings::SDK_MAX_ATTEMPTS)? as u32,
            attempt_timeout: Duration::from_millis(env.number(&settings::SDK_ATTEMPT_TIMEOUT_MS)?),
            operation_timeout: Duration::from_millis(
                env.number(&settings::SDK_OPERATION_TIMEOUT_MS)?,
            ),
            trust_store: trust_store(env, destination)?,
            credentials_in_env: env.get("AWS_ACCESS_KEY_ID").is_some()
                && env.get("AWS_SECRET_ACCESS_KEY").is_some(),
            s3_endpoint: env.get("AWS_ENDPOINT_URL_S3").is_some()
                || env.get("AWS_ENDPOINT_URL").is_some(),
        })
    }
}

/// `TRUST_STORE`, which must suit the partition the function runs in (its destination's).
fn trust_store(env: &Env, destination: Option<&Destination>) -> Result<TrustStore, Error> {
    let trust_store = match env.text(&settings::TRUST_STORE) {
        Some(raw) => raw.parse().map_err(Error::InvalidConfiguration)?,
        None => TrustStore::default(),
    };
    // aws-cn endpoints are not known to chain to Amazon Trust Services, so every call there
    // would fail its TLS handshake.
    let partition = destination.map(Destination::partition);
    if let Some(partition) = partition
        .filter(|p| trust_store == TrustStore::Amazon && !matches!(*p, "aws" | "aws-us-gov"))
    {
        return Err(Error::InvalidConfiguration(format!(
            "TRUST_STORE=amazon is for the aws and aws-us-gov partitions; this function's \
             topic is in {partition}: use TRUST_STORE=system"
        )));
    }
    Ok(trust_store)
}

/// The SDK's own standard retry (exponential backoff with jitter, throttling-aware) and
/// timeouts bound every call; the poller writes no retry loop of its own.
pub async fn sdk_config(config: &Config) -> Result<SdkConfig, Error> {
    let settings = &config.sdk;
    let retry = RetryConfig::standard()
        .with_max_attempts(settings.max_attempts)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(3));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(settings.attempt_timeout)
        .operation_timeout(settings.operation_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http::https_client(settings.trust_store, &timeouts)?)
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(region) = &config.region {
        // Same precedence as the default region chain (AWS_REGION, then AWS_DEFAULT_REGION),
        // without building the chain's IMDS client.
        loader = loader.region(Region::new(region.clone()));
    }
    if settings.credentials_in_env {
        // The default chain would pick these first anyway. Naming its first link skips building
        // the rest (an STS client for web identity among them), a tenth of a cold start.
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    Ok(loader.load().await)
}

/// The function's own region, where most jobs are, gets its client now rather than at the
/// first poll: building one loads and parses the CA roots, about 9 of the 14.4 million
/// instructions of a cold start (docs/benchmarks.md). In init it costs the same CPU and makes
/// no call; public measurements of Lambda find init at full CPU, where a 128 MB invoke gets 7 %.
fn quicksight_clients(config: &Config, sdk: &SdkConfig) -> QuickSightClients {
    let clients = QuickSightClients::new(aws_sdk_quicksight::config::Builder::from(sdk));
    if let Some(region) = &config.region {
        clients.for_region(region);
    }
    clients
}

/// Builds the App from one loaded SDK configuration: QuickSight clients per job region on
/// demand, and the SNS configuration for the topic's own region (its client is built at the
/// first publish).
pub fn app(config: Config, sdk: &SdkConfig) -> App {
    let quicksight = quicksight_clients(&config, sdk);
    // One ledger for the notices, the events and the runs' records; the table is the
    // function's own, in the function's region.
    let ledger = config.ledger.clone().map(|settings| {
        Arc::new(Ledger::new(
            aws_sdk_dynamodb::config::Builder::from(sdk).build(),
            settings,
        ))
    });
    let (notifier, events) = tellers(&config, sdk, ledger.as_ref());
    let presign = config.presign;
    let chain = config.chain.clone().map(|settings| {
        let scheduler = aws_sdk_scheduler::config::Builder::from(sdk).build();
        Chain::new(scheduler, settings)
    });
    let assumes_roles = config.gate.callers().assumes_roles();
    let runs = ledger
        .as_ref()
        .map(|ledger| runs(&config, sdk, ledger.clone()));
    let mut app = App::new(config, quicksight, notifier);
    if let Some(runs) = runs {
        app = app.with_runs(runs);
    }
    if let Some(events) = events {
        app = app.with_events(events);
    }
    if assumes_roles {
        app = app.with_roles(Roles::new(aws_sdk_sts::config::Builder::from(sdk).build()));
    }
    if let Some(chain) = chain {
        app = app.with_chain(chain);
    }
    match (presign, sdk.credentials_provider()) {
        (Some(expires), Some(credentials)) => {
            app.with_presigner(Presigner::new(credentials, expires))
        }
        (Some(_), None) => {
            tracing::warn!("PRESIGN_SECONDS is set but there are no credentials to sign with: notices go without download links");
            app
        }
        _ => app,
    }
}

/// Reports runs: the ledger's records, S3 for manifests and results files (its client is built
/// at the first survey), and the results file's link signed in the function's region.
fn runs(config: &Config, sdk: &SdkConfig, ledger: Arc<Ledger>) -> Runs {
    let s3 = aws_sdk_s3::config::Builder::from(sdk)
        // An endpoint of its own (a local S3) answers on its host name, not on the bucket's.
        .force_path_style(config.sdk.s3_endpoint)
        .build();
    let runs = Runs::new(
        ledger,
        RunStore::new(s3, config.runs.results.clone()),
        config.runs.clone(),
    );
    match (config.presign, sdk.credentials_provider(), &config.region) {
        (Some(expires), Some(credentials), Some(region)) => {
            runs.with_presigner(Presigner::new(credentials, expires), region.clone())
        }
        _ => runs,
    }
}

/// What tells a job's end: the notifier (the topic) and the events (the bus), both through the
/// one ledger.
fn tellers(
    config: &Config,
    sdk: &SdkConfig,
    ledger: Option<&Arc<Ledger>>,
) -> (Option<Notifier>, Option<JobEvents>) {
    let notifier = config
        .notify_to
        .clone()
        .map(|destination| match destination {
            Destination::Sns(topic) => {
                Notifier::new(SnsChannel::new(sns_config(&topic, sdk), topic))
            }
        })
        .map(|notifier| match ledger {
            Some(ledger) => notifier.with_ledger(ledger.clone()),
            None => notifier,
        });
    // The bus is named in the function's region (or by its ARN).
    let events = config.events.clone().map(|settings| {
        let events = JobEvents::new(
            aws_sdk_eventbridge::config::Builder::from(sdk).build(),
            settings,
        );
        match ledger {
            Some(ledger) => events.with_ledger(ledger.clone()),
            None => events,
        }
    });
    (notifier, events)
}

/// A topic is published to in its own region, wherever the function runs.
fn sns_config(topic: &SnsTopicArn, sdk: &SdkConfig) -> aws_sdk_sns::Config {
    aws_sdk_sns::config::Builder::from(sdk)
        .region(Region::new(topic.region.clone()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
        .expect("valid configuration")
    }

    const TOPIC: (&str, &str) = ("SNS_TOPIC_ARN", "arn:aws:sns:eu-west-3:123456789012:alerts");

    #[tokio::test]
    async fn sdk_config_takes_region_and_credentials_from_the_configuration() {
        let config = config(&[
            TOPIC,
            ("AWS_REGION", "eu-west-3"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]);
        let sdk = sdk_config(&config).await.expect("an SDK configuration");
        // Whatever this process's own environment says, the configuration's region wins.
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-3"));
        assert!(sdk.credentials_provider().is_some());
        assert!(
            sdk.http_client().is_some(),
            "the shared HTTPS client is set"
        );
    }

    #[tokio::test]
    async fn sns_is_configured_for_the_topic_region_not_the_function_region() {
        let config = config(&[TOPIC, ("AWS_REGION", "us-east-1")]);
        let sdk = sdk_config(&config).await.expect("an SDK configuration");
        let Some(Destination::Sns(topic)) = &config.notify_to else {
            panic!("an SNS topic");
        };
        let sns = sns_config(topic, &sdk);
        assert_eq!(sns.region().map(|r| r.as_ref()), Some("eu-west-3"));
    }

    #[tokio::test]
    async fn the_function_regions_client_is_built_at_cold_start() {
        let config = config(&[TOPIC, ("AWS_REGION", "eu-central-1")]);
        let sdk = sdk_config(&config).await.expect("an SDK configuration");
        let clients = quicksight_clients(&config, &sdk);
        assert!(clients.has_client_for("eu-central-1"));
        assert!(
            !clients.has_client_for("us-east-1"),
            "only the function's region"
        );
    }
}
