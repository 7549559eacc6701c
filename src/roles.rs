//! Polling as another identity: credentials from STS `AssumeRole` for a job's [`Caller`] (a
//! role in another account, or an identity-enhanced session for a registered user's job, with
//! its identity context in `ProvidedContexts`), cached per caller until shortly before they
//! expire. The session name names the job, so CloudTrail shows which job a call was for.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::types::ProvidedContext;

use crate::contract::{Caller, IdentityProvider};
use crate::error::{credentials_error, credentials_problem, describe_sdk_error, Error};
use crate::reference::JobReference;
use crate::text::truncate;

/// Credentials this close to their expiry are renewed before a call, not used for it.
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// How long the assumed credentials live (STS: 900 s at least; a role's maximum may be lower
/// than an hour only if someone lowered it below the default).
const SESSION_SECONDS: i32 = 3600;
/// STS errors that mean "try again later"; any other refusal is the caller's to fix.
const TRANSIENT: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "IDPCommunicationError",
    "ServiceUnavailable",
    "InternalFailure",
];

/// Assumes the roles jobs name, keeping their credentials for the life of the environment.
pub struct Roles {
    config: aws_sdk_sts::Config,
    client: OnceLock<aws_sdk_sts::Client>,
    cache: Mutex<HashMap<Caller, Credentials>>,
}

impl Roles {
    /// Assumes roles with this STS configuration (the function's own credentials); the client
    /// is built at the first `AssumeRole`.
    pub fn new(config: aws_sdk_sts::Config) -> Self {
        Roles {
            config,
            client: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self) -> &aws_sdk_sts::Client {
        self.client
            .get_or_init(|| aws_sdk_sts::Client::from_conf(self.config.clone()))
    }

    /// Credentials of `caller` for `job`'s calls: cached ones with more than five minutes
    /// left, else a new session.
    pub async fn credentials(
        &self,
        caller: &Caller,
        job: &JobReference,
    ) -> Result<Credentials, Error> {
        let now = SystemTime::now();
        if let Some(cached) = self
            .lock()
            .get(caller)
            .filter(|c| c.expiry().is_some_and(|at| at > now + RENEW_BEFORE))
        {
            return Ok(cached.clone());
        }
        let credentials = self.assume(caller, job).await?;
        self.lock().insert(caller.clone(), credentials.clone());
        Ok(credentials)
    }

    /// Drops `caller`'s credentials (QuickSight refused them: expired or revoked), so the
    /// next poll assumes the role again.
    pub fn forget(&self, caller: &Caller) {
        self.lock().remove(caller);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Caller, Credentials>> {
        // A poisoned lock only means another poll panicked mid-insert; the map is still usable.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn assume(&self, caller: &Caller, job: &JobReference) -> Result<Credentials, Error> {
        let mut request = self
            .client()
            .assume_role()
            .role_arn(&caller.role_arn)
            .role_session_name(session_name(job))
            .duration_seconds(SESSION_SECONDS)
            .set_external_id(caller.external_id.clone());
        if let Some(context) = &caller.identity_context {
            let provider = caller
                .identity_provider
                .unwrap_or(IdentityProvider::IdentityCenter);
            request = request.provided_contexts(
                ProvidedContext::builder()
                    .provider_arn(provider_arn(provider, &job.partition))
                    .context_assertion(context)
                    .build(),
            );
        }
        let answer = request.send().await.map_err(|err| classify(caller, &err))?;
        let Some(issued) = answer.credentials() else {
            return Err(Error::RoleUnavailable {
                role_arn: caller.role_arn.clone(),
                message: "STS answered without credentials".into(),
            });
        };
        let expiry = SystemTime::try_from(*issued.expiration()).ok();
        Ok(Credentials::new(
            issued.access_key_id(),
            issued.secret_access_key(),
            Some(issued.session_token().to_owned()),
            expiry,
            "AssumeRole",
        ))
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

/// Sorts a failed `AssumeRole`: the function's own credentials, a refusal no retry changes
/// (the role does not trust this function, a wrong external id, a malformed or expired
/// context), or a transient failure.
fn classify<E>(caller: &Caller, err: &SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(problem) = credentials_problem(err) {
        return credentials_error("STS", "AssumeRole", problem, err);
    }
    let message = describe_sdk_error(err);
    let role_arn = caller.role_arn.clone();
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
