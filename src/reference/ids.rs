//! The service's rules for ids, checked before any call.

use super::fields::quoted;
use super::JobReference;
use crate::arn::is_account_id;
use crate::error::Error;

/// The service's own rules, checked before any call so a bad id never reaches a request path.
pub(super) fn validate(reference: &JobReference, prefix: &str) -> Result<(), Error> {
    if !is_account_id(&reference.account) {
        return Err(Error::invalid(format!(
            "{prefix}AwsAccountId must be exactly 12 digits, got {}",
            quoted(&reference.account)
        )));
    }
    for (name, id) in [
        ("DashboardId", &reference.dashboard),
        ("SnapshotJobId", &reference.job),
    ] {
        let ok = (1..=512).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(Error::invalid(format!(
                "{prefix}{name} must be 1-512 characters of letters, digits, '_' or '-', got {}",
                quoted(id)
            )));
        }
    }
    Ok(())
}
