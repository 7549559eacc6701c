//! The raw event, before it is read as JSON: bounded in size, so a huge event is refused for
//! what it is instead of being parsed into a tree many times its size.

use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::Error;

/// Reads `text` as a JSON event if it is at most `max_bytes` long.
pub fn parse(text: &str, max_bytes: usize) -> Result<Value, Error> {
    parse_bytes(text.as_bytes(), max_bytes)
}

/// Reads raw bytes (a file, stdin) as a JSON event: the size is checked before anything else,
/// so a cut through a multi-byte character is still refused for its size.
pub fn parse_bytes(bytes: &[u8], max_bytes: usize) -> Result<Value, Error> {
    check_size(bytes.len(), max_bytes)?;
    serde_json::from_slice(bytes).map_err(|e| {
        Error::invalid(crate::text::truncate(
            &format!("the event is not valid JSON: {e}"),
            200,
        ))
    })
}

/// Reads an event Lambda delivered: the runtime has only checked that it is JSON.
pub fn parse_raw(raw: &RawValue, max_bytes: usize) -> Result<Value, Error> {
    parse(raw.get(), max_bytes)
}

fn check_size(bytes: usize, max_bytes: usize) -> Result<(), Error> {
    if bytes > max_bytes {
        return Err(Error::invalid(format!(
            "the event is larger than this function's MAX_EVENT_BYTES ({max_bytes}): {bytes} \
             bytes read; split a batch into smaller ones"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_over_the_limit_is_refused_before_it_is_parsed() {
        // Not even JSON: had it been parsed, the error would say so instead.
        let err = parse(&"x".repeat(2_000), 1_000).unwrap_err();
        assert_eq!(err.error_type(), "InvalidJobReference");
        assert!(err.to_string().contains("2000 bytes"), "{err}");
        assert!(err.to_string().contains("MAX_EVENT_BYTES"), "{err}");
    }

    #[test]
    fn an_event_within_the_limit_is_read_and_bad_json_is_named_briefly() {
        assert_eq!(parse(r#"{"a":1}"#, 7).expect("json")["a"], 1);
        let err = parse(&format!("[{}", "1,".repeat(5_000)), 100_000).unwrap_err();
        assert!(
            err.to_string().starts_with("the event is not valid JSON"),
            "{err}"
        );
        assert!(err.to_string().len() <= 200);
    }
}
