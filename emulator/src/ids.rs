//! Path identifiers, decoded and checked the way the service checks them, with its wording.

use crate::wire::{AwsError, ErrorType};

const RESOURCE_ID_MAX: usize = 512;

/// Percent-decodes one path segment. A malformed escape is kept literally, so the '%' it leaves
/// behind fails validation instead of being silently repaired.
pub fn decode_segment(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = match bytes.get(index..index + 3) {
            Some([b'%', high, low]) => hex_value(*high).zip(hex_value(*low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                decoded.push(high << 4 | low);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    // Invalid UTF-8 becomes U+FFFD, which no identifier pattern accepts.
    String::from_utf8_lossy(&decoded).into_owned()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// `AwsAccountId`: exactly twelve digits.
pub fn check_account(value: &str) -> Result<(), AwsError> {
    if value.len() == 12 && value.bytes().all(|byte| byte.is_ascii_digit()) {
        Ok(())
    } else {
        Err(violation(
            value,
            "awsAccountId",
            "Member must satisfy regular expression pattern: ^[0-9]{12}$",
        ))
    }
}

/// `ShortRestrictiveResourceId`: 1 to 512 characters of `[\w\-]`.
pub fn check_resource_id(field: &str, value: &str) -> Result<(), AwsError> {
    if value.is_empty() {
        return Err(violation(
            value,
            field,
            "Member must have length greater than or equal to 1",
        ));
    }
    if value.chars().count() > RESOURCE_ID_MAX {
        return Err(violation(
            value,
            field,
            "Member must have length less than or equal to 512",
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(violation(
            value,
            field,
            "Member must satisfy regular expression pattern: [\\w\\-]+",
        ));
    }
    Ok(())
}

fn violation(value: &str, field: &str, constraint: &str) -> AwsError {
    AwsError::new(
        ErrorType::InvalidParameterValue,
        format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy \
             constraint: {constraint}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded_and_broken_escapes_kept_literally() {
        assert_eq!(decode_segment("daily%2Dreport"), "daily-report");
        assert_eq!(decode_segment("a%2Fb"), "a/b");
        assert_eq!(decode_segment("a%2fb"), "a/b");
        assert_eq!(decode_segment("100%"), "100%");
        assert_eq!(decode_segment("%zz"), "%zz");
        assert_eq!(decode_segment("%ff"), "\u{fffd}");
    }

    #[test]
    fn an_account_id_is_exactly_twelve_digits() {
        assert!(check_account("123456789012").is_ok());
        for bad in [
            "12345678901",
            "1234567890123",
            "12345678901a",
            "",
            "１２３４５６７８９０１２",
        ] {
            let error = check_account(bad).expect_err(bad);
            assert_eq!(error.kind, ErrorType::InvalidParameterValue);
            assert!(error.message.contains("awsAccountId"), "{}", error.message);
        }
    }

    #[test]
    fn a_resource_id_allows_word_characters_and_hyphens_only() {
        assert!(check_resource_id("dashboardId", "Sales_2024-Q1").is_ok());
        assert!(check_resource_id("dashboardId", &"x".repeat(512)).is_ok());
        for bad in ["", "a/b", "a.b", "a%2Fb", "a b", "é", &"x".repeat(513)] {
            let error = check_resource_id("dashboardId", bad).expect_err(bad);
            assert_eq!(error.kind, ErrorType::InvalidParameterValue);
            assert!(error.message.contains("'dashboardId'"), "{}", error.message);
        }
    }
}
