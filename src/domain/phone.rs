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
        if let Some(fast) = Self::plain_north_american(trimmed, default_region) {
            return Ok(fast);
        }
        let region = default_region.parse::<phonenumber::country::Id>().ok();
        match phonenumber::parse(region, trimmed) {
            Ok(n) if phonenumber::is_valid(&n) => {
                Ok(Self(n.format().mode(phonenumber::Mode::E164).to_string()))
            }
            _ => Err(format!("'{trimmed}' is not a valid phone number")),
        }
    }

    /// `phonenumber` is slow per call (imports parse a million numbers): a number plainly
    /// written as ten North American digits with a known geographic area code is formed
    /// directly. A test checks this gives `phonenumber`'s answer for every such area code.
    #[cfg(feature = "ssr")]
    fn plain_north_american(input: &str, default_region: &str) -> Option<Self> {
        let (rest, international) = match input.strip_prefix('+') {
            Some(rest) => (rest, true),
            None => (input, false),
        };
        if !international && !matches!(default_region, "US" | "CA") {
            return None;
        }
        let mut digits = [0u8; 11];
        let mut n = 0;
        for b in rest.bytes() {
            match b {
                b'0'..=b'9' if n < digits.len() => {
                    digits[n] = b;
                    n += 1;
                }
                b' ' | b'-' | b'.' | b'(' | b')' => {}
                _ => return None,
            }
        }
        let national = match (n, digits[0]) {
            (11, b'1') => &digits[1..11],
            (10, _) if !international => &digits[..10],
            _ => return None,
        };
        let area = std::str::from_utf8(&national[..3]).ok()?.parse().ok()?;
        if national[3] < b'2' || crate::server::zones::area_code_zone(area).is_none() {
            return None;
        }
        let mut s = String::with_capacity(12);
        s.push_str("+1");
        s.push_str(std::str::from_utf8(national).ok()?);
        Some(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the number belongs to this region (e.g. "US"; a NANP number in Canada does not).
    #[cfg(feature = "ssr")]
    pub fn in_region(&self, region: &str) -> bool {
        let region = region.parse::<phonenumber::country::Id>().ok();
        region.is_some() && phonenumber::parse(None, &self.0).ok().and_then(|n| n.country().id()) == region
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
        assert_eq!(E164Phone::parse("1 (202) 555-0143", "US").unwrap().as_str(), "+12025550143");
        assert_eq!(E164Phone::parse("+1 416 555 0143", "GB").unwrap().as_str(), "+14165550143");
        assert!(E164Phone::parse("(202) 155-0143", "US").is_err());
    }

    #[test]
    fn knows_its_region() {
        let dc = E164Phone::parse("(202) 555-0143", "US").unwrap();
        assert!(dc.in_region("US"));
        assert!(!dc.in_region("CA"));
        assert!(E164Phone::parse("+1 416 555 0143", "US").unwrap().in_region("CA"));
        assert!(!E164Phone::parse("+44 20 7946 0958", "US").unwrap().in_region("US"));
        assert!(!dc.in_region("not a region"));
    }

    /// The fast path and `phonenumber` agree on every area code the fast path takes.
    #[test]
    fn fast_path_matches_phonenumber() {
        let mut checked = 0;
        for area in 200..1000u16 {
            if crate::server::zones::area_code_zone(area).is_none() {
                continue;
            }
            for exchange in [200, 211, 234, 355, 411, 555, 678, 800, 911, 999] {
                for written in [format!("({area}) {exchange}-0143"), format!("+1{area}{exchange}7788")] {
                    let fast = E164Phone::plain_north_american(&written, "US").expect(&written);
                    let slow = phonenumber::parse(Some(phonenumber::country::Id::US), &written)
                        .ok()
                        .filter(phonenumber::is_valid)
                        .map(|n| n.format().mode(phonenumber::Mode::E164).to_string());
                    assert_eq!(Some(fast.0), slow, "{written}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 5000);
    }
}
