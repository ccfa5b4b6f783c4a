//! Texting through Bonzo instead of Twilio: who chose which, and the Bonzo account that
//! applies.
use serde::{Deserialize, Serialize};

string_enum! {
    /// The provider a user's texts go out through.
    SmsProvider { Twilio => "twilio", Bonzo => "bonzo" }
}

impl SmsProvider {
    pub fn label(self) -> &'static str {
        match self {
            SmsProvider::Twilio => "Twilio",
            SmsProvider::Bonzo => "Bonzo",
        }
    }
}

/// A Bonzo API token to send texts with, and a label for it (the Bonzo user or business it
/// belongs to); an empty token removes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BonzoAccountInput {
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub api_token: String,
}

/// The user's texting set-up, never with a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BonzoView {
    /// The Bonzo account that applies (their own, else the organisation's), by its label.
    pub account: Option<String>,
    pub own: bool,
    /// The user's own choice; `None` follows the organisation's.
    pub choice: Option<SmsProvider>,
    pub org_default: SmsProvider,
    /// What the user's texts go out through.
    pub effective: SmsProvider,
    /// Admins: the URL to paste into Bonzo's event hooks (it carries the shared secret).
    pub webhook_url: Option<String>,
}
