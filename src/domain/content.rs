use crate::domain::campaign::Channel;
use crate::domain::sms::SmsLength;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Reusable message content: an SMS, an email (subject, text and HTML bodies) or a
/// voicemail script, with merge tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ContentView {
    pub id: Uuid,
    pub name: String,
    pub channel: Channel,
    pub subject: Option<String>,
    pub body: String,
    pub body_html: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ContentInput {
    pub name: String,
    pub channel: Option<Channel>,
    #[serde(default)]
    pub subject: Option<String>,
    pub body: String,
    #[serde(default)]
    pub body_html: Option<String>,
}

/// Content as one contact would receive it. `problem` says why it could not be rendered
/// (a missing value with no fallback): that contact's step would be held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Preview {
    pub subject: Option<String>,
    pub body: Option<String>,
    /// Sanitised HTML with merge values escaped.
    pub body_html: Option<String>,
    pub sms: Option<SmsLength>,
    pub problem: Option<String>,
}
