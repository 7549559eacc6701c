//! The poll chain on EventBridge Scheduler: when the input says `"loop": "scheduler"` and the
//! job is not done, the poller creates one one-time schedule that invokes the function again
//! with this poll's output, after `waitSeconds`. At a terminal status it creates none, so the
//! chain ends by itself, and the failure is told once, by the poll that saw it.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_scheduler::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, Target,
};
use sha2::{Digest, Sha256};
use tokio::time::{timeout, Instant};

use crate::config::Env;
use crate::contract::{Answer, NextPoll};
use crate::error::Error;
use crate::sdk_error::{credentials_error, credentials_problem, describe_sdk_error};
use crate::settings;
use crate::text::quote;

/// Scheduler invokes a target within the minute its schedule names (60 s precision).
const PRECISION_SECONDS: u64 = 60;
/// The flexible window a tick may run in, after its minute.
const SPREAD_MINUTES: i32 = 1;

/// Where the chain's schedules go and what they invoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSettings {
    /// `SCHEDULE_GROUP_NAME`: the group of the one-time schedules.
    pub group: String,
    /// `SCHEDULE_ROLE_ARN`: the role Scheduler assumes to invoke the function.
    pub role_arn: String,
    /// `SCHEDULE_TARGET_ARN`: the function the schedules invoke; else the invoked function.
    pub target_arn: Option<String>,
    /// `SCHEDULE_DEAD_LETTER_ARN`: where Scheduler sends a tick it could not deliver.
    pub dead_letter_arn: Option<String>,
}

impl ChainSettings {
    /// The poll chain's settings: the group and the role together, or neither.
    pub fn read(env: &Env) -> Result<Option<Self>, Error> {
        let group = env.text(&settings::SCHEDULE_GROUP_NAME);
        let role = env.text(&settings::SCHEDULE_ROLE_ARN);
        let target = env.text(&settings::SCHEDULE_TARGET_ARN);
        let (group, role_arn) = match (group, role) {
            (None, None) => return Ok(None),
            (Some(group), Some(role)) => (group, role),
            _ => {
                return Err(Error::InvalidConfiguration(
                    "SCHEDULE_GROUP_NAME and SCHEDULE_ROLE_ARN go together: set both for poll \
                     chains, or neither"
                        .into(),
                ))
            }
        };
        let group_ok = (1..=64).contains(&group.len())
            && group
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !group_ok {
            return Err(Error::InvalidConfiguration(format!(
                "SCHEDULE_GROUP_NAME must be 1-64 characters of letters, digits, '-', '_' or '.', got {}",
                quote(&group)
            )));
        }
        if !crate::arn::is_arn_of(&role_arn, "iam", ":role/") {
            return Err(Error::InvalidConfiguration(format!(
                "SCHEDULE_ROLE_ARN must be an IAM role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME), got {}",
                quote(&role_arn)
            )));
        }
        if let Some(target) = target
            .as_deref()
            .filter(|t| !crate::arn::is_arn_of(t, "lambda", ":function:"))
        {
            return Err(Error::InvalidConfiguration(format!(
                "SCHEDULE_TARGET_ARN must be a Lambda function ARN \
                 (arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME), got {}",
                quote(target)
            )));
        }
        let dead_letter_arn = env.text(&settings::SCHEDULE_DEAD_LETTER_ARN);
        if let Some(queue) = dead_letter_arn
            .as_deref()
            .filter(|q| !crate::arn::is_arn_of(q, "sqs", ""))
        {
            return Err(Error::InvalidConfiguration(format!(
                "SCHEDULE_DEAD_LETTER_ARN must be an SQS queue ARN \
                 (arn:PARTITION:sqs:REGION:ACCOUNT:NAME), got {}",
                quote(queue)
            )));
        }
        Ok(Some(ChainSettings {
            group,
            role_arn,
            target_arn: target,
            dead_letter_arn,
        }))
    }
}

/// How long Scheduler keeps trying to deliver a tick, and how often: a poll older than five
/// minutes is stale, as the function's own asynchronous retries say (template.yaml).
const TICK_MAX_AGE_SECONDS: i32 = 300;
const TICK_RETRIES: i32 = 2;

/// Creates the next poll's schedule, with a client built at the first one.
pub struct Chain {
    config: aws_sdk_scheduler::Config,
    client: OnceLock<aws_sdk_scheduler::Client>,
    settings: ChainSettings,
}

impl Chain {
    /// A chain creating schedules as `settings` say, with this SDK configuration.
    pub fn new(config: aws_sdk_scheduler::Config, settings: ChainSettings) -> Self {
        Chain {
            config,
            client: OnceLock::new(),
            settings,
        }
    }

    /// The function the next poll invokes: `SCHEDULE_TARGET_ARN`, else the one invoked now
    /// without its qualifier (an alias or version the chain role may not invoke would make
    /// every tick fail where nobody sees it).
    pub fn target<'a>(&'a self, invoked: Option<&'a str>) -> Option<&'a str> {
        self.settings
            .target_arn
            .as_deref()
            .or(invoked.filter(|arn| !arn.is_empty()).map(unqualified))
    }

    fn client(&self) -> &aws_sdk_scheduler::Client {
        self.client
            .get_or_init(|| aws_sdk_scheduler::Client::from_conf(self.config.clone()))
    }

    /// Creates the one-time schedule of the poll after `answer`, by `deadline`. A schedule of
    /// that name already there (the same tick delivered twice) counts as created.
    pub async fn schedule_next(
        &self,
        answer: &Answer,
        target: &str,
        deadline: Instant,
    ) -> Result<NextPoll, Error> {
        let next = next_poll(answer, SystemTime::now());
        let input = serde_json::to_string(answer).map_err(|e| failed(e.to_string()))?;
        // Scheduler spreads the ticks of one minute over it instead of firing every chain at
        // its first second, where they would meet QuickSight's 10 calls a second together.
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Flexible)
            .maximum_window_in_minutes(SPREAD_MINUTES)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let retries = RetryPolicy::builder()
            .maximum_event_age_in_seconds(TICK_MAX_AGE_SECONDS)
            .maximum_retry_attempts(TICK_RETRIES)
            .build();
        let dead_letter = self
            .settings
            .dead_letter_arn
            .as_ref()
            .map(|arn| DeadLetterConfig::builder().arn(arn).build());
        let target = Target::builder()
            .arn(target)
            .role_arn(&self.settings.role_arn)
            .input(input)
            .retry_policy(retries)
            .set_dead_letter_config(dead_letter)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let request = self
            .client()
            .create_schedule()
            .name(&next.schedule_name)
            .group_name(&self.settings.group)
            .schedule_expression(at_expression(&next.at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .action_after_completion(ActionAfterCompletion::Delete)
            // A retried call with the same token is the same request, not a second schedule.
            .client_token(&next.schedule_name)
            .target(target)
            .send();
        let left = deadline.saturating_duration_since(Instant::now());
        let sent = timeout(left, request)
            .await
            .map_err(|_| failed(crate::text::no_answer_before_deadline(left)))?;
        match sent {
            Ok(_) => Ok(next),
            Err(err) if err.code() == Some("ConflictException") => {
                tracing::info!(schedule = %next.schedule_name, "next poll already scheduled");
                Ok(next)
            }
            Err(err) => Err(classify(&err)),
        }
    }
}

/// `arn:...:function:NAME` of `arn:...:function:NAME:QUALIFIER`.
fn unqualified(arn: &str) -> &str {
    match arn.match_indices(':').nth(6) {
        Some((at, _)) => &arn[..at],
        None => arn,
    }
}

fn failed(message: String) -> Error {
    Error::SchedulingFailed { message }
}

fn classify<E>(err: &SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(problem) = credentials_problem(err) {
        return credentials_error("Scheduler", "CreateSchedule", problem, err);
    }
    failed(describe_sdk_error(err))
}

/// The next poll's schedule: a name that is the same for the same tick, and the minute to run.
pub fn next_poll(answer: &Answer, now: SystemTime) -> NextPoll {
    let jobs = answer.job_arns().join("\n");
    let digest: String = Sha256::digest(jobs.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    NextPoll {
        // 1-64 characters of [0-9a-zA-Z-_.]: 5 + 32 + 1 + at most 10.
        schedule_name: format!("poll-{digest}-{}", answer.attempt()),
        at: crate::carried::rfc3339(run_at(now, answer.wait_seconds())).unwrap_or_default(),
    }
}

/// The start of the first whole minute at least `wait_seconds` (and a minute) from now: with
/// Scheduler's 60 s precision and the one-minute flexible window the poll then runs between
/// `wait_seconds` and `wait_seconds` + 179 s from now, never early.
pub fn run_at(now: SystemTime, wait_seconds: u64) -> SystemTime {
    let earliest = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .saturating_add(wait_seconds.max(PRECISION_SECONDS));
    let minute = earliest.div_ceil(PRECISION_SECONDS) * PRECISION_SECONDS;
    UNIX_EPOCH + Duration::from_secs(minute)
}

/// `at(yyyy-mm-ddThh:mm:ss)` of an RFC 3339 UTC time.
fn at_expression(rfc3339: &str) -> String {
    format!("at({})", rfc3339.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_targets_the_invoked_function_without_its_qualifier() {
        let chain = Chain::new(
            aws_sdk_scheduler::Config::builder().build(),
            ChainSettings {
                group: "polls".into(),
                role_arn: "arn:aws:iam::123456789012:role/chain".into(),
                target_arn: None,
                dead_letter_arn: None,
            },
        );
        let plain = "arn:aws:lambda:us-east-1:123456789012:function:poller";
        assert_eq!(chain.target(Some(plain)), Some(plain));
        assert_eq!(chain.target(Some(&format!("{plain}:live"))), Some(plain));
        assert_eq!(chain.target(Some(&format!("{plain}:7"))), Some(plain));
        assert_eq!(chain.target(Some("")), None);
    }
    use crate::contract::{JobInfo, PollOutput};

    fn answer(attempt: u32, wait_seconds: u64) -> Answer {
        let job = JobInfo::sample("d", "j");
        let mut output = PollOutput::new(job, attempt);
        output.wait_seconds = wait_seconds;
        Answer::Single(Box::new(output))
    }

    const NOW: u64 = 1_800_000_030; // 30 s past a whole minute

    #[test]
    fn next_poll_runs_at_the_first_whole_minute_after_the_wait() {
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let at = |wait| {
            run_at(now, wait)
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        assert_eq!(at(5), NOW - 30 + 120, "at least a minute, rounded up");
        assert_eq!(at(90), NOW - 30 + 120);
        assert_eq!(at(91), NOW - 30 + 180);
        assert_eq!(at(600), NOW - 30 + 660);
    }

    #[test]
    fn schedule_name_is_the_same_for_the_same_tick_and_fits_scheduler() {
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let first = next_poll(&answer(7, 30), now);
        let again = next_poll(&answer(7, 30), now + Duration::from_secs(5));
        let later = next_poll(&answer(8, 30), now);
        assert_eq!(first.schedule_name, again.schedule_name);
        assert_ne!(first.schedule_name, later.schedule_name);
        assert!(first.schedule_name.len() <= 64);
        assert!(first
            .schedule_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        let longest = next_poll(&answer(u32::MAX, 30), now);
        assert!(
            longest.schedule_name.len() <= 64,
            "{}",
            longest.schedule_name
        );
    }

    #[test]
    fn at_expression_is_scheduler_s_at_format() {
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let next = next_poll(&answer(1, 5), now);
        assert_eq!(next.at, "2027-01-15T08:02:00Z");
        assert_eq!(at_expression(&next.at), "at(2027-01-15T08:02:00)");
    }
}
