//! Funnel templates, their immutable versions and graphs. Owns `templates`,
//! `template_versions`, `nodes` and `edges`.
use crate::domain::AppError;
use crate::domain::funnel::{EdgeDraft, FunnelGraph, GraphDraft, NodeDraft};
use crate::domain::graph_io;
use crate::domain::template::{GraphFormat, PublishedVersion, TemplateDetail, TemplateStatus, TemplateSummary, VersionInfo};
use crate::server::audit;
use crate::server::auth::AuthUser;
use crate::server::state::AppState;
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

/// The newest version of each published template: what campaigns are created from.
pub async fn published(pool: &PgPool) -> Result<Vec<PublishedVersion>, AppError> {
    Ok(sqlx::query_as!(
        PublishedVersion,
        r#"SELECT DISTINCT ON (t.id) t.id AS template_id, t.name, v.id AS version_id, v.version
           FROM templates t JOIN template_versions v ON v.template_id = t.id
           ORDER BY t.id, v.version DESC"#
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
    /// Exactly one is set, as exactly one owner column is set on a row: queries match with
    /// `template_id = $1 OR template_version_id = $2 OR campaign_id = $3`, which, unlike
    /// `IS NOT DISTINCT FROM`, the per-owner indexes can serve.
    fn columns(self) -> (Option<Uuid>, Option<Uuid>, Option<Uuid>) {
        match self {
            GraphOwner::TemplateDraft(id) => (Some(id), None, None),
            GraphOwner::TemplateVersion(id) => (None, Some(id), None),
            GraphOwner::Campaign(id) => (None, None, Some(id)),
        }
    }
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

/// Writes a graph for its owner in two statements, whatever its size.
pub async fn insert_graph(db: &mut PgConnection, owner: GraphOwner, g: &GraphDraft) -> Result<(), AppError> {
    let (template_id, version_id, campaign_id) = owner.columns();
    let ids: Vec<Uuid> = g.nodes.iter().map(|_| Uuid::now_v7()).collect();
    let keys: Vec<String> = g.nodes.iter().map(|n| n.key.clone()).collect();
    let kinds: Vec<String> = g.nodes.iter().map(|n| n.kind.clone()).collect();
    let names: Vec<String> = g.nodes.iter().map(|n| n.name.clone()).collect();
    let configs: Vec<serde_json::Value> = g.nodes.iter().map(|n| n.config.clone()).collect();
    let xs: Vec<f64> = g.nodes.iter().map(|n| n.x).collect();
    let ys: Vec<f64> = g.nodes.iter().map(|n| n.y).collect();
    sqlx::query!(
        "INSERT INTO nodes (id, template_id, template_version_id, campaign_id, key, type, name, config, pos_x, pos_y)
         SELECT id, $1, $2, $3, key, type, name, config, x, y
         FROM UNNEST($4::uuid[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::float8[], $10::float8[])
              AS t(id, key, type, name, config, x, y)",
        template_id,
        version_id,
        campaign_id,
        &ids,
        &keys,
        &kinds,
        &names,
        &configs,
        &xs,
        &ys
    )
    .execute(&mut *db)
    .await?;
    let ids: Vec<Uuid> = g.edges.iter().map(|_| Uuid::now_v7()).collect();
    let froms: Vec<String> = g.edges.iter().map(|e| e.from.clone()).collect();
    let tos: Vec<String> = g.edges.iter().map(|e| e.to.clone()).collect();
    let conditions: Vec<Option<serde_json::Value>> = g.edges.iter().map(|e| e.condition.clone()).collect();
    sqlx::query!(
        "INSERT INTO edges (id, template_id, template_version_id, campaign_id, from_key, to_key, condition)
         SELECT id, $1, $2, $3, from_key, to_key, condition
         FROM UNNEST($4::uuid[], $5::text[], $6::text[], $7::jsonb[]) AS t(id, from_key, to_key, condition)",
        template_id,
        version_id,
        campaign_id,
        &ids,
        &froms,
        &tos,
        &conditions as &[Option<serde_json::Value>]
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Reads an owner's graph back, in canonical order.
pub async fn load_graph(db: &mut PgConnection, owner: GraphOwner) -> Result<GraphDraft, AppError> {
    let (template_id, version_id, campaign_id) = owner.columns();
    let nodes = sqlx::query_as!(
        NodeDraft,
        r#"SELECT key, type AS kind, name, config, pos_x AS x, pos_y AS y FROM nodes
           WHERE template_id = $1 OR template_version_id = $2 OR campaign_id = $3"#,
        template_id,
        version_id,
        campaign_id
    )
    .fetch_all(&mut *db)
    .await?;
    let edges = sqlx::query_as!(
        EdgeDraft,
        r#"SELECT from_key AS "from", to_key AS "to", condition FROM edges
           WHERE template_id = $1 OR template_version_id = $2 OR campaign_id = $3"#,
        template_id,
        version_id,
        campaign_id
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(GraphDraft { nodes, edges }.sorted())
}

/// Replaces an owner's whole graph.
pub async fn replace_graph(db: &mut PgConnection, owner: GraphOwner, g: &GraphDraft) -> Result<(), AppError> {
    delete_graph(db, owner).await?;
    insert_graph(db, owner, g).await
}

async fn delete_graph(db: &mut PgConnection, owner: GraphOwner) -> Result<(), AppError> {
    let (template_id, version_id, campaign_id) = owner.columns();
    sqlx::query!(
        "WITH gone AS (
           DELETE FROM nodes WHERE template_id = $1 OR template_version_id = $2 OR campaign_id = $3
         )
         DELETE FROM edges WHERE template_id = $1 OR template_version_id = $2 OR campaign_id = $3",
        template_id,
        version_id,
        campaign_id
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// A template with its draft, the draft's issues and its versions.
pub async fn detail(pool: &PgPool, id: Uuid) -> Result<TemplateDetail, AppError> {
    let t = sqlx::query!(r#"SELECT name, status AS "status: TemplateStatus" FROM templates WHERE id = $1"#, id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| AppError::not_found("Template"))?;
    let versions = sqlx::query_as!(
        VersionInfo,
        r#"SELECT v.id, v.version, v.published_at,
                  (SELECT count(*) FROM campaigns k WHERE k.template_version_id = v.id) AS "campaigns!"
           FROM template_versions v WHERE v.template_id = $1 ORDER BY v.version DESC"#,
        id
    )
    .fetch_all(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    let draft = load_graph(&mut conn, GraphOwner::TemplateDraft(id)).await?;
    let issues = FunnelGraph::parse(&draft).err().unwrap_or_default();
    Ok(TemplateDetail { id, name: t.name, status: t.status, draft, issues, versions })
}

fn template_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::unprocessable("A template needs a name of at most 200 characters"));
    }
    Ok(name.to_string())
}

/// An admin starts a template, empty or from an imported graph (kept as a draft even when
/// it has issues, so it can be fixed in the builder).
pub async fn create(state: &AppState, actor: &AuthUser, name: &str, draft: &GraphDraft) -> Result<TemplateDetail, AppError> {
    actor.require_admin()?;
    let name = template_name(name)?;
    let mut tx = state.pool.begin().await?;
    let id = insert_template(&mut *tx, &name, TemplateStatus::Draft, actor.id).await?;
    insert_graph(&mut tx, GraphOwner::TemplateDraft(id), &draft.clone().sorted()).await?;
    audit::record(&mut *tx, Some(actor.id), "template.created", "template", Some(id), None, Some(serde_json::json!({ "name": name }))).await?;
    tx.commit().await?;
    detail(&state.pool, id).await
}

/// Saves the draft (invalid drafts are allowed; their issues come back). A template whose
/// draft differs from its latest version is a draft again until it is published.
pub async fn save(state: &AppState, actor: &AuthUser, id: Uuid, name: &str, draft: &GraphDraft) -> Result<TemplateDetail, AppError> {
    actor.require_admin()?;
    let name = template_name(name)?;
    let draft = draft.clone().sorted();
    let mut tx = state.pool.begin().await?;
    let latest = sqlx::query_scalar!(
        "SELECT id FROM template_versions WHERE template_id = $1 ORDER BY version DESC LIMIT 1",
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let published = match latest {
        Some(v) => load_graph(&mut tx, GraphOwner::TemplateVersion(v)).await? == draft,
        None => false,
    };
    let status = if published { TemplateStatus::Published } else { TemplateStatus::Draft };
    let updated = sqlx::query!(
        "UPDATE templates SET name = $2, status = $3, updated_at = now() WHERE id = $1",
        id,
        name,
        status as TemplateStatus
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::not_found("Template"));
    }
    replace_graph(&mut tx, GraphOwner::TemplateDraft(id), &draft).await?;
    audit::record(&mut *tx, Some(actor.id), "template.saved", "template", Some(id), None, Some(serde_json::json!({ "name": name, "nodes": draft.nodes.len() }))).await?;
    tx.commit().await?;
    detail(&state.pool, id).await
}

/// Publishing freezes the draft as the next immutable version; an invalid draft is refused.
pub async fn publish(state: &AppState, actor: &AuthUser, id: Uuid) -> Result<TemplateDetail, AppError> {
    actor.require_admin()?;
    let mut tx = state.pool.begin().await?;
    // Lock the template so two publishes cannot take the same version number.
    sqlx::query_scalar!("SELECT id FROM templates WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::not_found("Template"))?;
    let draft = load_graph(&mut tx, GraphOwner::TemplateDraft(id)).await?;
    if let Err(issues) = FunnelGraph::parse(&draft) {
        let list: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        return Err(AppError::unprocessable(format!("The funnel cannot be published: {}", list.join("; "))));
    }
    let version = sqlx::query_scalar!(
        r#"SELECT COALESCE(max(version), 0) + 1 AS "v!" FROM template_versions WHERE template_id = $1"#,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    let version_id = insert_version(&mut *tx, id, version, actor.id).await?;
    insert_graph(&mut tx, GraphOwner::TemplateVersion(version_id), &draft).await?;
    sqlx::query!("UPDATE templates SET status = 'published', updated_at = now() WHERE id = $1", id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut *tx, Some(actor.id), "template.published", "template", Some(id), None, Some(serde_json::json!({ "version": version }))).await?;
    tx.commit().await?;
    detail(&state.pool, id).await
}

pub async fn export(pool: &PgPool, id: Uuid, format: GraphFormat) -> Result<String, AppError> {
    Ok(graph_io::export(&detail(pool, id).await?.draft, format))
}

/// Imports a CSV or JSON graph as a new template. Malformed rows are refused with their
/// line numbers; a well-formed but invalid graph becomes a draft with its issues.
pub async fn import(state: &AppState, actor: &AuthUser, name: &str, format: GraphFormat, text: &str) -> Result<TemplateDetail, AppError> {
    actor.require_admin()?;
    let draft = graph_io::import(text, format).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        AppError::unprocessable(format!("The file was not imported: {}", list.join("; ")))
    })?;
    create(state, actor, name, &draft).await
}
