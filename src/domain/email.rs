use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address that passed validation, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return Err("an email address is required".into());
        }
        match email_address::EmailAddress::parse_with_options(
            &s,
            email_address::Options::default().without_display_text(),
        ) {
            Ok(_) if s.contains('.') => Ok(Self(s)),
            _ => Err(format!("'{}' is not a valid email address", input.trim())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_rejects() {
        assert_eq!(EmailAddress::parse(" Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
        assert!(EmailAddress::parse("").is_err());
        assert!(EmailAddress::parse("not-an-email").is_err());
        assert!(EmailAddress::parse("a@b").is_err());
        assert!(EmailAddress::parse("Ann <ann@example.com>").is_err());
    }
}
