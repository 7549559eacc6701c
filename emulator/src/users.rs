//! Registered QuickSight users and `GetIdentityContext`
//! (`POST /accounts/{AwsAccountId}/identity-context`), as the service model defines it: a
//! `UserIdentifier` union of `UserName`, `Email` or `UserArn`, a `Namespace` required with the
//! first two, an optional `SessionExpiresAt` (epoch seconds) and `ContextRegion`. The answer's
//! `Context` is a token that names the user and expires; the emulator keeps what it issued, so
//! its STS front (`sts`) can tell which user an assumed session acts as.

use std::collections::BTreeMap;

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ids::check_account;
use crate::state::Emulator;
use crate::wire::{aws_json, epoch_now, AwsError, ErrorType, Reply, RequestId};

/// A token lives this long when the request names no `SessionExpiresAt`.
const DEFAULT_CONTEXT_SECONDS: f64 = 3600.0;

/// A user of one account and namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub email: Option<String>,
}

/// Users by account and namespace (the `default` namespace always exists), and the tokens
/// issued for them.
#[derive(Debug, Default)]
pub struct Directory {
    users: BTreeMap<(String, String), Vec<User>>,
    issued: BTreeMap<String, Issued>,
}

/// A token `GetIdentityContext` issued.
#[derive(Clone, Debug, PartialEq)]
pub struct Issued {
    pub user_arn: String,
    pub expires: f64,
}

impl Directory {
    pub fn add(&mut self, account: &str, namespace: &str, user: User) {
        self.users
            .entry((account.to_owned(), namespace.to_owned()))
            .or_default()
            .push(user);
    }

    /// Every token issued, taken out (for a reset that keeps them).
    pub fn take_issued(&mut self) -> BTreeMap<String, Issued> {
        std::mem::take(&mut self.issued)
    }

    pub fn restore_issued(&mut self, issued: BTreeMap<String, Issued>) {
        self.issued = issued;
    }

    /// What a token was issued for, if the emulator issued it.
    pub fn issued(&self, token: &str) -> Option<&Issued> {
        self.issued.get(token)
    }

    fn namespace_exists(&self, account: &str, namespace: &str) -> bool {
        namespace == "default"
            || self
                .users
                .contains_key(&(account.to_owned(), namespace.to_owned()))
    }

    fn find(&self, account: &str, namespace: &str, by: &By) -> Option<&User> {
        self.users
            .get(&(account.to_owned(), namespace.to_owned()))?
            .iter()
            .find(|user| match by {
                By::Name(name) => &user.name == name,
                By::Email(email) => user.email.as_ref() == Some(email),
            })
    }
}

/// `arn:aws:quicksight:REGION:ACCOUNT:user/NAMESPACE/NAME`.
pub fn user_arn(region: &str, account: &str, namespace: &str, name: &str) -> String {
    format!("arn:aws:quicksight:{region}:{account}:user/{namespace}/{name}")
}

enum By {
    Name(String),
    Email(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    user_identifier: Option<BTreeMap<String, Value>>,
    namespace: Option<String>,
    session_expires_at: Option<f64>,
    context_region: Option<String>,
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(ErrorType::InvalidParameterValue, message)
}

pub fn get_identity_context(
    emulator: &Emulator,
    account: &str,
    body: &[u8],
    request_id: &RequestId,
) -> Reply {
    match issue(emulator, account, body) {
        Ok(token) => aws_json(
            StatusCode::OK,
            &json!({ "Context": token, "RequestId": request_id.as_str() }),
            request_id,
        ),
        Err(error) => error.reply(request_id),
    }
}

fn issue(emulator: &Emulator, account: &str, body: &[u8]) -> Result<String, AwsError> {
    check_account(account)?;
    let request: Request = serde_json::from_slice(body).map_err(|error| {
        AwsError::new(
            ErrorType::Serialization,
            format!("The request body is not valid: {error}"),
        )
    })?;
    let identifier = request
        .user_identifier
        .ok_or_else(|| invalid("UserIdentifier is required."))?;
    let [(member, value)]: [(String, Value); 1] = identifier
        .into_iter()
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| invalid("UserIdentifier must set exactly one of UserName, Email, UserArn."))?;
    let value = value
        .as_str()
        .ok_or_else(|| invalid(format!("UserIdentifier.{member} must be a string.")))?
        .to_owned();
    if let Some(region) = &request.context_region {
        if region.split('-').count() != 3 {
            return Err(invalid(format!("ContextRegion {region} is not a region.")));
        }
    }
    let now = epoch_now();
    let expires = request
        .session_expires_at
        .unwrap_or(now + DEFAULT_CONTEXT_SECONDS);
    if expires <= now {
        return Err(invalid("SessionExpiresAt must be in the future."));
    }
    let region = emulator.region().to_owned();
    let (namespace, by) = match member.as_str() {
        "UserArn" => {
            let prefix = format!("arn:aws:quicksight:{region}:{account}:user/");
            let rest = value.strip_prefix(&prefix).ok_or_else(|| {
                invalid(format!(
                    "UserArn {value} is not a user of account {account} in {region}, where \
                     this call was made: call GetIdentityContext in the user's identity region."
                ))
            })?;
            let (namespace, name) = rest
                .split_once('/')
                .ok_or_else(|| invalid(format!("UserArn {value} is not a user ARN.")))?;
            (namespace.to_owned(), By::Name(name.to_owned()))
        }
        "UserName" | "Email" => {
            let namespace = request.namespace.clone().ok_or_else(|| {
                invalid("Namespace is required when UserIdentifier is UserName or Email.")
            })?;
            let by = if member == "UserName" {
                By::Name(value)
            } else {
                By::Email(value)
            };
            (namespace, by)
        }
        other => return Err(invalid(format!("UserIdentifier.{other} is not a member."))),
    };
    let mut state = emulator.lock();
    if !state.directory.namespace_exists(account, &namespace) {
        return Err(AwsError::new(
            ErrorType::ResourceNotFound,
            format!("Namespace {namespace} not found in account {account}."),
        ));
    }
    let user = state
        .directory
        .find(account, &namespace, &by)
        .cloned()
        .ok_or_else(|| {
            let named = match &by {
                By::Name(name) => name.clone(),
                By::Email(email) => email.clone(),
            };
            AwsError::new(
                ErrorType::ResourceNotFound,
                format!("User {named} not found in namespace {namespace}."),
            )
        })?;
    state.identity_contexts += 1;
    let token = format!(
        "qsctx.{account}.{namespace}.{}.{}.{}",
        user.name, expires as u64, state.identity_contexts
    );
    let issued = Issued {
        user_arn: user_arn(&region, account, &namespace, &user.name),
        expires,
    };
    state.directory.issued.insert(token.clone(), issued);
    Ok(token)
}
