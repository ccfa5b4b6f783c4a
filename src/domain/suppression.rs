//! The suppression list as admins see it. An entry is a hash of the address (what the
//! engine checks); beside it a masked form, enough to recognise it, never the address.
use crate::domain::contact::LineError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

string_enum! {
    /// What an entry stops: texts to a phone number, or emails to an address.
    SuppressionKind { Phone => "phone", Email => "email" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressionView {
    pub id: Uuid,
    pub kind: SuppressionKind,
    /// The masked address; `None` for entries whose address was never known here.
    pub display: Option<String>,
    pub reason: String,
    /// Who or what added it: `admin`, `csv_import`, `sms_keyword`, `twilio`, `erasure`…
    pub source: String,
    pub created_at: DateTime<Utc>,
}

/// What a CSV of suppressions came to: good rows are kept, bad ones named by line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SuppressionImport {
    pub added: u64,
    pub already: u64,
    pub errors: Vec<LineError>,
}

/// The masked form of an address: the last four characters of a number, the first letter
/// and the domain of an email.
pub fn mask(kind: SuppressionKind, address: &str) -> String {
    let address = address.trim();
    match kind {
        SuppressionKind::Phone => {
            let tail: String = address.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            format!("•••{tail}")
        }
        SuppressionKind::Email => match address.split_once('@') {
            Some((local, domain)) => format!("{}•••@{domain}", local.chars().next().unwrap_or('•')),
            None => "•••".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_enough_to_recognise_an_entry() {
        assert_eq!(mask(SuppressionKind::Phone, "+12025550100"), "•••0100");
        assert_eq!(mask(SuppressionKind::Email, " pat@example.com"), "p•••@example.com");
    }
}
