use serde::{Deserialize, Serialize};

/// The organisation's settings: its name, the time zone schedules default to, the
/// postal address that email footers must carry, the phrases that make a reply an RSVP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OrgSettings {
    pub name: String,
    pub time_zone: String,
    pub postal_address: String,
    /// Always set when read; an update without it keeps the phrases there are.
    #[serde(default)]
    pub rsvp_phrases: Option<Vec<String>>,
}
