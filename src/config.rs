//! Settings read once per cold start from the environment, in the ripgrep way: the raw
//! variables ([`Env`]) are read into one part per consumer, and each part is handed to the code
//! that uses it. [`Config`] only holds the parts until `setup` and [`crate::App::new`] take them
//! apart: nothing reads a setting back through it.

use std::time::Duration;

use crate::arn::SnsTopicArn;
use crate::batch::BatchLimits;
use crate::chain::ChainSettings;
use crate::error::Error;
use crate::gate::Gate;
use crate::job_event::EventSettings;
use crate::ledger::LedgerSettings;
use crate::poll_policy::PollPolicy;
use crate::runs::RunSettings;
use crate::settings::{self, Kind, Setting};
use crate::setup::SdkSettings;
use crate::text::quote;

/// Every setting, by the part that reads it. docs/configuration.md lists each variable.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SDK's retries, timeouts, trust store and credentials: consumed by `setup`.
    pub sdk: SdkSettings,
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`: the function's region, where references that name
    /// none are, and whose QuickSight client is built at cold start.
    pub region: Option<String>,
    /// What the App refuses before any call: the event's and answer's sizes, the allow-lists,
    /// the callers.
    pub gate: Gate,
    /// How each job is polled: the Poller's and `status`'s.
    pub poll: PollPolicy,
    /// What a batch may do.
    pub batch: BatchLimits,
    /// Where notices go; None only with [`Notices::Off`].
    pub notify_to: Option<Destination>,
    /// `PRESIGN_SECONDS`: the life of download links; None: no links.
    pub presign: Option<Duration>,
    /// The notice ledger; None: none.
    pub ledger: Option<LedgerSettings>,
    /// One event per finished job; None: no events.
    pub events: Option<EventSettings>,
    /// Where a poll chain creates its schedules; None: chains are refused.
    pub chain: Option<ChainSettings>,
    /// What a reports run may be and where its results go.
    pub runs: RunSettings,
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): names the metrics of this function.
    pub function_name: Option<String>,
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

    /// Reads every part through `lookup`; each part reads its own variables.
    pub fn read(lookup: impl Fn(&str) -> Option<String>, notices: Notices) -> Result<Self, Error> {
        let env = Env::new(&lookup);
        let notify_to = match notices {
            Notices::Off => None,
            Notices::On => Some(Destination::Sns(topic(&env)?)),
        };
        let gate = Gate::read(&env)?;
        Ok(Config {
            sdk: SdkSettings::read(&env, notify_to.as_ref())?,
            region: env
                .get("AWS_REGION")
                .or_else(|| env.get("AWS_DEFAULT_REGION")),
            poll: PollPolicy::read(&env)?,
            batch: BatchLimits::read(&env, gate.max_output_bytes as u64)?,
            gate,
            notify_to,
            presign: match env.number(&settings::PRESIGN_SECONDS)? {
                0 => None,
                seconds => Some(Duration::from_secs(seconds)),
            },
            ledger: LedgerSettings::read(&env)?,
            events: EventSettings::read(&env)?,
            chain: ChainSettings::read(&env)?,
            runs: RunSettings::read(&env)?,
            function_name: env
                .get("AWS_LAMBDA_FUNCTION_NAME")
                .map(|name| crate::text::truncate(name.trim(), 140).into_owned()),
        })
    }
}

/// `SNS_TOPIC_ARN`, required when notices are on.
fn topic(env: &Env) -> Result<SnsTopicArn, Error> {
    let name = settings::SNS_TOPIC_ARN.name;
    let raw = env.get(name).ok_or_else(|| {
        Error::InvalidConfiguration(format!(
            "{name} is not set (at a terminal, --no-notify polls without it)"
        ))
    })?;
    SnsTopicArn::parse(raw.trim())
        .map_err(|why| Error::InvalidConfiguration(format!("{name} {why}")))
}

/// The raw environment, read through the settings table: each reader checks a value against its
/// setting's kind and bounds and names the variable when it is wrong.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    /// The environment `lookup` answers for.
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env { lookup }
    }

    /// A variable's value; blank counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// A text setting, trimmed.
    pub fn text(&self, setting: &Setting) -> Option<String> {
        self.get(setting.name).map(|v| v.trim().to_owned())
    }

    /// A number setting, with its table default.
    pub fn number(&self, setting: &Setting) -> Result<u64, Error> {
        match setting.kind {
            Kind::Number { default, .. } => self.number_or(setting, default),
            _ => Err(not_a(setting, "number")),
        }
    }

    /// A number setting whose default depends on other settings.
    pub fn number_or(&self, setting: &Setting, default: u64) -> Result<u64, Error> {
        let Kind::Number { min, max, .. } = setting.kind else {
            return Err(not_a(setting, "number"));
        };
        let Some(raw) = self.get(setting.name) else {
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

    /// A flag setting, with its table default.
    pub fn flag(&self, setting: &Setting) -> Result<bool, Error> {
        let Kind::Flag { default } = setting.kind else {
            return Err(not_a(setting, "flag"));
        };
        let Some(raw) = self.get(setting.name) else {
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

    /// A list setting whose every value must pass `valid` (described as `what` when not).
    pub fn list(
        &self,
        setting: &Setting,
        valid: fn(&str) -> bool,
        what: &str,
    ) -> Result<Vec<String>, Error> {
        let values: Vec<String> = self
            .get(setting.name)
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
}

fn not_a(setting: &Setting, kind: &str) -> Error {
    Error::InvalidConfiguration(format!("{} is not a {kind}", setting.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::TrustStore;
    use crate::reference::JobReference;
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
        assert_eq!(config.region.as_deref(), Some("eu-west-1"));
        let Some(Destination::Sns(topic)) = config.notify_to else {
            panic!("an SNS topic");
        };
        assert!(!topic.is_fifo());
        assert_eq!(config.sdk.trust_store, TrustStore::System);
        assert!(!config.sdk.credentials_in_env);
    }

    #[test]
    fn credentials_count_as_in_the_environment_only_with_both_keys() {
        let both = [
            TOPIC,
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        assert!(config(&both).expect("valid").sdk.credentials_in_env);
        let key_only = [TOPIC, ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")];
        assert!(!config(&key_only).expect("valid").sdk.credentials_in_env);
    }

    #[test]
    fn trust_store_is_chosen_by_name_and_a_bad_name_is_refused() {
        let amazon = config(&[TOPIC, ("TRUST_STORE", "amazon")]).expect("valid");
        assert_eq!(amazon.sdk.trust_store, TrustStore::Amazon);
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
        assert_eq!(config_gov.sdk.trust_store, TrustStore::Amazon);
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
            .gate
            .permits_job(&job("210987654321", "us-east-1"))
            .is_ok());
        let err = config
            .gate
            .permits_job(&job("999999999999", "us-east-1"))
            .unwrap_err();
        assert_eq!(err.error_type(), "InvalidJobReference");
        assert!(err.to_string().contains("ALLOWED_ACCOUNT_IDS"), "{err}");
        let err = config
            .gate
            .permits_job(&job("123456789012", "eu-west-1"))
            .unwrap_err();
        assert!(err.to_string().contains("ALLOWED_REGIONS"), "{err}");
    }

    #[test]
    fn empty_allow_lists_permit_any_job_and_bad_entries_are_refused() {
        let open = config(&[TOPIC]).expect("valid");
        assert!(open
            .gate
            .permits_job(&job("999999999999", "ap-south-1"))
            .is_ok());
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
        assert_eq!(defaults.gate.max_output_bytes, 200_000);
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
