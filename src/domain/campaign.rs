use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

string_enum! {
    CampaignStatus {
        Draft => "draft", Scheduled => "scheduled", Active => "active",
        Paused => "paused", Completed => "completed", Archived => "archived",
    }
}

string_enum! {
    EventType { InPerson => "In-Person", Virtual => "Virtual" }
}

string_enum! {
    /// A contact's status within one campaign, as the BDR sees it.
    EnrollmentStatus {
        NoActivity => "No Activity", NeedsBdr => "Needs BDR", ReceivedRsvp => "Received RSVP",
        Attended => "Attended", OptedOut => "Opted Out", Bounced => "Bounced",
    }
}

string_enum! {
    /// Where the sending engine is with one enrollment.
    EngineState {
        Active => "active", Paused => "paused", Stopped => "stopped",
        Removed => "removed", Finished => "finished", Held => "held",
    }
}

string_enum! {
    Channel { Sms => "sms", Email => "email", Voicemail => "voicemail" }
}

string_enum! {
    Direction { In => "in", Out => "out" }
}

/// A campaign as listed: who owns it, when the event is, how many contacts are in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSummary {
    pub id: Uuid,
    pub name: String,
    pub status: CampaignStatus,
    pub event_type: EventType,
    pub event_start: DateTime<Utc>,
    pub event_time_zone: String,
    pub venue: Option<String>,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub enrolled: i64,
    pub needs_bdr: i64,
}

/// One conversation in the inbox list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: Uuid,
    pub channel: Channel,
    pub address: String,
    pub contact_name: Option<String>,
    pub last_body: Option<String>,
    pub last_direction: Option<Direction>,
    pub last_message_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: Uuid,
    pub direction: Direction,
    pub body: String,
    pub subject: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationDetail {
    pub summary: ConversationSummary,
    pub messages: Vec<MessageView>,
}

/// The dashboard's counts, each exact and limited to what the viewer may see.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DashboardCounts {
    pub campaigns_active: i64,
    pub campaigns_total: i64,
    pub enrolled: i64,
    pub needs_bdr: i64,
    pub rsvps: i64,
    pub attended: i64,
}
