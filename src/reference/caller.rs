//! Whom to poll a job as: `roleArn`, with `identityContext` (and `identityProvider`) for a
//! registered user's job, and `externalId`, at the top of any input shape or in the `caller`
//! object of the poller's previous output. An identity context is a credential: no message here
//! quotes it.

use serde_json::{Map, Value};

use super::fields::{quoted, Fields};
use crate::contract::{Caller, IdentityProvider};
use crate::error::Error;

/// The caller a reference names, if any.
pub(super) fn read(object: &Map<String, Value>, prefix: &str) -> Result<Option<Caller>, Error> {
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
    let role_arn = fields.string(&["roleArn", "RoleArn"])?;
    let context = fields.string(&["identityContext", "IdentityContext"])?;
    let provider = fields.string(&["identityProvider", "IdentityProvider"])?;
    let external_id = fields.string(&["externalId", "ExternalId"])?;
    let Some(role_arn) = role_arn else {
        if let Some(name) = [
            ("identityContext", context.is_some()),
            ("identityProvider", provider.is_some()),
            ("externalId", external_id.is_some()),
        ]
        .iter()
        .find_map(|(name, given)| given.then_some(name))
        {
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
    if let Some(context) = context.filter(|c| !(4..=2048).contains(&c.chars().count())) {
        // A credential: its length is named, never its text.
        return Err(Error::invalid(format!(
            "{prefix}identityContext must be 4-2048 characters (STS ContextAssertion), got {}",
            context.chars().count()
        )));
    }
    let identity_provider = match provider {
        None => None,
        Some(_) if context.is_none() => {
            return Err(Error::invalid(format!(
                "{prefix}identityProvider needs {prefix}identityContext"
            )))
        }
        Some("IdentityCenter") => Some(IdentityProvider::IdentityCenter),
        Some("QuickSight") => Some(IdentityProvider::QuickSight),
        Some(other) => {
            return Err(Error::invalid(format!(
                "{prefix}identityProvider must be IdentityCenter or QuickSight, got {}",
                quoted(other)
            )))
        }
    };
    if let Some(id) = external_id.filter(|id| !is_external_id(id)) {
        return Err(Error::invalid(format!(
            "{prefix}externalId must be 2-1224 characters of letters, digits and +=,.@:/-, got {}",
            quoted(id)
        )));
    }
    Ok(Some(Caller {
        role_arn: role_arn.to_owned(),
        identity_context: context.map(str::to_owned),
        identity_provider,
        external_id: external_id.map(str::to_owned),
    }))
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

fn is_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b))
}
