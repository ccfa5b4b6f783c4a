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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

/// What a BDR (for themselves) or an admin (for anyone) fills in to start a campaign from a
/// published template version. The event start is local time in `event_time_zone`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewCampaignInput {
    pub name: String,
    pub template_version_id: Option<Uuid>,
    pub event_type: Option<EventType>,
    /// `YYYY-MM-DDTHH:MM`, as a datetime-local input gives it.
    pub event_start: String,
    pub event_time_zone: String,
    #[serde(default)]
    pub venue: String,
    #[serde(default)]
    pub join_link: String,
    #[serde(default)]
    pub owner_id: Option<Uuid>,
    #[serde(default)]
    pub sender_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct CampaignFilter {
    #[serde(default)]
    pub status: Option<CampaignStatus>,
    #[serde(default)]
    pub owner_id: Option<Uuid>,
    /// Events on or after this date (YYYY-MM-DD, UTC).
    #[serde(default)]
    pub from: Option<chrono::NaiveDate>,
    /// Events before the end of this date.
    #[serde(default)]
    pub to: Option<chrono::NaiveDate>,
}

/// One contact's place in a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnrollmentView {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub contact_name: String,
    pub status: EnrollmentStatus,
    pub stage_key: Option<String>,
    pub engine_state: EngineState,
    pub current_node: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    /// Why it waits or is held (outside the send window, throttled, retrying, unknown outcome).
    pub held_reason: Option<String>,
}

/// Where a campaign's contacts are, per funnel step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NodeCounts {
    pub node: String,
    /// Waiting for a later time (a wait, a reply window).
    pub waiting: i64,
    /// Due now: the engine will take them in its next batches.
    pub due: i64,
    /// Held: outside the send window, throttled, retrying, paused, or an outcome to resolve.
    pub held: i64,
    pub sent: i64,
    pub failed: i64,
    pub unknown: i64,
}

string_enum! {
    /// What a user can do to one contact's run through a campaign.
    EnrollmentAction {
        Pause => "pause", Resume => "resume", Remove => "remove", Skip => "skip",
        MarkSent => "mark_sent", SendAgain => "send_again",
    }
}

impl EnrollmentAction {
    pub fn label(self) -> &'static str {
        match self {
            EnrollmentAction::Pause => "Paused",
            EnrollmentAction::Resume => "Resumed",
            EnrollmentAction::Remove => "Removed",
            EnrollmentAction::Skip => "Step skipped",
            EnrollmentAction::MarkSent => "Marked as sent",
            EnrollmentAction::SendAgain => "Sent again",
        }
    }
}

/// What activating (or resuming) would do, computed without sending anything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DryRun {
    /// Contacts the engine would work.
    pub contacts: i64,
    /// How many sends the funnel would make (no replies assumed).
    pub sends: i64,
    pub first_send_at: Option<DateTime<Utc>>,
    pub expected_finish: Option<DateTime<Utc>>,
    /// The earliest sends, for a look at the first contacts.
    pub first_sends: Vec<PlannedSend>,
    /// Steps that would not send, grouped by why.
    pub held: Vec<HeldReason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlannedSend {
    pub contact_name: String,
    pub node: String,
    pub channel: Channel,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HeldReason {
    pub node: String,
    pub reason: String,
    pub contacts: i64,
}

/// What a test send to yourself did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TestSendResult {
    pub channel: Channel,
    pub to: String,
    pub provider: String,
    pub provider_id: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CampaignDetail {
    pub summary: CampaignSummary,
    pub join_link: Option<String>,
    pub sender_id: Uuid,
    pub graph_version: i32,
    pub graph: crate::domain::funnel::GraphDraft,
    pub issues: Vec<crate::domain::funnel::GraphIssue>,
    /// The first enrollments, for the detail page; the Leads page has them all.
    pub enrollments: Vec<EnrollmentView>,
    /// Enrollments paused because a graph edit removed the node they were on.
    pub stranded: Vec<EnrollmentView>,
    pub counts: Vec<NodeCounts>,
    pub window: SendWindowView,
}

/// A campaign's send window, as its settings form shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SendWindowView {
    /// `HH:MM`
    pub start: String,
    pub end: String,
    /// ISO weekdays, 1 = Monday.
    pub days: Vec<i16>,
    pub opt_out_line: String,
    /// Whether a reply pauses the contact's run in this campaign. Always set when read; a
    /// save without it keeps the setting.
    #[serde(default)]
    pub pause_on_reply: Option<bool>,
}

string_enum! {
    /// What a user can do to a campaign's status.
    CampaignAction { Activate => "activate", Pause => "pause", Resume => "resume", Complete => "complete", Archive => "archive" }
}

/// A queued one-off send (`execute-sms`): follow it as the campaign `job_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QueuedJob {
    pub job_id: Uuid,
    pub queued: i64,
}
