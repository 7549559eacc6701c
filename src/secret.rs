//! A value that must never leave the function: an identity token or an external id. It is
//! used for the calls that need it and is never serialized, logged or quoted; its `Debug`
//! names only its length.

/// A credential-like string, usable only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one call that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} chars)", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("canary-token-value");
        assert_eq!(format!("{secret:?}"), "Secret(18 chars)");
        assert_eq!(secret.expose(), "canary-token-value");
    }
}
