//! A BDR's connected Google account: what Settings shows, and what a sync did.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `state`: `connected`, or `reconnect` once Google stopped accepting Turnout's access
/// (revoked, password changed); `None` when no account is connected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GoogleAccountView {
    /// The organisation set up a Google OAuth client, so accounts can be connected.
    pub configured: bool,
    pub email: Option<String>,
    pub state: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// What one sync of a mailbox found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// New messages looked at.
    pub fetched: u32,
    /// Contacts' replies stored.
    pub replies: u32,
    pub auto_replies: u32,
    pub bounces: u32,
}
