//! Reading an event's fields with messages that name the field and what it held.

use serde_json::{Map, Value};

use crate::error::Error;

pub(super) fn as_object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Error> {
    value.as_object().ok_or_else(|| {
        Error::invalid(format!(
            "{what} must be a JSON object holding a job reference (AwsAccountId, DashboardId, SnapshotJobId, or Arn), got {}",
            kind_of(value)
        ))
    })
}

pub(super) struct Fields<'a> {
    pub object: &'a Map<String, Value>,
    pub prefix: &'a str,
}

impl<'a> Fields<'a> {
    /// The first of `names` present as a string; null counts as absent, any other type is an error.
    pub fn string(&self, names: &[&str]) -> Result<Option<&'a str>, Error> {
        for name in names {
            match self.object.get(*name) {
                None | Some(Value::Null) => continue,
                Some(Value::String(value)) => return Ok(Some(value.as_str())),
                Some(other) => {
                    return Err(Error::invalid(format!(
                        "{}{name} must be a string, got {}",
                        self.prefix,
                        kind_of(other)
                    )))
                }
            }
        }
        Ok(None)
    }
}

pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Quotes a value for an error message, cut short so a huge input cannot bloat the error.
pub(super) fn quoted(value: &str) -> String {
    crate::text::quote(value)
}
