//! Settings read once per cold start from the environment.

use std::time::Duration;

use crate::arn::{is_account_id, is_valid_region, SnsTopicArn};
use crate::batch::BatchLimits;
use crate::callers::CallerPolicy;
use crate::chain::ChainSettings;
use crate::contract::LoopKind;
use crate::error::Error;
use crate::http::TrustStore;
use crate::job_event::EventSettings;
use crate::ledger::LedgerSettings;
use crate::poll_policy::PollPolicy;
use crate::reference::{JobReference, PollRequest};
use crate::settings::{self, Kind, Setting};
use crate::text::quote;

/// Everything the poller can be told through its environment. docs/configuration.md lists each variable.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where failures (and, optionally, successes) are told: `SNS_TOPIC_ARN`, required unless
    /// notices are off. None only with [`Notices::Off`].
    pub notify_to: Option<Destination>,
    /// How each job is polled: the wait, the deadline, the grace, notices of clean successes.
    pub poll: PollPolicy,
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): names the metrics of this function.
    pub function_name: Option<String>,
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`: the region of references that name none.
    pub default_region: Option<String>,
    /// `SDK_MAX_ATTEMPTS` (default 3): attempts per AWS call, the SDK's standard retry with backoff.
    pub sdk_max_attempts: u32,
    /// `SDK_ATTEMPT_TIMEOUT_MS` (default 3000): one HTTP attempt.
    pub sdk_attempt_timeout: Duration,
    /// `SDK_OPERATION_TIMEOUT_MS` (default 10000): one call, all attempts and backoff included.
    pub sdk_operation_timeout: Duration,
    /// What a batch may do: its pace, concurrency, size and error rounds.
    pub batch: BatchLimits,
    /// `MAX_OUTPUT_BYTES` (default 200,000): the largest answer; a larger one fails the
    /// invocation with `OutputTooLarge` (Step Functions passes at most 256 KB between states).
    pub max_output_bytes: usize,
    /// `PRESIGN_SECONDS` (default 0, off; at most 604800): the life of the download links a
    /// notice carries for each `s3://` result.
    pub presign: Option<Duration>,
    /// `MAX_EVENT_BYTES` (default 1 MiB): a larger event is refused before it is parsed.
    pub max_event_bytes: usize,
    /// `ALLOWED_ACCOUNT_IDS` (comma-separated; empty = any): accounts the function may describe.
    pub allowed_accounts: Vec<String>,
    /// `ALLOWED_REGIONS` (comma-separated; empty = any): regions the function may describe.
    pub allowed_regions: Vec<String>,
    /// Whom a job may be polled as: `ALLOWED_ROLE_ARNS`, `ALLOWED_USER_NAMESPACES`,
    /// `ROLE_EXTERNAL_IDS`.
    pub callers: CallerPolicy,
    /// `TRUST_STORE` (`system` or `amazon`, default system): the roots TLS trusts.
    pub trust_store: TrustStore,
    /// `SCHEDULE_GROUP_NAME`, `SCHEDULE_ROLE_ARN` and `SCHEDULE_TARGET_ARN`: where a
    /// `"loop": "scheduler"` chain creates its schedules. None: chains are refused.
    pub chain: Option<ChainSettings>,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` are both set, as Lambda sets them from
    /// the function's role.
    pub credentials_in_env: bool,
    /// `LEDGER_TABLE_NAME`, `LEDGER_RETENTION_DAYS`: the notice ledger. None: none.
    pub ledger: Option<LedgerSettings>,
    /// `EVENT_BUS_NAME`, `EVENT_SOURCE`: one event per finished job. None: no events.
    pub events: Option<EventSettings>,
}

/// Whether this process publishes notices: always in Lambda; a person at a terminal may turn
/// them off (`--no-notify`) and then needs no topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notices {
    /// Notices go to the configured destination, which is then required.
    On,
    /// No notices (a terminal's `--no-notify`); no destination needed.
    Off,
}

/// Where notices are delivered; each variant has its channel in `notice/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An SNS topic (`SNS_TOPIC_ARN`), published to in its own region.
    Sns(SnsTopicArn),
}

impl Destination {
    /// The partition the function runs in: its destination's.
    pub fn partition(&self) -> &str {
        match self {
            Destination::Sns(topic) => &topic.partition,
        }
    }
}

impl Config {
    /// The settings of a function that publishes notices (`SNS_TOPIC_ARN` required).
    pub fn from_env() -> Result<Self, Error> {
        Self::from_env_with(Notices::On)
    }

    /// The settings, with notices on or off.
    pub fn from_env_with(notices: Notices) -> Result<Self, Error> {
        Self::read(|name| std::env::var(name).ok(), notices)
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Self::read(lookup, Notices::On)
    }

    /// Reads every setting of [`settings::ALL`] through `lookup`; blank counts as unset.
    pub fn read(lookup: impl Fn(&str) -> Option<String>, notices: Notices) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let notify_to = match notices {
            Notices::Off => None,
            Notices::On => Some(Destination::Sns(topic(&get)?)),
        };
        let number = |setting: &Setting| number(&get, setting);
        let (max_output_bytes, max_event_bytes) = sizes(&get)?;
        let trust_store = trust_store(&get, notify_to.as_ref())?;

        Ok(Config {
            poll: PollPolicy::read(number, |setting| flag(&get, setting))?,
            batch: BatchLimits::read(
                number,
                |setting, default| number_or(&get, setting, default),
                max_output_bytes,
            )?,
            ledger: LedgerSettings::read(&get, number)?,
            events: EventSettings::read(&get)?,
            chain: ChainSettings::read(&get)?,
            trust_store,
            credentials_in_env: get("AWS_ACCESS_KEY_ID").is_some()
                && get("AWS_SECRET_ACCESS_KEY").is_some(),
            max_output_bytes: max_output_bytes as usize,
            max_event_bytes: max_event_bytes as usize,
            presign: match number(&settings::PRESIGN_SECONDS)? {
                0 => None,
                seconds => Some(Duration::from_secs(seconds)),
            },
            allowed_accounts: checked_list(
                &get,
                &settings::ALLOWED_ACCOUNT_IDS,
                is_account_id,
                "a 12-digit account id",
            )?,
            allowed_regions: checked_list(
                &get,
                &settings::ALLOWED_REGIONS,
                is_valid_region,
                "an AWS region",
            )?,
            callers: CallerPolicy::read(&get)?,
            notify_to,
            default_region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME")
                .map(|name| crate::text::truncate(name.trim(), 140).into_owned()),
            sdk_max_attempts: number(&settings::SDK_MAX_ATTEMPTS)? as u32,
            sdk_attempt_timeout: Duration::from_millis(number(&settings::SDK_ATTEMPT_TIMEOUT_MS)?),
            sdk_operation_timeout: Duration::from_millis(number(
                &settings::SDK_OPERATION_TIMEOUT_MS,
            )?),
        })
    }
}

/// `MAX_OUTPUT_BYTES` and `MAX_EVENT_BYTES`: an answer must fit the next poll's event.
fn sizes(get: &impl Fn(&str) -> Option<String>) -> Result<(u64, u64), Error> {
    // The default output fits Step Functions' 256 KiB between states; direct invocations may
    // raise it to Lambda's 6 MB response.
    let max_output_bytes = number(get, &settings::MAX_OUTPUT_BYTES)?;
    let max_event_bytes = number(get, &settings::MAX_EVENT_BYTES)?;
    if max_output_bytes > max_event_bytes {
        return Err(Error::InvalidConfiguration(format!(
            "MAX_OUTPUT_BYTES ({max_output_bytes}) is larger than MAX_EVENT_BYTES \
             ({max_event_bytes}): a wait loop would send back an answer the function refuses"
        )));
    }
    Ok((max_output_bytes, max_event_bytes))
}

/// `SNS_TOPIC_ARN`, required when notices are on.
fn topic(get: &impl Fn(&str) -> Option<String>) -> Result<SnsTopicArn, Error> {
    let name = settings::SNS_TOPIC_ARN.name;
    let raw = get(name).ok_or_else(|| {
        Error::InvalidConfiguration(format!(
            "{name} is not set (at a terminal, --no-notify polls without it)"
        ))
    })?;
    SnsTopicArn::parse(raw.trim())
        .map_err(|why| Error::InvalidConfiguration(format!("{name} {why}")))
}

/// `TRUST_STORE`, which must suit the partition the function runs in (its destination's).
fn trust_store(
    get: &impl Fn(&str) -> Option<String>,
    destination: Option<&Destination>,
) -> Result<TrustStore, Error> {
    let trust_store = match get(settings::TRUST_STORE.name) {
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

impl Config {
    /// Refuses, before any call, a job outside the configured accounts and regions, so a
    /// crafted event cannot make the function describe another tenant's jobs.
    pub fn permits(&self, request: &PollRequest, loop_kind: Option<LoopKind>) -> Result<(), Error> {
        self.permits_job(&request.job)?;
        self.callers.permits(request, loop_kind)
    }

    /// Refuses a job outside the configured accounts and regions.
    pub fn permits_job(&self, job: &JobReference) -> Result<(), Error> {
        if !self.allowed_accounts.is_empty() && !self.allowed_accounts.contains(&job.account) {
            return Err(Error::invalid(format!(
                "AwsAccountId {:?} is not in this function's ALLOWED_ACCOUNT_IDS",
                job.account
            )));
        }
        if !self.allowed_regions.is_empty() && !self.allowed_regions.contains(&job.region) {
            return Err(Error::invalid(format!(
                "Region {:?} is not in this function's ALLOWED_REGIONS",
                job.region
            )));
        }
        Ok(())
    }
}

/// A list setting whose every value must pass `valid` (described as `what` when not).
pub(crate) fn checked_list(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
    valid: fn(&str) -> bool,
    what: &str,
) -> Result<Vec<String>, Error> {
    let values: Vec<String> = get(setting.name)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    match values.iter().find(|value| !valid(value)) {
        Some(bad) => Err(Error::InvalidConfiguration(format!(
            "{} holds {}, not {what}",
            setting.name,
            quote(bad)
        ))),
        None => Ok(values),
    }
}

/// A number setting, with its table default.
fn number(get: &impl Fn(&str) -> Option<String>, setting: &Setting) -> Result<u64, Error> {
    match setting.kind {
        Kind::Number { default, .. } => number_or(get, setting, default),
        _ => Err(Error::InvalidConfiguration(format!(
            "{} is not a number",
            setting.name
        ))),
    }
}

/// A number setting whose default depends on other settings.
fn number_or(
    get: &impl Fn(&str) -> Option<String>,
    setting: &Setting,
    default: u64,
) -> Result<u64, Error> {
    let Kind::Number { min, max, .. } = setting.kind else {
        return Err(Error::InvalidConfiguration(format!(
            "{} is not a number",
            setting.name
        )));
    };
    let Some(raw) = get(setting.name) else {
        return Ok(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(Error::InvalidConfiguration(format!(
            "{} must be a whole number from {min} to {max}, got {}",
            setting.name,
            quote(&raw)
        ))),
    }
}

fn flag(get: &impl Fn(&str) -> Option<String>, setting: &Setting) -> Result<bool, Error> {
    let Kind::Flag { default } = setting.kind else {
        return Err(Error::InvalidConfiguration(format!(
            "{} is not a flag",
            setting.name
        )));
    };
    let Some(raw) = get(setting.name) else {
        return Ok(default);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(Error::InvalidConfiguration(format!(
            "{} must be true or false, got {}",
            setting.name,
            quote(&raw)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const TOPIC: (&str, &str) = (
        "SNS_TOPIC_ARN",
        "arn:aws:sns:us-east-1:123456789012:snapshot-alerts",
    );

    #[test]
    fn missing_topic_is_a_configuration_error() {
        let err = config(&[]).unwrap_err();
        assert_eq!(err.error_type(), "InvalidConfiguration");
        assert!(err.to_string().contains("SNS_TOPIC_ARN"));
    }

    #[test]
    fn without_notices_no_topic_is_needed_or_read() {
        let off = Config::read(|_| None, Notices::Off).expect("valid without a topic");
        assert!(off.notify_to.is_none());
        let ignored = Config::read(
            |name| (name == "SNS_TOPIC_ARN").then(|| "not-an-arn".to_owned()),
            Notices::Off,
        )
        .expect("the topic is not read");
        assert!(ignored.notify_to.is_none());
    }

    #[test]
    fn topic_that_is_not_an_sns_arn_is_rejected() {
        let err = config(&[("SNS_TOPIC_ARN", "snapshot-alerts")]).unwrap_err();
        assert!(err.to_string().contains("SNS_TOPIC_ARN"), "{err}");
    }

    #[test]
    fn defaults_apply_when_only_the_topic_is_set() {
        let config = config(&[TOPIC, ("AWS_REGION", "eu-west-1")]).expect("valid");
        assert!(!config.poll.notify_on_success);
        assert_eq!(config.poll.wait.min_seconds, 5);
        assert_eq!(config.poll.wait.max_seconds, 60);
        assert_eq!(config.poll.job_deadline, Duration::from_secs(3600));
        assert_eq!(config.poll.not_found_grace_polls, 2);
        assert_eq!(config.default_region.as_deref(), Some("eu-west-1"));
        let Some(Destination::Sns(topic)) = config.notify_to else {
            panic!("an SNS topic");
        };
        assert!(!topic.is_fifo());
        assert_eq!(config.trust_store, TrustStore::System);
        assert!(!config.credentials_in_env);
    }

    #[test]
    fn credentials_count_as_in_the_environment_only_with_both_keys() {
        let both = [
            TOPIC,
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        assert!(config(&both).expect("valid").credentials_in_env);
        let key_only = [TOPIC, ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")];
        assert!(!config(&key_only).expect("valid").credentials_in_env);
    }

    #[test]
    fn trust_store_is_chosen_by_name_and_a_bad_name_is_refused() {
        let amazon = config(&[TOPIC, ("TRUST_STORE", "amazon")]).expect("valid");
        assert_eq!(amazon.trust_store, TrustStore::Amazon);
        let err = config(&[TOPIC, ("TRUST_STORE", "mozilla")]).unwrap_err();
        assert_eq!(err.error_type(), "InvalidConfiguration");
        assert!(err.to_string().contains("TRUST_STORE"), "{err}");
    }

    #[test]
    fn amazon_trust_store_is_refused_outside_the_aws_and_gov_partitions() {
        let gov = (
            "SNS_TOPIC_ARN",
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts",
        );
        let config_gov = config(&[gov, ("TRUST_STORE", "amazon")]).expect("valid");
        assert_eq!(config_gov.trust_store, TrustStore::Amazon);
        let china = (
            "SNS_TOPIC_ARN",
            "arn:aws-cn:sns:cn-north-1:123456789012:alerts",
        );
        let err = config(&[china, ("TRUST_STORE", "amazon")]).unwrap_err();
        assert_eq!(err.error_type(), "InvalidConfiguration");
        assert!(err.to_string().contains("aws-cn"), "{err}");
        assert!(
            config(&[china]).is_ok(),
            "the system store works in every partition"
        );
    }

    fn job(account: &str, region: &str) -> JobReference {
        JobReference {
            partition: "aws".into(),
            region: region.into(),
            account: account.into(),
            dashboard: "d".into(),
            job: "j".into(),
        }
    }

    #[test]
    fn allow_lists_refuse_other_accounts_and_regions() {
        let config = config(&[
            TOPIC,
            ("ALLOWED_ACCOUNT_IDS", "123456789012, 210987654321"),
            ("ALLOWED_REGIONS", "us-east-1"),
        ])
        .expect("valid");
        assert!(config
            .permits_job(&job("210987654321", "us-east-1"))
            .is_ok());
        let err = config
            .permits_job(&job("999999999999", "us-east-1"))
            .unwrap_err();
        assert_eq!(err.error_type(), "InvalidJobReference");
        assert!(err.to_string().contains("ALLOWED_ACCOUNT_IDS"), "{err}");
        let err = config
            .permits_job(&job("123456789012", "eu-west-1"))
            .unwrap_err();
        assert!(err.to_string().contains("ALLOWED_REGIONS"), "{err}");
    }

    #[test]
    fn empty_allow_lists_permit_any_job_and_bad_entries_are_refused() {
        let open = config(&[TOPIC]).expect("valid");
        assert!(open.permits_job(&job("999999999999", "ap-south-1")).is_ok());
        let err = config(&[TOPIC, ("ALLOWED_ACCOUNT_IDS", "12")]).unwrap_err();
        assert!(err.to_string().contains("ALLOWED_ACCOUNT_IDS"), "{err}");
    }

    #[test]
    fn settings_whose_loop_outgrows_an_execution_history_are_refused() {
        let week = ("JOB_DEADLINE_SECONDS", "604800");
        let err = config(&[TOPIC, week]).unwrap_err();
        assert_eq!(err.error_type(), "InvalidConfiguration");
        let message = err.to_string();
        assert!(message.contains("25,000-event history"), "{message}");
        let advised: String = message
            .split("at least ")
            .nth(1)
            .expect("advice")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let fixed = config(&[TOPIC, week, ("MAX_WAIT_SECONDS", advised.as_str())]);
        assert!(
            fixed.is_ok(),
            "the advised MAX_WAIT_SECONDS ({advised}) is enough"
        );
        let one_less = (advised.parse::<u64>().expect("a number") - 1).to_string();
        let short = config(&[TOPIC, week, ("MAX_WAIT_SECONDS", one_less.as_str())]);
        assert!(short.is_err(), "and it is the smallest that is");
        let flat = config(&[TOPIC, week, ("WAIT_AGE_PERCENT", "0")]).unwrap_err();
        assert!(
            flat.to_string()
                .contains("raise MIN_WAIT_SECONDS or WAIT_AGE_PERCENT"),
            "{flat}"
        );
    }

    #[test]
    fn batch_size_defaults_to_what_fits_the_output_budget() {
        let defaults = config(&[TOPIC]).expect("valid");
        assert_eq!(defaults.max_output_bytes, 200_000);
        assert_eq!(defaults.batch.max_jobs, 100);
        let smaller = config(&[TOPIC, ("MAX_OUTPUT_BYTES", "100000")]).expect("valid");
        assert_eq!(smaller.batch.max_jobs, 50);
        let err = config(&[TOPIC, ("MAX_OUTPUT_BYTES", "7000000")]).unwrap_err();
        assert!(err.to_string().contains("MAX_OUTPUT_BYTES"), "{err}");
        let err = config(&[TOPIC, ("MAX_EVENT_BYTES", "50000")]).unwrap_err();
        assert!(
            err.to_string().contains("larger than MAX_EVENT_BYTES"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_numbers_name_the_variable() {
        let err = config(&[TOPIC, ("MAX_WAIT_SECONDS", "0")]).unwrap_err();
        assert!(err.to_string().contains("MAX_WAIT_SECONDS"), "{err}");
        let err = config(&[TOPIC, ("MIN_WAIT_SECONDS", "90")]).unwrap_err();
        assert!(
            err.to_string().contains("greater than MAX_WAIT_SECONDS"),
            "{err}"
        );
        let err = config(&[TOPIC, ("NOTIFY_ON_SUCCESS", "sometimes")]).unwrap_err();
        assert!(err.to_string().contains("NOTIFY_ON_SUCCESS"), "{err}");
    }
}
