use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use crate::domain::funnel::{GraphDraft, GraphIssue};
use uuid::Uuid;

string_enum! {
    TemplateStatus { Draft => "draft", Published => "published" }
}

/// A funnel template as listed: its latest version and how many campaigns use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TemplateSummary {
    pub id: Uuid,
    pub name: String,
    pub status: TemplateStatus,
    pub latest_version: Option<i32>,
    pub node_count: i64,
    pub campaigns: i64,
    pub updated_at: DateTime<Utc>,
}

/// A published version of a template, immutable once made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VersionInfo {
    pub id: Uuid,
    pub version: i32,
    pub published_at: DateTime<Utc>,
    pub campaigns: i64,
}

/// A template with its editable draft graph and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TemplateDetail {
    pub id: Uuid,
    pub name: String,
    pub status: TemplateStatus,
    pub draft: GraphDraft,
    /// Why the draft cannot be published yet; empty when it can.
    pub issues: Vec<GraphIssue>,
    pub versions: Vec<VersionInfo>,
}

string_enum! {
    /// The two portable forms of a template's graph.
    GraphFormat { Csv => "csv", Json => "json" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedVersion {
    pub template_id: Uuid,
    pub name: String,
    pub version_id: Uuid,
    pub version: i32,
}
