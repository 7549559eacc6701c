//! Whom a job may be polled as: the roles (`ALLOWED_ROLE_ARNS`), the namespaces of named users
//! (`ALLOWED_USER_NAMESPACES`), and each role's external id (`ROLE_EXTERNAL_IDS`). Checked before
//! any call, so a crafted event cannot make the function act as anyone else.
//!
//! No output carries a caller-supplied `identityContext` or `externalId`. A loop's later poll
//! therefore needs another source: a named user (the function fetches the context) and
//! `ROLE_EXTERNAL_IDS`. A poll chain, which always has later polls, refuses a raw token up front;
//! a previous output that withheld one without such a source is refused with what to do.

use std::collections::HashMap;

use crate::config::Env;
use crate::contract::{Caller, LoopKind, Withheld};
use crate::error::Error;
use crate::reference::{is_namespace, is_role_arn, PollRequest, UserArn};
use crate::secret::Secret;
use crate::settings;
use crate::text::quote;

/// The caller settings, read once per cold start.
#[derive(Debug, Clone, Default)]
pub struct CallerPolicy {
    /// `ALLOWED_ROLE_ARNS`: roles a job's `roleArn` may name (empty: off).
    pub allowed_role_arns: Vec<String>,
    /// `ALLOWED_USER_NAMESPACES`: namespaces of users a reference may name (empty: any).
    pub allowed_user_namespaces: Vec<String>,
    /// `ROLE_EXTERNAL_IDS`: each role's external id.
    external_ids: HashMap<String, Secret>,
}

const NAME_THE_USER: &str = "name the user instead (userArn, or userName or email with \
     namespace), and the function fetches the user's identity context itself";

impl CallerPolicy {
    /// Reads the three settings.
    pub fn read(env: &Env) -> Result<Self, Error> {
        let allowed_role_arns =
            env.list(&settings::ALLOWED_ROLE_ARNS, is_role_arn, "an IAM role ARN")?;
        let allowed_user_namespaces = env.list(
            &settings::ALLOWED_USER_NAMESPACES,
            is_namespace,
            "a QuickSight namespace (letters, digits, '.', '_', '-')",
        )?;
        // Secret values: split here, checked below without quoting them.
        let pairs = env.list(&settings::ROLE_EXTERNAL_IDS, |_| true, "")?;
        let mut external_ids = HashMap::new();
        for pair in pairs {
            // The value is a secret: a malformed pair is named by its position, never quoted.
            let (role, id) = pair.split_once('=').ok_or_else(|| {
                Error::InvalidConfiguration(format!(
                    "{} holds ROLE_ARN=EXTERNAL_ID pairs; entry {} has no '='",
                    settings::ROLE_EXTERNAL_IDS.name,
                    external_ids.len() + 1
                ))
            })?;
            let role = role.trim();
            if !allowed_role_arns.iter().any(|allowed| allowed == role) {
                return Err(Error::InvalidConfiguration(format!(
                    "{} names {}, which is not in {}",
                    settings::ROLE_EXTERNAL_IDS.name,
                    quote(role),
                    settings::ALLOWED_ROLE_ARNS.name
                )));
            }
            external_ids.insert(role.to_owned(), Secret::new(id.trim()));
        }
        Ok(CallerPolicy {
            allowed_role_arns,
            allowed_user_namespaces,
            external_ids,
        })
    }

    /// Whether any role may be assumed.
    pub fn assumes_roles(&self) -> bool {
        !self.allowed_role_arns.is_empty()
    }

    /// The external id `request` assumes its role with: its own, else the configured one.
    pub fn external_id<'a>(&'a self, request: &'a PollRequest) -> Option<&'a Secret> {
        let caller = request.caller.as_ref()?;
        request
            .secrets
            .external_id
            .as_ref()
            .or_else(|| self.external_ids.get(&caller.role_arn))
    }

    /// Refuses, before any call, a caller this function may not act as, or one a later poll
    /// could not act as (a withheld token or external id with nothing to replace it).
    pub fn permits(&self, request: &PollRequest, loop_kind: Option<LoopKind>) -> Result<(), Error> {
        let Some(caller) = &request.caller else {
            return Ok(());
        };
        if self.allowed_role_arns.is_empty() {
            return Err(Error::invalid(
                "roleArn: polling as another role is off in this function (ALLOWED_ROLE_ARNS is empty)",
            ));
        }
        if !self.allowed_role_arns.contains(&caller.role_arn) {
            return Err(Error::invalid(format!(
                "roleArn {} is not in this function's ALLOWED_ROLE_ARNS",
                quote(&caller.role_arn)
            )));
        }
        self.permits_user(caller, &request.job.account)?;
        self.permits_withheld(request, caller, loop_kind)
    }

    fn permits_user(&self, caller: &Caller, account: &str) -> Result<(), Error> {
        let namespace = match &caller.user_arn {
            Some(arn) => {
                let Some(user) = UserArn::parse(arn) else {
                    return Err(Error::invalid("userArn is not a QuickSight user ARN"));
                };
                if user.account != account {
                    return Err(Error::invalid(format!(
                        "userArn is in account {}, the job in {account}: a user polls jobs of \
                         their own account",
                        user.account
                    )));
                }
                user.namespace
            }
            None if caller.names_user() => caller.namespace.as_deref().unwrap_or("default"),
            None => return Ok(()),
        };
        if !self.allowed_user_namespaces.is_empty()
            && !self.allowed_user_namespaces.iter().any(|n| n == namespace)
        {
            return Err(Error::invalid(format!(
                "namespace {} is not in this function's ALLOWED_USER_NAMESPACES",
                quote(namespace)
            )));
        }
        Ok(())
    }

    fn permits_withheld(
        &self,
        request: &PollRequest,
        caller: &Caller,
        loop_kind: Option<LoopKind>,
    ) -> Result<(), Error> {
        let secrets = &request.secrets;
        let chain = loop_kind == Some(LoopKind::Scheduler);
        let configured = self.external_ids.contains_key(&caller.role_arn);
        if chain && secrets.identity_context.is_some() {
            return Err(Error::invalid(format!(
                "identityContext is never carried between polls, and a poll chain polls again \
                 at every tick: {NAME_THE_USER}"
            )));
        }
        if chain && secrets.external_id.is_some() && !configured {
            return Err(Error::invalid(format!(
                "externalId is never carried between polls, and a poll chain polls again at \
                 every tick: list the role's external id in this function's {}",
                settings::ROLE_EXTERNAL_IDS.name
            )));
        }
        let missing = |field: Withheld| {
            caller.withheld.contains(&field)
                && match field {
                    Withheld::IdentityContext => {
                        secrets.identity_context.is_none() && !caller.names_user()
                    }
                    Withheld::ExternalId => secrets.external_id.is_none() && !configured,
                }
        };
        if missing(Withheld::IdentityContext) {
            return Err(Error::invalid(format!(
                "caller.identityContext was given to an earlier poll and no output carries it, \
                 so this poll cannot act as that user: {NAME_THE_USER}"
            )));
        }
        if missing(Withheld::ExternalId) {
            return Err(Error::invalid(format!(
                "caller.externalId was given to an earlier poll and no output carries it: list \
                 the role's external id in this function's {}",
                settings::ROLE_EXTERNAL_IDS.name
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/exporter";

    fn policy(vars: &[(&str, &str)]) -> Result<CallerPolicy, Error> {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        CallerPolicy::read(&Env::new(&lookup))
    }

    #[test]
    fn an_external_id_is_for_an_allowed_role_and_never_quoted() {
        let err = policy(&[(
            "ROLE_EXTERNAL_IDS",
            "arn:aws:iam::123456789012:role/x=s3cr3t",
        )])
        .expect_err("role not allowed");
        assert!(
            err.to_string().contains("not in ALLOWED_ROLE_ARNS"),
            "{err}"
        );
        assert!(!err.to_string().contains("s3cr3t"));
        let err = policy(&[("ALLOWED_ROLE_ARNS", ROLE), ("ROLE_EXTERNAL_IDS", "s3cr3t")])
            .expect_err("no =");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        let ok = policy(&[
            ("ALLOWED_ROLE_ARNS", ROLE),
            ("ROLE_EXTERNAL_IDS", &format!("{ROLE}=s3cr3t")),
        ])
        .expect("valid");
        assert_eq!(ok.external_ids[ROLE].expose(), "s3cr3t");
        assert!(!format!("{ok:?}").contains("s3cr3t"), "Debug hides it");
    }

    #[test]
    fn a_namespace_list_is_checked() {
        let err = policy(&[("ALLOWED_USER_NAMESPACES", "default,bad name")]).expect_err("bad");
        assert!(err.to_string().contains("ALLOWED_USER_NAMESPACES"), "{err}");
    }
}
