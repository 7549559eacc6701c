//! Bounding text that comes from outside (events, service answers) before it reaches an error
//! message, a log line or a notice.

use std::borrow::Cow;

/// `text` cut to at most `max_chars` characters, with `...` marking the cut (counted in the
/// limit), so a huge input cannot bloat what quotes it.
pub fn truncate(text: &str, max_chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => Cow::Borrowed(text),
        Some(_) => {
            let keep = max_chars.saturating_sub(3);
            let cut = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
            Cow::Owned(format!("{}...", &text[..cut]))
        }
    }
}

/// `text` cut to at most `max_bytes` bytes of UTF-8, on a character boundary, with `...`
/// marking the cut (counted in the limit).
pub fn truncate_bytes(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    let mut cut = max_bytes.saturating_sub(3);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}...", &text[..cut]))
}

/// Why a call cut off to keep the Lambda deadline failed: the one wording every such error uses.
pub fn no_answer_before_deadline(budget: std::time::Duration) -> String {
    format!(
        "no answer within {} ms, before the Lambda deadline",
        budget.as_millis()
    )
}

/// Quotes `text` for an error message or a log line, cut to 80 characters.
pub fn quote(text: &str) -> String {
    format!("{:?}", truncate(text, 80))
}

/// The most a raised error's message may hold, in characters and in bytes (the Lambda answer's
/// `errorMessage`, the state machine's failure cause, the log), whatever the input.
pub const ERROR_MESSAGE_MAX: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_bound_cuts_multibyte_text_on_a_character_boundary() {
        let text = "é".repeat(1_000); // 2,000 bytes
        let cut = truncate_bytes(&text, 1_000);
        assert!(cut.len() <= 1_000 && cut.ends_with("..."));
        assert_eq!(truncate_bytes("short", 10), "short");
    }

    #[test]
    fn quoting_bounds_and_escapes() {
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert!(quote(&"x".repeat(10_000)).len() <= 82);
    }

    #[test]
    fn short_text_is_kept_as_it_is() {
        assert_eq!(truncate("abc", 3), "abc");
        assert!(matches!(truncate("abc", 3), Cow::Borrowed(_)));
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_within_the_limit() {
        assert_eq!(truncate("abcdef", 5), "ab...");
        let cut = truncate("ééééééé", 5);
        assert_eq!(cut, "éé...");
        assert_eq!(cut.chars().count(), 5);
    }
}
