use serde::{Deserialize, Serialize};

/// The organisation's settings: its name, the time zone schedules default to, and the
/// postal address that email footers must carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgSettings {
    pub name: String,
    pub time_zone: String,
    pub postal_address: String,
}
