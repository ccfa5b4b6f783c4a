use serde::{Deserialize, Serialize};
use std::fmt;

/// A phone number in E.164 form (`+15551234567`). Only the server parses numbers:
/// the metadata behind `phonenumber` stays out of the browser bundle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct E164Phone(String);

impl E164Phone {
    /// Parses a number written nationally (for `default_region`, e.g. "US") or internationally.
    #[cfg(feature = "ssr")]
    pub fn parse(input: &str, default_region: &str) -> Result<Self, String> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("a phone number is required".into());
        }
        let region = default_region.parse::<phonenumber::country::Id>().ok();
        match phonenumber::parse(region, trimmed) {
            Ok(n) if phonenumber::is_valid(&n) => {
                Ok(Self(n.format().mode(phonenumber::Mode::E164).to_string()))
            }
            _ => Err(format!("'{trimmed}' is not a valid phone number")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn parses_national_and_international() {
        assert_eq!(E164Phone::parse("(202) 555-0143", "US").unwrap().as_str(), "+12025550143");
        assert_eq!(E164Phone::parse("+44 20 7946 0958", "US").unwrap().as_str(), "+442079460958");
        assert!(E164Phone::parse("12", "US").is_err());
        assert!(E164Phone::parse("", "US").is_err());
    }
}
