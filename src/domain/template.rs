use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

string_enum! {
    TemplateStatus { Draft => "draft", Published => "published" }
}

/// A funnel template as listed: its latest version and how many campaigns use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateSummary {
    pub id: Uuid,
    pub name: String,
    pub status: TemplateStatus,
    pub latest_version: Option<i32>,
    pub node_count: i64,
    pub campaigns: i64,
    pub updated_at: DateTime<Utc>,
}
