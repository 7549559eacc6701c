//! The ledger's settings, read where the ledger is built.

use std::time::Duration;

use crate::config::Env;
use crate::error::Error;
use crate::settings;
use crate::text::quote;

/// `LEDGER_TABLE_NAME` and `LEDGER_RETENTION_DAYS` (docs/configuration.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSettings {
    /// The table: a name or a table ARN.
    pub table: String,
    /// How long an item is kept.
    pub retention: Duration,
    /// What the run history says started a job that is not a chain's: `invocation` in Lambda
    /// (a direct invoke; the state machine then names its execution), `terminal` outside it.
    pub started_by: &'static str,
}

impl LedgerSettings {
    /// None without a table: notices then go out at least once.
    pub fn read(env: &Env) -> Result<Option<Self>, Error> {
        let Some(table) = env.text(&settings::LEDGER_TABLE_NAME) else {
            return Ok(None);
        };
        let is_name = (3..=255).contains(&table.len())
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        let is_arn = table.starts_with("arn:")
            && table.contains(":dynamodb:")
            && table.contains(":table/")
            && table.len() <= 1024;
        if !is_name && !is_arn {
            return Err(Error::InvalidConfiguration(format!(
                "LEDGER_TABLE_NAME must be a DynamoDB table name (3-255 letters, digits, '_', '-' \
                 or '.') or a table ARN, got {}",
                quote(&table)
            )));
        }
        let days = env.number(&settings::LEDGER_RETENTION_DAYS)?;
        Ok(Some(LedgerSettings {
            table,
            retention: Duration::from_secs(days * 86_400),
            // Lambda sets the Runtime API's address in every function's environment.
            started_by: if env.get("AWS_LAMBDA_RUNTIME_API").is_some() {
                "invocation"
            } else {
                "terminal"
            },
        }))
    }
}
