//! Polling as another identity: credentials from STS `AssumeRole` for a job's [`Caller`] (a
//! role in another account, or an identity-enhanced session for a registered user's job, with
//! the user's identity context in `ProvidedContexts`).
//!
//! A named user's context is fetched by the function itself (`users`); a caller-supplied
//! token serves the invocation that received it. Sessions are cached per role, user and job
//! until five minutes before they (or their context) expire, then renewed, context included,
//! so a loop of many hours keeps working. The session name names the job, for every job, so
//! CloudTrail shows which job a call was for. The cache is bounded and drops expired entries.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::types::ProvidedContext;
use sha2::{Digest, Sha256};

use crate::callers::CallerPolicy;
use crate::contract::Caller;
use crate::error::Error;
use crate::quicksight::QuickSightClients;
use crate::reference::{CallerSecrets, IdentityProvider, JobReference, PollRequest};
use crate::sdk_error::{credentials_error, credentials_problem, describe_sdk_error};
use crate::secret::Secret;
use crate::text::truncate;
use crate::users::{make_room, IdentityContexts, NamedUser};

/// Credentials this close to their expiry are renewed before a call, not used for it.
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// How long the assumed credentials live (STS: 900 s at least; a role's maximum may be lower
/// than an hour only if someone lowered it below the default).
const SESSION_SECONDS: i32 = 3600;
/// Sessions kept at most: one per role, user and job polled within the hour.
const MAX_SESSIONS: usize = 256;
/// STS errors that mean "try again later"; any other refusal is the caller's to fix.
const TRANSIENT: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "IDPCommunicationError",
    "ServiceUnavailable",
    "InternalFailure",
];
/// How STS refuses a context assertion that is expired or malformed (not the function's own
/// credentials, although some of these codes say "token").
const CONTEXT_REFUSED: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidIdentityToken",
    "InvalidParameterValue",
    "PackedPolicyTooLarge",
];

/// Whom a session is for: the role, the user (or a hash of a caller-supplied token and
/// external id, never the values), and the job its name names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SessionKey {
    role_arn: String,
    user: Option<NamedUser>,
    given: [u8; 32],
    job: String,
}

/// The identity context a session carries, if any.
enum Context {
    None,
    Given(Secret, IdentityProvider),
    Named(NamedUser, Secret),
}

/// Assumes the roles jobs name, keeping their sessions for the life of the environment.
pub struct Roles {
    config: aws_sdk_sts::Config,
    client: OnceLock<aws_sdk_sts::Client>,
    contexts: IdentityContexts,
    sessions: Mutex<HashMap<SessionKey, Credentials>>,
}

/// Everything a session needs besides the job.
pub struct Assume<'a> {
    /// The role (and user) to poll as.
    pub caller: &'a Caller,
    /// What the input gave for this invocation only.
    pub secrets: &'a CallerSecrets,
    /// The role's external id: the input's, else `ROLE_EXTERNAL_IDS`'.
    pub external_id: Option<&'a Secret>,
}

impl<'a> Assume<'a> {
    /// What polling `request` as its caller needs, or None when it names no caller.
    pub fn of(request: &'a PollRequest, policy: &'a CallerPolicy) -> Option<Self> {
        Some(Assume {
            caller: request.caller.as_ref()?,
            secrets: &request.secrets,
            external_id: policy.external_id(request),
        })
    }
}

impl Roles {
    /// Assumes roles with this STS configuration (the function's own credentials); the client
    /// is built at the first `AssumeRole`.
    pub fn new(config: aws_sdk_sts::Config) -> Self {
        Roles {
            config,
            client: OnceLock::new(),
            contexts: IdentityContexts::default(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self) -> &aws_sdk_sts::Client {
        self.client
            .get_or_init(|| aws_sdk_sts::Client::from_conf(self.config.clone()))
    }

    /// Credentials for `job`'s calls as `assume` says: a cached session with more than five
    /// minutes left, else a new one (with a fresh identity context for a named user).
    pub async fn credentials(
        &self,
        assume: &Assume<'_>,
        job: &JobReference,
        quicksight: &QuickSightClients,
    ) -> Result<Credentials, Error> {
        let key = session_key(assume, job);
        let now = SystemTime::now();
        if let Some(cached) = self
            .lock()
            .get(&key)
            .filter(|c| c.expiry().is_some_and(|at| at > now + RENEW_BEFORE))
        {
            return Ok(cached.clone());
        }
        let (context, context_expires) = match (&key.user, &assume.secrets.identity_context) {
            (Some(user), _) => {
                let fetched = self.contexts.get(quicksight, user, RENEW_BEFORE).await?;
                (
                    Context::Named(user.clone(), fetched.token),
                    Some(fetched.expires),
                )
            }
            (None, Some(token)) => (
                Context::Given(token.clone(), assume.secrets.identity_provider),
                None,
            ),
            (None, None) => (Context::None, None),
        };
        let credentials = self.assume(assume, &context, job, context_expires).await?;
        let mut sessions = self.lock();
        make_room(
            &mut sessions,
            now + RENEW_BEFORE,
            |c| c.expiry().unwrap_or(now),
            MAX_SESSIONS,
        );
        sessions.insert(key, credentials.clone());
        Ok(credentials)
    }

    /// Drops the session (QuickSight refused it: expired or revoked) and its user's context,
    /// so the next poll assumes the role afresh.
    pub fn forget(&self, assume: &Assume<'_>, job: &JobReference) {
        let key = session_key(assume, job);
        if let Some(user) = &key.user {
            self.contexts.forget(user);
        }
        self.lock().remove(&key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, Credentials>> {
        // A poisoned lock only means another poll panicked mid-insert; the map is still usable.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn assume(
        &self,
        assume: &Assume<'_>,
        context: &Context,
        job: &JobReference,
        context_expires: Option<SystemTime>,
    ) -> Result<Credentials, Error> {
        let caller = assume.caller;
        let mut request = self
            .client()
            .assume_role()
            .role_arn(&caller.role_arn)
            .role_session_name(session_name(job))
            .duration_seconds(SESSION_SECONDS)
            .set_external_id(assume.external_id.map(|id| id.expose().to_owned()));
        let provided = match context {
            Context::None => None,
            Context::Given(token, provider) => Some((token, *provider)),
            Context::Named(_, token) => Some((token, IdentityProvider::QuickSight)),
        };
        if let Some((token, provider)) = provided {
            request = request.provided_contexts(
                ProvidedContext::builder()
                    .provider_arn(provider_arn(provider, &job.partition))
                    .context_assertion(token.expose())
                    .build(),
            );
        }
        let answer = request
            .send()
            .await
            .map_err(|err| self.classify(caller, context, &err))?;
        let Some(issued) = answer.credentials() else {
            return Err(Error::RoleUnavailable {
                role_arn: caller.role_arn.clone(),
                message: "STS answered without credentials".into(),
            });
        };
        // A session with a context is good only as long as its context.
        let expiry = SystemTime::try_from(*issued.expiration())
            .ok()
            .map(|at| context_expires.map_or(at, |context| at.min(context)));
        Ok(Credentials::new(
            issued.access_key_id(),
            issued.secret_access_key(),
            Some(issued.session_token().to_owned()),
            expiry,
            "AssumeRole",
        ))
    }

    /// Sorts a failed `AssumeRole`: a context STS would not take (a caller's token: refused;
    /// a fetched one: fetched again on the retry), the function's own credentials, a refusal
    /// no retry changes (the role does not trust this function, a wrong external id), or a
    /// transient failure.
    fn classify<E>(&self, caller: &Caller, context: &Context, err: &SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let role_arn = caller.role_arn.clone();
        let context_refused = err.code().is_some_and(|c| CONTEXT_REFUSED.contains(&c));
        match context {
            Context::Given(..) if context_refused => {
                return Error::RoleRefused {
                    role_arn,
                    message: format!(
                        "{} (the identityContext given is expired or malformed: name the user \
                         instead, and the function fetches a fresh one)",
                        describe_sdk_error(err)
                    ),
                }
            }
            Context::Named(user, _) if context_refused => {
                self.contexts.forget(user);
                return Error::RoleUnavailable {
                    role_arn,
                    message: format!(
                        "{} (the identity context of {} is fetched again on the next attempt)",
                        describe_sdk_error(err),
                        user.describe()
                    ),
                };
            }
            _ => {}
        }
        if let Some(problem) = credentials_problem(err) {
            return credentials_error("STS", "AssumeRole", problem, err);
        }
        let message = describe_sdk_error(err);
        let status = err.raw_response().map(|r| r.status().as_u16());
        let refused = matches!(err, SdkError::ServiceError(_))
            && status.is_some_and(|s| (400..500).contains(&s))
            && !err.code().is_some_and(|code| TRANSIENT.contains(&code));
        if refused {
            Error::RoleRefused { role_arn, message }
        } else {
            Error::RoleUnavailable { role_arn, message }
        }
    }
}

fn session_key(assume: &Assume<'_>, job: &JobReference) -> SessionKey {
    // A caller's token and external id key the session by their digest alone.
    let mut digest = Sha256::new();
    for secret in [assume.secrets.identity_context.as_ref(), assume.external_id] {
        digest.update(secret.map_or("", Secret::expose).as_bytes());
        digest.update([0]);
    }
    SessionKey {
        role_arn: assume.caller.role_arn.clone(),
        user: NamedUser::of(assume.caller, job),
        given: digest.finalize().into(),
        job: job.arn(),
    }
}

/// `qsp-DASHBOARD-JOB`, cut to the 64 characters STS allows (ids are letters, digits, '_' and
/// '-' by validation, all allowed in a session name).
pub fn session_name(job: &JobReference) -> String {
    truncate(&format!("qsp-{}-{}", job.dashboard, job.job), 64).into_owned()
}

/// `ProvidedContexts[].ProviderArn` of an identity context's issuer.
pub fn provider_arn(provider: IdentityProvider, partition: &str) -> String {
    let name = match provider {
        IdentityProvider::IdentityCenter => "IdentityCenter",
        IdentityProvider::QuickSight => "QuickSight",
    };
    format!("arn:{partition}:iam::aws:contextProvider/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(dashboard: &str, id: &str) -> JobReference {
        JobReference {
            partition: "aws-us-gov".into(),
            region: "us-gov-west-1".into(),
            account: "123456789012".into(),
            dashboard: dashboard.into(),
            job: id.into(),
        }
    }

    #[test]
    fn session_name_names_the_job_within_sts_limits() {
        assert_eq!(session_name(&job("sales", "daily-1")), "qsp-sales-daily-1");
        let long = session_name(&job(&"d".repeat(200), &"j".repeat(200)));
        assert_eq!(long.len(), 64);
        assert!(long
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)));
    }

    #[test]
    fn provider_arn_is_in_the_jobs_partition() {
        assert_eq!(
            provider_arn(IdentityProvider::IdentityCenter, "aws"),
            "arn:aws:iam::aws:contextProvider/IdentityCenter"
        );
        assert_eq!(
            provider_arn(IdentityProvider::QuickSight, "aws-us-gov"),
            "arn:aws-us-gov:iam::aws:contextProvider/QuickSight"
        );
    }
}
