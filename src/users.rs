//! Registered users by name: the function fetches a named user's identity context itself, with
//! QuickSight `GetIdentityContext`, so nobody carries the token. Contexts are cached per user
//! until shortly before they expire; the cache is bounded and drops expired entries.
//!
//! The call goes to the region where the user's identity lives: a `userArn`'s region, else
//! the reference's `identityRegion`, else the job's region. When that is not the job's region,
//! `ContextRegion` asks for a context usable in the job's region.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_sdk_quicksight::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_quicksight::primitives::DateTime;
use aws_sdk_quicksight::types::UserIdentifier;

use crate::contract::Caller;
use crate::error::Error;
use crate::quicksight::QuickSightClients;
use crate::reference::{JobReference, UserArn};
use crate::sdk_error::{credentials_error, credentials_problem, describe_sdk_error};
use crate::secret::Secret;
use crate::text::truncate;

const OPERATION: &str = "GetIdentityContext";
/// How long a fetched context is asked to live (`SessionExpiresAt`): as long as the role
/// session it goes into.
pub const CONTEXT_LIFETIME: Duration = Duration::from_secs(3600);
/// Contexts kept at most; past this, expired ones go first, then the soonest to expire.
const MAX_CONTEXTS: usize = 256;

/// A registered user a caller names, resolved against the job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamedUser {
    /// The account the user is in (the job's).
    pub account: String,
    /// How the user is named: `UserArn`, `UserName` or `Email`.
    pub identifier: Identifier,
    /// The namespace of a user named by name or e-mail.
    pub namespace: Option<String>,
    /// Where the user's identity lives: where `GetIdentityContext` is called.
    pub identity_region: String,
    /// Where the context is used: the job's region.
    pub context_region: String,
}

/// QuickSight's `UserIdentifier`, owned and hashable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// A QuickSight user ARN.
    Arn(String),
    /// A user name in a namespace.
    Name(String),
    /// An e-mail address in a namespace.
    Email(String),
}

impl NamedUser {
    /// The user `caller` names for `job`, if it names one.
    pub fn of(caller: &Caller, job: &JobReference) -> Option<NamedUser> {
        let (identifier, namespace, identity_region) = if let Some(arn) = &caller.user_arn {
            let region = UserArn::parse(arn).map_or(job.region.as_str(), |u| u.region);
            (Identifier::Arn(arn.clone()), None, region.to_owned())
        } else {
            let identifier = match (&caller.user_name, &caller.email) {
                (Some(name), _) => Identifier::Name(name.clone()),
                (None, Some(email)) => Identifier::Email(email.clone()),
                (None, None) => return None,
            };
            let namespace = caller.namespace.clone().unwrap_or_else(|| "default".into());
            let region = caller.identity_region.as_deref().unwrap_or(&job.region);
            (identifier, Some(namespace), region.to_owned())
        };
        Some(NamedUser {
            account: job.account.clone(),
            identifier,
            namespace,
            identity_region,
            context_region: job.region.clone(),
        })
    }

    /// The user as messages name it (a user name or e-mail is no secret; it is bounded).
    pub fn describe(&self) -> String {
        let named = match &self.identifier {
            Identifier::Arn(arn) => return truncate(arn, 300).into_owned(),
            Identifier::Name(name) => format!("user {name}"),
            Identifier::Email(email) => format!("user {email}"),
        };
        let namespace = self.namespace.as_deref().unwrap_or("default");
        truncate(&format!("{named} (namespace {namespace})"), 300).into_owned()
    }
}

/// An identity context and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityContext {
    /// The token for STS `ProvidedContexts`.
    pub token: Secret,
    /// When it expires (the `SessionExpiresAt` asked for).
    pub expires: SystemTime,
}

/// Fetches and keeps named users' identity contexts for the life of the environment.
#[derive(Default)]
pub struct IdentityContexts {
    cache: Mutex<HashMap<NamedUser, IdentityContext>>,
}

impl IdentityContexts {
    /// `user`'s context with more than `renew_before` left: cached, or fetched now with the
    /// function's own credentials in the user's identity region.
    pub async fn get(
        &self,
        quicksight: &QuickSightClients,
        user: &NamedUser,
        renew_before: Duration,
    ) -> Result<IdentityContext, Error> {
        let now = SystemTime::now();
        if let Some(cached) = self
            .lock()
            .get(user)
            .filter(|c| c.expires > now + renew_before)
        {
            return Ok(cached.clone());
        }
        let fetched = fetch(quicksight, user, now).await?;
        let mut cache = self.lock();
        make_room(&mut cache, now + renew_before, |c| c.expires, MAX_CONTEXTS);
        cache.insert(user.clone(), fetched.clone());
        Ok(fetched)
    }

    /// Drops `user`'s context (STS would not take it), so the next poll fetches a new one.
    pub fn forget(&self, user: &NamedUser) {
        self.lock().remove(user);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NamedUser, IdentityContext>> {
        // A poisoned lock only means another poll panicked mid-insert; the map is still usable.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Makes room for one more entry: drops every entry stale by `stale_at`, then, if the map is
/// still full, the one that expires first.
pub fn make_room<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    stale_at: SystemTime,
    expiry: impl Fn(&V) -> SystemTime,
    max: usize,
) {
    map.retain(|_, value| expiry(value) > stale_at);
    while map.len() >= max {
        let Some(first) = map
            .iter()
            .min_by_key(|(_, value)| expiry(value))
            .map(|(key, _)| key.clone())
        else {
            break;
        };
        map.remove(&first);
    }
}

/// Asks QuickSight for `user`'s identity context, to live [`CONTEXT_LIFETIME`].
async fn fetch(
    quicksight: &QuickSightClients,
    user: &NamedUser,
    now: SystemTime,
) -> Result<IdentityContext, Error> {
    let expires = now + CONTEXT_LIFETIME;
    let identifier = match &user.identifier {
        Identifier::Arn(arn) => UserIdentifier::UserArn(arn.clone()),
        Identifier::Name(name) => UserIdentifier::UserName(name.clone()),
        Identifier::Email(email) => UserIdentifier::Email(email.clone()),
    };
    let cross_region = user.identity_region != user.context_region;
    let answer = quicksight
        .for_region(&user.identity_region)
        .get_identity_context()
        .aws_account_id(&user.account)
        .user_identifier(identifier)
        .set_namespace(user.namespace.clone())
        .session_expires_at(DateTime::from(expires))
        .set_context_region(cross_region.then(|| user.context_region.clone()))
        .send()
        .await
        .map_err(|err| classify(user, &err))?;
    let token = answer
        .context()
        .filter(|token| !token.is_empty())
        .ok_or_else(|| Error::QuickSightUnavailable {
            operation: OPERATION,
            message: "the response has no Context".into(),
        })?;
    Ok(IdentityContext {
        token: Secret::new(token),
        expires,
    })
}

/// Sorts a failed `GetIdentityContext`: the function's own credentials, throttling, a refusal
/// no retry changes (an unknown user or namespace, a user QuickSight issues no context for,
/// or a function not allowed to ask), or QuickSight unavailable.
fn classify<E>(user: &NamedUser, err: &SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(problem) = credentials_problem(err) {
        return credentials_error("QuickSight", OPERATION, problem, err);
    }
    let message = describe_sdk_error(err);
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().unwrap_or_default();
    if status == Some(429) || matches!(code, "ThrottlingException" | "Throttling") {
        return Error::QuickSightThrottled {
            operation: OPERATION,
            message,
        };
    }
    let refused = matches!(err, SdkError::ServiceError(_))
        && status.is_some_and(|s| (400..500).contains(&s))
        && !crate::sdk_error::is_request_timeout(Some(code));
    if refused {
        Error::IdentityRefused {
            user: user.describe(),
            message,
        }
    } else {
        Error::QuickSightUnavailable {
            operation: OPERATION,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> JobReference {
        JobReference {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            dashboard: "sales".into(),
            job: "daily".into(),
        }
    }

    fn caller() -> Caller {
        Caller {
            role_arn: "arn:aws:iam::123456789012:role/exporter".into(),
            user_arn: None,
            user_name: None,
            email: None,
            namespace: None,
            identity_region: None,
            withheld: Vec::new(),
        }
    }

    #[test]
    fn a_user_arn_names_its_identity_region_and_namespace() {
        let caller = Caller {
            user_arn: Some("arn:aws:quicksight:us-east-1:123456789012:user/tenants/ana".into()),
            ..caller()
        };
        let user = NamedUser::of(&caller, &job()).expect("a user");
        assert_eq!(user.identity_region, "us-east-1");
        assert_eq!(user.context_region, "eu-west-1");
        assert_eq!(user.namespace, None, "the ARN carries it");
    }

    #[test]
    fn a_user_name_is_in_the_default_namespace_and_the_jobs_region_unless_told() {
        let by_name = Caller {
            user_name: Some("ana".into()),
            ..caller()
        };
        let user = NamedUser::of(&by_name, &job()).expect("a user");
        assert_eq!(user.namespace.as_deref(), Some("default"));
        assert_eq!(user.identity_region, "eu-west-1");
        let elsewhere = Caller {
            email: Some("ana@example.com".into()),
            namespace: Some("tenants".into()),
            identity_region: Some("us-east-1".into()),
            ..caller()
        };
        let user = NamedUser::of(&elsewhere, &job()).expect("a user");
        assert_eq!(user.identifier, Identifier::Email("ana@example.com".into()));
        assert_eq!(user.identity_region, "us-east-1");
        assert_eq!(NamedUser::of(&caller(), &job()), None);
    }

    #[test]
    fn making_room_drops_stale_entries_then_the_soonest_to_expire() {
        let now = SystemTime::now();
        let at = |s: u64| now + Duration::from_secs(s);
        let mut map: HashMap<u32, SystemTime> =
            [(1, at(10)), (2, at(500)), (3, at(900)), (4, at(700))].into();
        make_room(&mut map, at(60), |v| *v, 4);
        assert!(!map.contains_key(&1), "stale");
        assert_eq!(map.len(), 3, "room was there once the stale one went");
        make_room(&mut map, at(60), |v| *v, 3);
        assert_eq!(map.len(), 2);
        assert!(!map.contains_key(&2), "the soonest to expire went");
    }
}
