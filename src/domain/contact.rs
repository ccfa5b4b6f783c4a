//! Contacts as the Leads page shows them, and CSV imports into a campaign.
use crate::domain::campaign::{Channel, Direction, EnrollmentStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

string_enum! {
    ImportStatus {
        Uploaded => "uploaded", Queued => "queued", Running => "running", Done => "done", Failed => "failed",
    }
}

string_enum! {
    /// What one CSV column holds. `Custom` columns go into the enrollment's custom fields
    /// under their header.
    ImportField {
        Name => "name", FirstName => "first_name", LastName => "last_name", Phone => "phone",
        Email => "email", Company => "company", TimeZone => "time_zone", Custom => "custom", Ignore => "ignore",
    }
}

impl ImportField {
    pub fn label(self) -> &'static str {
        match self {
            Self::Name => "Full name",
            Self::FirstName => "First name",
            Self::LastName => "Last name",
            Self::Phone => "Phone",
            Self::Email => "Email",
            Self::Company => "Company",
            Self::TimeZone => "Time zone",
            Self::Custom => "Custom field",
            Self::Ignore => "Ignore",
        }
    }

    /// The field a header most likely names; anything unrecognised becomes a custom field.
    pub fn guess(header: &str) -> Self {
        let h: String = header.trim().to_lowercase().chars().filter(char::is_ascii_alphanumeric).collect();
        match h.as_str() {
            "name" | "fullname" | "contact" | "contactname" => Self::Name,
            "first" | "firstname" | "givenname" => Self::FirstName,
            "last" | "lastname" | "surname" | "familyname" => Self::LastName,
            "phone" | "phonenumber" | "mobile" | "mobilephone" | "cell" | "cellphone" | "tel" | "telephone" => Self::Phone,
            "email" | "emailaddress" | "mail" => Self::Email,
            "company" | "organization" | "organisation" | "employer" | "business" => Self::Company,
            "timezone" | "tz" | "zone" => Self::TimeZone,
            "" => Self::Ignore,
            _ => Self::Custom,
        }
    }

    /// Fields that at most one column may hold.
    pub fn is_single(self) -> bool {
        !matches!(self, Self::Custom | Self::Ignore)
    }
}

/// Checks a mapping against the file's headers: one field per column, each single field at
/// most once, and a phone or an email to match people by.
pub fn check_mapping(headers: &[String], mapping: &[ImportField]) -> Result<(), String> {
    if mapping.len() != headers.len() {
        return Err(format!("The mapping names {} columns but the file has {}", mapping.len(), headers.len()));
    }
    for f in ImportField::ALL.iter().filter(|f| f.is_single()) {
        if mapping.iter().filter(|m| *m == f).count() > 1 {
            return Err(format!("Only one column can be the {}", f.label().to_lowercase()));
        }
    }
    if !mapping.iter().any(|m| matches!(m, ImportField::Phone | ImportField::Email)) {
        return Err("Map a phone or an email column: people are matched by them".into());
    }
    Ok(())
}

/// An import as its owner sees it: the file, the mapping and, once started, its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportView {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub campaign_name: String,
    pub file_name: String,
    pub status: ImportStatus,
    pub headers: Vec<String>,
    pub preview: Vec<Vec<String>>,
    /// The chosen mapping, or a guess from the headers before the import starts.
    pub mapping: Vec<ImportField>,
    pub consent_source: String,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub created: i64,
    pub updated: i64,
    pub enrolled: i64,
    pub skipped: i64,
    pub merged: i64,
    pub conflicts: i64,
    pub suppressed: i64,
    pub error: Option<String>,
}

impl ImportView {
    pub fn percent(&self) -> i64 {
        if self.total_rows == 0 { 100 } else { self.processed_rows * 100 / self.total_rows }
    }
}

/// What narrows the Leads list. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct LeadFilter {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub campaign_id: Option<Uuid>,
    #[serde(default)]
    pub status: Option<EnrollmentStatus>,
    #[serde(default)]
    pub stage: String,
    /// One contact's enrollments (the contact page).
    #[serde(default)]
    pub contact_id: Option<Uuid>,
}

/// One contact in one campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Lead {
    pub enrollment_id: Uuid,
    pub contact_id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub time_zone: Option<String>,
    pub campaign_id: Uuid,
    pub campaign_name: String,
    pub status: EnrollmentStatus,
    pub stage_key: Option<String>,
    pub custom_fields: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A page of leads, newest first; `next` is the cursor of the following page and `total`
/// counts every lead the filter matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LeadPage {
    pub leads: Vec<Lead>,
    pub next: Option<Uuid>,
    pub total: i64,
}

/// A status change for the chosen leads, or with `all_matching` for every lead the filter matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BulkStatusChange {
    #[serde(default)]
    pub ids: Vec<Uuid>,
    #[serde(default)]
    pub all_matching: bool,
    #[serde(default)]
    pub filter: LeadFilter,
    pub status: EnrollmentStatus,
}

/// One thing that happened with a contact: a message, or a step the engine (or a user) took
/// on one of their enrollments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub campaign_name: Option<String>,
    /// The funnel step it happened at.
    pub node: Option<String>,
    /// In JSON, the event's fields sit beside these, with `type` saying which it is.
    #[serde(flatten)]
    pub event: TimelineEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEvent {
    Message {
        channel: Channel,
        direction: Direction,
        subject: Option<String>,
        body: String,
        /// Outbound only: queued, sending, sent, failed, held, cancelled or unknown.
        send_state: Option<String>,
        /// The provider's last delivery report (delivered, undelivered, ...).
        delivery_status: Option<String>,
        error: Option<String>,
        /// A voicemail's audio, at the signed-in media route.
        #[serde(default)]
        audio_url: Option<String>,
    },
    /// An engine event: stage, wait, branch, hold, failure, finish, or a user's action.
    Step { kind: String, detail: String },
}

/// A contact's shared fields, the enrollments the viewer may see, and what happened, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ContactDetail {
    pub id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub time_zone: Option<String>,
    pub consent_source: Option<String>,
    /// Set once the contact was erased on request.
    #[serde(default)]
    pub erased_at: Option<DateTime<Utc>>,
    pub enrollments: Vec<Lead>,
    pub timeline: Vec<TimelineEntry>,
}

/// A line of an uploaded CSV that was not used, and why (line 1 is the header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    pub line: u64,
    pub error: String,
}

/// What an attendee list did to a campaign: contacts marked `Attended` (never lowering a
/// status above it), those already there or above, and lines that matched nobody.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttendeeImport {
    pub marked: u64,
    pub unchanged: u64,
    pub unmatched: Vec<LineError>,
}

/// Neutralises a CSV cell a spreadsheet would run as a formula: a leading `=`, `+`, `-`, `@`,
/// tab or carriage return gets a `'` in front.
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_fields_from_headers() {
        let got: Vec<_> = ["Phone Number", "E-mail", "First Name", "last_name", "Company", "Time Zone", "Budget", " "]
            .iter()
            .map(|h| ImportField::guess(h))
            .collect();
        use ImportField::*;
        assert_eq!(got, [Phone, Email, FirstName, LastName, Company, TimeZone, Custom, Ignore]);
    }

    #[test]
    fn mapping_needs_a_key_and_no_repeats() {
        let h = vec!["a".to_string(), "b".to_string()];
        use ImportField::*;
        assert!(check_mapping(&h, &[Phone, Custom]).is_ok());
        assert!(check_mapping(&h, &[Name, Custom]).is_err());
        assert!(check_mapping(&h, &[Phone, Phone]).is_err());
        assert!(check_mapping(&h, &[Phone]).is_err());
    }

    #[test]
    fn neutralises_formulas() {
        for bad in ["=SUM(A1)", "+1", "-2", "@cmd", "\tx", "\rx"] {
            assert!(csv_safe(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(csv_safe("+12025550100 "), "'+12025550100 ");
        assert_eq!(csv_safe("Ann"), "Ann");
    }
}
