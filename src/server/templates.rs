//! Funnel templates, their immutable versions and graphs. Owns `templates`,
//! `template_versions`, `nodes` and `edges`.
use crate::domain::AppError;
use crate::domain::template::{TemplateStatus, TemplateSummary};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

pub async fn list(pool: &PgPool) -> Result<Vec<TemplateSummary>, AppError> {
    Ok(sqlx::query_as!(
        TemplateSummary,
        r#"SELECT t.id, t.name, t.status AS "status: TemplateStatus",
                  (SELECT max(v.version) FROM template_versions v WHERE v.template_id = t.id) AS latest_version,
                  (SELECT count(*) FROM nodes n WHERE n.template_id = t.id) AS "node_count!",
                  (SELECT count(*) FROM campaigns k JOIN template_versions v ON v.id = k.template_version_id
                   WHERE v.template_id = t.id) AS "campaigns!",
                  t.updated_at
           FROM templates t ORDER BY lower(t.name), t.id"#
    )
    .fetch_all(pool)
    .await?)
}

/// Whose graph a node or edge belongs to.
#[derive(Debug, Clone, Copy)]
pub enum GraphOwner {
    TemplateDraft(Uuid),
    TemplateVersion(Uuid),
    Campaign(Uuid),
}

impl GraphOwner {
    fn columns(self) -> (Option<Uuid>, Option<Uuid>, Option<Uuid>) {
        match self {
            GraphOwner::TemplateDraft(id) => (Some(id), None, None),
            GraphOwner::TemplateVersion(id) => (None, Some(id), None),
            GraphOwner::Campaign(id) => (None, None, Some(id)),
        }
    }
}

pub struct NodeRow<'a> {
    pub key: &'a str,
    pub node_type: &'a str,
    pub name: &'a str,
    pub config: serde_json::Value,
    pub x: f64,
    pub y: f64,
}

pub struct EdgeRow<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub condition: Option<serde_json::Value>,
}

pub async fn insert_template(db: impl PgExecutor<'_>, name: &str, status: TemplateStatus, created_by: Uuid) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO templates (id, name, status, created_by) VALUES ($1, $2, $3, $4) RETURNING id",
        Uuid::now_v7(),
        name,
        status as TemplateStatus,
        created_by
    )
    .fetch_one(db)
    .await?)
}

pub async fn insert_version(db: impl PgExecutor<'_>, template_id: Uuid, version: i32, by: Uuid) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO template_versions (id, template_id, version, published_by) VALUES ($1, $2, $3, $4) RETURNING id",
        Uuid::now_v7(),
        template_id,
        version,
        by
    )
    .fetch_one(db)
    .await?)
}

pub async fn insert_graph(db: &mut PgConnection, owner: GraphOwner, nodes: &[NodeRow<'_>], edges: &[EdgeRow<'_>]) -> Result<(), AppError> {
    let (template_id, version_id, campaign_id) = owner.columns();
    for n in nodes {
        sqlx::query!(
            "INSERT INTO nodes (id, template_id, template_version_id, campaign_id, key, type, name, config, pos_x, pos_y)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            Uuid::now_v7(),
            template_id,
            version_id,
            campaign_id,
            n.key,
            n.node_type,
            n.name,
            n.config,
            n.x,
            n.y
        )
        .execute(&mut *db)
        .await?;
    }
    for e in edges {
        sqlx::query!(
            "INSERT INTO edges (id, template_id, template_version_id, campaign_id, from_key, to_key, condition)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            Uuid::now_v7(),
            template_id,
            version_id,
            campaign_id,
            e.from,
            e.to,
            e.condition
        )
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}
