//! Whom to poll a job as, at the top of any input shape or in the `caller` object of the
//! poller's previous output: `roleArn`, with a registered user named by `userArn`, or
//! `userName` / `email` with `namespace` (and `identityRegion`), and `externalId`.
//!
//! A caller-supplied `identityContext` (a token) and `externalId` are read into
//! [`CallerSecrets`], which serve this invocation only: the [`Caller`] that outputs carry names
//! them in `withheld`, never their values, and no message here quotes them.

use serde_json::{Map, Value};

use super::fields::{kind_of, quoted, Fields};
use crate::contract::{Caller, Withheld};
use crate::error::Error;
use crate::secret::Secret;

/// The issuer of a caller-supplied identity context, as STS names it in
/// `ProvidedContexts[].ProviderArn`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum IdentityProvider {
    /// `arn:PARTITION:iam::aws:contextProvider/IdentityCenter`: an IAM Identity Center user.
    #[default]
    IdentityCenter,
    /// `arn:PARTITION:iam::aws:contextProvider/QuickSight`: a QuickSight native, federated or
    /// Active Directory user (the token of QuickSight's GetIdentityContext).
    QuickSight,
}

/// What an input gave for this invocation only: never carried, logged or published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerSecrets {
    /// A caller-supplied identity token for STS `ProvidedContexts`.
    pub identity_context: Option<Secret>,
    /// Who issued `identity_context`.
    pub identity_provider: IdentityProvider,
    /// The role's `sts:ExternalId`.
    pub external_id: Option<Secret>,
}

/// The caller a reference names, if any, with what it gave for this invocation only.
pub(super) fn read(
    object: &Map<String, Value>,
    prefix: &str,
) -> Result<Option<(Caller, CallerSecrets)>, Error> {
    let (object, prefix) = match object.get("caller") {
        Some(Value::Object(caller)) => (caller, format!("{prefix}caller.")),
        None | Some(Value::Null) => (object, prefix.to_owned()),
        Some(_) => {
            return Err(Error::invalid(format!(
                "{prefix}caller must be an object or null"
            )))
        }
    };
    let fields = Fields {
        object,
        prefix: &prefix,
    };
    let given = Given::read(&fields)?;
    let Some(role_arn) = given.role_arn else {
        if let Some(name) = given.first_named() {
            return Err(Error::invalid(format!(
                "{prefix}{name} needs {prefix}roleArn, the role to assume"
            )));
        }
        return Ok(None);
    };
    if !is_role_arn(role_arn) {
        return Err(Error::invalid(format!(
            "{prefix}roleArn must be an IAM role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME), got {}",
            quoted(role_arn)
        )));
    }
    given.check_user(&prefix)?;
    let secrets = given.secrets(&prefix)?;
    let mut withheld = read_withheld(object, &prefix)?;
    for (field, present) in [
        (
            Withheld::IdentityContext,
            secrets.identity_context.is_some(),
        ),
        (Withheld::ExternalId, secrets.external_id.is_some()),
    ] {
        if present && !withheld.contains(&field) {
            withheld.push(field);
        }
    }
    let caller = Caller {
        role_arn: role_arn.to_owned(),
        user_arn: given.user_arn.map(str::to_owned),
        user_name: given.user_name.map(str::to_owned),
        email: given.email.map(str::to_owned),
        namespace: given.namespace.map(str::to_owned),
        identity_region: given.identity_region.map(str::to_owned),
        withheld,
    };
    Ok(Some((caller, secrets)))
}

/// The caller fields as the input spelled them.
struct Given<'a> {
    role_arn: Option<&'a str>,
    user_arn: Option<&'a str>,
    user_name: Option<&'a str>,
    email: Option<&'a str>,
    namespace: Option<&'a str>,
    identity_region: Option<&'a str>,
    context: Option<&'a str>,
    provider: Option<&'a str>,
    external_id: Option<&'a str>,
}

impl<'a> Given<'a> {
    fn read(fields: &Fields<'a>) -> Result<Self, Error> {
        Ok(Given {
            role_arn: fields.string(&["roleArn", "RoleArn"])?,
            user_arn: fields.string(&["userArn", "UserArn"])?,
            user_name: fields.string(&["userName", "UserName"])?,
            email: fields.string(&["email", "Email"])?,
            namespace: fields.string(&["namespace", "Namespace"])?,
            identity_region: fields.string(&["identityRegion", "IdentityRegion"])?,
            context: fields.string(&["identityContext", "IdentityContext"])?,
            provider: fields.string(&["identityProvider", "IdentityProvider"])?,
            external_id: fields.string(&["externalId", "ExternalId"])?,
        })
    }

    /// The first field given that needs a role.
    fn first_named(&self) -> Option<&'static str> {
        [
            ("userArn", self.user_arn.is_some()),
            ("userName", self.user_name.is_some()),
            ("email", self.email.is_some()),
            ("identityContext", self.context.is_some()),
            ("identityProvider", self.provider.is_some()),
            ("externalId", self.external_id.is_some()),
        ]
        .iter()
        .find_map(|(name, given)| given.then_some(*name))
    }

    /// One user at most, by one identifier, each well formed.
    fn check_user(&self, prefix: &str) -> Result<(), Error> {
        let named: Vec<&str> = [
            ("userArn", self.user_arn),
            ("userName", self.user_name),
            ("email", self.email),
        ]
        .iter()
        .filter_map(|(name, value)| value.map(|_| *name))
        .collect();
        if named.len() > 1 {
            return Err(Error::invalid(format!(
                "{prefix}{} and {prefix}{} both name a user: give one",
                named[0], named[1]
            )));
        }
        if !named.is_empty() && self.context.is_some() {
            return Err(Error::invalid(format!(
                "{prefix}identityContext and {prefix}{} both say whom to poll as: name the user \
                 alone (the function fetches the user's identity context itself)",
                named[0]
            )));
        }
        self.check_user_values(prefix)
    }

    /// Each field that names a user holds what QuickSight accepts, and goes with its partners.
    fn check_user_values(&self, prefix: &str) -> Result<(), Error> {
        if let Some(arn) = self.user_arn.filter(|arn| !is_user_arn(arn)) {
            return Err(Error::invalid(format!(
                "{prefix}userArn must be a QuickSight user ARN \
                 (arn:PARTITION:quicksight:REGION:ACCOUNT:user/NAMESPACE/NAME), got {}",
                quoted(arn)
            )));
        }
        if let Some(name) = self.user_name.filter(|n| !is_user_name(n)) {
            return Err(Error::invalid(format!(
                "{prefix}userName must be 1-256 characters without control characters, got {}",
                quoted(name)
            )));
        }
        if let Some(email) = self.email.filter(|e| !is_email(e)) {
            return Err(Error::invalid(format!(
                "{prefix}email must be an e-mail address (1-320 characters with an @, no spaces), got {}",
                quoted(email)
            )));
        }
        let by_name = self.user_name.is_some() || self.email.is_some();
        for (field, value) in [
            ("namespace", self.namespace),
            ("identityRegion", self.identity_region),
        ] {
            if value.is_some() && !by_name {
                return Err(Error::invalid(format!(
                    "{prefix}{field} goes with {prefix}userName or {prefix}email (a userArn \
                     names its own namespace and region)"
                )));
            }
        }
        if let Some(namespace) = self.namespace.filter(|n| !is_namespace(n)) {
            return Err(Error::invalid(format!(
                "{prefix}namespace must be 1-64 letters, digits, '.', '_' or '-', got {}",
                quoted(namespace)
            )));
        }
        if let Some(region) = self
            .identity_region
            .filter(|r| !crate::arn::is_valid_region(r))
        {
            return Err(Error::invalid(format!(
                "{prefix}identityRegion must be an AWS region, got {}",
                quoted(region)
            )));
        }
        Ok(())
    }

    /// The identity context and external id, checked without quoting them.
    fn secrets(&self, prefix: &str) -> Result<CallerSecrets, Error> {
        if let Some(context) = self
            .context
            .filter(|c| !(4..=2048).contains(&c.chars().count()))
        {
            return Err(Error::invalid(format!(
                "{prefix}identityContext must be 4-2048 characters (STS ContextAssertion), got {}",
                context.chars().count()
            )));
        }
        let identity_provider = match self.provider {
            None => IdentityProvider::default(),
            Some(_) if self.context.is_none() => {
                return Err(Error::invalid(format!(
                    "{prefix}identityProvider needs {prefix}identityContext"
                )))
            }
            Some("IdentityCenter") => IdentityProvider::IdentityCenter,
            Some("QuickSight") => IdentityProvider::QuickSight,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "{prefix}identityProvider must be IdentityCenter or QuickSight, got {}",
                    quoted(other)
                )))
            }
        };
        if let Some(id) = self.external_id.filter(|id| !is_external_id(id)) {
            return Err(Error::invalid(format!(
                "{prefix}externalId must be 2-1224 characters of letters, digits and +=,.@:/-_ \
                 (got {} characters)",
                id.chars().count()
            )));
        }
        Ok(CallerSecrets {
            identity_context: self.context.map(Secret::new),
            identity_provider,
            external_id: self.external_id.map(Secret::new),
        })
    }
}

/// `withheld` of a previous output: the names of fields it did not carry.
fn read_withheld(object: &Map<String, Value>, prefix: &str) -> Result<Vec<Withheld>, Error> {
    let items = match object.get("withheld") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(Error::invalid(format!(
                "{prefix}withheld must be an array, got {}",
                kind_of(other)
            )))
        }
    };
    items
        .iter()
        .map(|item| match item.as_str() {
            Some("identityContext") => Ok(Withheld::IdentityContext),
            Some("externalId") => Ok(Withheld::ExternalId),
            _ => Err(Error::invalid(format!(
                "{prefix}withheld may hold \"identityContext\" and \"externalId\" only"
            ))),
        })
        .collect()
}

/// `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`.
pub(crate) fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "iam", "", account, resource]
            if crate::arn::is_known_partition(partition)
                && crate::arn::is_account_id(account)
                && resource.strip_prefix("role/").is_some_and(|name| {
                    (1..=512).contains(&name.len())
                        && name.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b)
                        })
                })
    )
}

/// The parts of `arn:PARTITION:quicksight:REGION:ACCOUNT:user/NAMESPACE/NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserArn<'a> {
    /// The partition.
    pub partition: &'a str,
    /// The user's identity region.
    pub region: &'a str,
    /// The account the user is in.
    pub account: &'a str,
    /// The user's namespace.
    pub namespace: &'a str,
    /// The user's name.
    pub name: &'a str,
}

impl<'a> UserArn<'a> {
    /// Splits a QuickSight user ARN; None when it is not one.
    pub fn parse(arn: &'a str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", partition, "quicksight", region, account, resource] = parts.as_slice() else {
            return None;
        };
        let (namespace, name) = resource.strip_prefix("user/")?.split_once('/')?;
        let valid = crate::arn::is_known_partition(partition)
            && crate::arn::is_valid_region(region)
            && crate::arn::is_account_id(account)
            && is_namespace(namespace)
            && is_user_name(name);
        valid.then_some(UserArn {
            partition,
            region,
            account,
            namespace,
            name,
        })
    }
}

fn is_user_arn(arn: &str) -> bool {
    UserArn::parse(arn).is_some()
}

fn is_user_name(name: &str) -> bool {
    (1..=256).contains(&name.chars().count()) && !name.chars().any(char::is_control)
}

fn is_email(email: &str) -> bool {
    (3..=320).contains(&email.chars().count())
        && email.contains('@')
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
}

pub(crate) fn is_namespace(namespace: &str) -> bool {
    (1..=64).contains(&namespace.len())
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn is_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b))
}
