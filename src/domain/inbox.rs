//! The unified inbox: conversations across SMS, email and voicemail, what a BDR can do to
//! them, and the real-time events that keep open pages fresh.
use crate::domain::campaign::{Channel, Direction, EngineState, EnrollmentStatus};
use crate::domain::media::MediaView;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

string_enum! {
    /// Which conversations the list shows: all; those where the contact wrote after the
    /// conversation was last answered or marked done; those assigned to the viewer; unknown
    /// senders nobody has taken yet.
    InboxView { All => "all", NeedsReply => "needs_reply", Mine => "mine", Unassigned => "unassigned" }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct InboxFilter {
    #[serde(default)]
    pub view: Option<InboxView>,
    #[serde(default)]
    pub campaign_id: Option<Uuid>,
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub status: Option<EnrollmentStatus>,
    /// Full-text search over the messages' words.
    #[serde(default)]
    pub q: String,
}

/// One conversation in the inbox list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InboxItem {
    pub id: Uuid,
    pub channel: Channel,
    pub address: String,
    pub contact_id: Option<Uuid>,
    pub contact_name: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub assignee_name: Option<String>,
    /// The campaign its latest campaign message belongs to, and the contact's status there.
    pub campaign_id: Option<Uuid>,
    pub campaign_name: Option<String>,
    pub status: Option<EnrollmentStatus>,
    pub last_body: String,
    pub last_direction: Direction,
    pub last_message_at: DateTime<Utc>,
    pub needs_reply: bool,
    /// The contact wrote since the viewer last opened it.
    pub unread: bool,
}

impl InboxItem {
    pub fn title(&self) -> String {
        self.contact_name.clone().unwrap_or_else(|| self.address.clone())
    }
}

/// What the navigation shows next to "Inbox".
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InboxCounts {
    pub unread: i64,
    pub needs_reply: i64,
}

/// A message in a contact's history, on any channel and from any campaign the viewer may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryMessage {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub channel: Channel,
    pub direction: Direction,
    pub subject: Option<String>,
    pub body: String,
    pub campaign_name: Option<String>,
    pub send_state: Option<String>,
    pub delivery_status: Option<String>,
    pub error: Option<String>,
    /// Who in Turnout wrote it by hand (funnel sends have none).
    pub sent_by: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Files that came with it (MMS).
    pub media: Vec<MediaView>,
    /// `auto_reply` or `bounce`: an automatic email, not the contact writing.
    #[serde(default)]
    pub auto_kind: Option<String>,
}

/// Where the contact is in one campaign's funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FunnelPosition {
    pub enrollment_id: Uuid,
    pub campaign_id: Uuid,
    pub campaign_name: String,
    pub status: EnrollmentStatus,
    pub stage_key: Option<String>,
    pub engine_state: EngineState,
    pub current_node: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScheduledReplyView {
    pub id: Uuid,
    pub body: String,
    pub send_at: DateTime<Utc>,
    pub state: String,
    pub error: Option<String>,
}

/// Someone a conversation can be assigned to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Assignee {
    pub id: Uuid,
    pub name: String,
}

/// A conversation opened: the contact's whole visible history and what can be done next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConversationView {
    pub item: InboxItem,
    pub history: Vec<HistoryMessage>,
    pub funnel: Vec<FunnelPosition>,
    pub scheduled: Vec<ScheduledReplyView>,
    pub assignees: Vec<Assignee>,
}

/// A reply as the browser sends it. `key` is chosen once per composed reply, so a
/// double-click or a retried request sends it once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyInput {
    pub conversation_id: Uuid,
    pub key: Uuid,
    pub body: String,
    /// Later instead of now.
    #[serde(default)]
    pub send_at: Option<DateTime<Utc>>,
}

/// The longest reply: ten SMS segments' worth, or a short email.
pub const MAX_REPLY_CHARS: usize = 1600;

/// A reply's text, checked: not blank, not too long.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyText(String);

impl ReplyText {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("Write a reply first".into());
        }
        if t.chars().count() > MAX_REPLY_CHARS {
            return Err(format!("A reply is at most {MAX_REPLY_CHARS} characters"));
        }
        Ok(Self(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a reply did: sent now (the message) or scheduled (the scheduled row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReplyOutcome {
    pub message_id: Option<Uuid>,
    pub scheduled_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Snippet {
    pub id: Uuid,
    pub name: String,
    pub body: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SnippetInput {
    pub name: String,
    pub body: String,
}

string_enum! {
    /// What happened, in a real-time event.
    EventKind {
        MessageIn => "message_in", MessageOut => "message_out", Delivery => "delivery",
        Enrollment => "enrollment", Assigned => "assigned", Done => "done",
    }
}

/// A change someone may want to see at once; `GET /api/events` sends each to the users who
/// may see the records it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    #[serde(default)]
    pub conversation_id: Option<Uuid>,
    #[serde(default)]
    pub campaign_id: Option<Uuid>,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
}

impl Event {
    /// Something changed in a conversation (of a campaign, when known).
    pub fn conversation(kind: EventKind, conversation_id: Uuid, campaign_id: Option<Uuid>) -> Self {
        Self { kind, conversation_id: Some(conversation_id), campaign_id, contact_id: None }
    }

    /// Something changed for contacts of a campaign.
    pub fn campaign(campaign_id: Uuid) -> Self {
        Self { kind: EventKind::Enrollment, conversation_id: None, campaign_id: Some(campaign_id), contact_id: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_trimmed_and_neither_blank_nor_too_long() {
        assert_eq!(ReplyText::parse("  See you there!\n").unwrap().as_str(), "See you there!");
        assert!(ReplyText::parse(" \n ").is_err());
        assert!(ReplyText::parse(&"é".repeat(MAX_REPLY_CHARS)).is_ok());
        assert!(ReplyText::parse(&"é".repeat(MAX_REPLY_CHARS + 1)).is_err());
    }
}
