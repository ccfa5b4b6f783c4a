//! Campaigns as their owners and admins see them. Owns `campaigns` and `enrollments`.
use crate::domain::AppError;
use crate::domain::campaign::{
    CampaignAction, CampaignDetail, CampaignFilter, CampaignStatus, CampaignSummary, DashboardCounts, EngineState,
    EnrollmentStatus, EnrollmentView, EventType, NewCampaignInput,
};
use crate::domain::funnel::{FunnelGraph, GraphDraft};
use crate::domain::merge::MergeValues;
use crate::domain::template::TemplateStatus;
use crate::server::state::AppState;
use crate::server::templates::{self, GraphOwner};
use crate::server::{audit, content, users};
use crate::server::auth::AuthUser;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Campaigns the user may see (all for admins, their own for BDRs) that match the filter.
pub async fn list(pool: &PgPool, user: &AuthUser, filter: &CampaignFilter) -> Result<Vec<CampaignSummary>, AppError> {
    visible(pool, user, None, filter).await
}

/// One campaign; another BDR's campaign is "not found" so its existence is not revealed.
pub async fn get(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<CampaignSummary, AppError> {
    visible(pool, user, Some(id), &CampaignFilter::default())
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("Campaign"))
}

async fn visible(pool: &PgPool, user: &AuthUser, id: Option<Uuid>, f: &CampaignFilter) -> Result<Vec<CampaignSummary>, AppError> {
    let from = f.from.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    let to = f.to.and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    Ok(sqlx::query_as!(
        CampaignSummary,
        r#"SELECT k.id, k.name, k.status AS "status: CampaignStatus", k.event_type AS "event_type: EventType",
                  k.event_start, k.event_time_zone, k.venue, k.owner_id, u.name AS owner_name,
                  (SELECT count(*) FROM enrollments e WHERE e.campaign_id = k.id) AS "enrolled!",
                  (SELECT count(*) FROM enrollments e WHERE e.campaign_id = k.id AND e.status = 'Needs BDR') AS "needs_bdr!"
           FROM campaigns k JOIN users u ON u.id = k.owner_id
           WHERE ($2 OR k.owner_id = $1) AND ($3::uuid IS NULL OR k.id = $3)
             AND ($4::text IS NULL OR k.status = $4) AND ($5::uuid IS NULL OR k.owner_id = $5)
             AND ($6::timestamptz IS NULL OR k.event_start >= $6) AND ($7::timestamptz IS NULL OR k.event_start < $7)
           ORDER BY k.event_start DESC, k.id"#,
        user.id,
        user.is_admin(),
        id,
        f.status.map(|s| s.as_str()),
        f.owner_id,
        from,
        to
    )
    .fetch_all(pool)
    .await?)
}

pub async fn dashboard(pool: &PgPool, user: &AuthUser) -> Result<DashboardCounts, AppError> {
    let r = sqlx::query!(
        r#"WITH mine AS (SELECT id, status FROM campaigns WHERE $2 OR owner_id = $1)
           SELECT
             (SELECT count(*) FROM mine WHERE status = 'active') AS "active!",
             (SELECT count(*) FROM mine) AS "total!",
             count(e.id) AS "enrolled!",
             count(e.id) FILTER (WHERE e.status = 'Needs BDR') AS "needs_bdr!",
             count(e.id) FILTER (WHERE e.status IN ('Received RSVP', 'Attended')) AS "rsvps!",
             count(e.id) FILTER (WHERE e.status = 'Attended') AS "attended!"
           FROM enrollments e JOIN mine ON mine.id = e.campaign_id"#,
        user.id,
        user.is_admin()
    )
    .fetch_one(pool)
    .await?;
    Ok(DashboardCounts {
        campaigns_active: r.active,
        campaigns_total: r.total,
        enrolled: r.enrolled,
        needs_bdr: r.needs_bdr,
        rsvps: r.rsvps,
        attended: r.attended,
    })
}

/// What a new campaign needs; the graph is cloned separately.
pub struct NewCampaign<'a> {
    pub name: &'a str,
    pub status: CampaignStatus,
    pub event_type: EventType,
    pub event_start: DateTime<Utc>,
    pub event_time_zone: &'a str,
    pub venue: Option<&'a str>,
    pub join_link: Option<&'a str>,
    pub owner_id: Uuid,
    pub sender_id: Uuid,
    pub template_version_id: Option<Uuid>,
}

pub async fn insert(db: impl PgExecutor<'_>, c: &NewCampaign<'_>) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO campaigns (id, name, status, event_type, event_start, event_time_zone, venue, join_link,
                                owner_id, sender_id, template_version_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        Uuid::now_v7(),
        c.name,
        c.status as CampaignStatus,
        c.event_type as EventType,
        c.event_start,
        c.event_time_zone,
        c.venue,
        c.join_link,
        c.owner_id,
        c.sender_id,
        c.template_version_id
    )
    .fetch_one(db)
    .await?)
}

pub async fn enroll(
    db: impl PgExecutor<'_>,
    campaign_id: Uuid,
    contact_id: Uuid,
    status: EnrollmentStatus,
    stage_key: Option<&str>,
) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO enrollments (id, campaign_id, contact_id, status, stage_key)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        Uuid::now_v7(),
        campaign_id,
        contact_id,
        status as EnrollmentStatus,
        stage_key
    )
    .fetch_one(db)
    .await?)
}

/// Sets the status of the given enrollments, limited to the user's campaigns (all for
/// admins), and records the change. Returns how many changed.
pub async fn set_status(pool: &PgPool, user: &AuthUser, ids: &[Uuid], status: EnrollmentStatus) -> Result<i64, AppError> {
    let mut tx = pool.begin().await?;
    let changed = sqlx::query!(
        "UPDATE enrollments e SET status = $3, updated_at = now()
         FROM campaigns k
         WHERE k.id = e.campaign_id AND e.id = ANY($4) AND ($2 OR k.owner_id = $1) AND e.status <> $3",
        user.id,
        user.is_admin(),
        status as EnrollmentStatus,
        ids
    )
    .execute(&mut *tx)
    .await?
    .rows_affected() as i64;
    let after = serde_json::json!({ "status": status, "changed": changed });
    audit::record(&mut *tx, Some(user.id), "enrollments.status_changed", "enrollment", None, None, Some(after)).await?;
    tx.commit().await?;
    Ok(changed)
}

/// The values a campaign's messages are rendered with, for one of its contacts (or only
/// the campaign's own when no contact is given).
pub async fn merge_values(pool: &PgPool, user: &AuthUser, id: Uuid, contact: Option<Uuid>) -> Result<MergeValues, AppError> {
    let k = sqlx::query!(
        r#"SELECT k.event_start, k.event_time_zone, k.venue, k.join_link, o.name AS owner_name, s.name AS sender_name
           FROM campaigns k JOIN users o ON o.id = k.owner_id JOIN users s ON s.id = k.sender_id
           WHERE k.id = $1 AND ($3 OR k.owner_id = $2)"#,
        id,
        user.id,
        user.is_admin()
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found("Campaign"))?;
    let local = match k.event_time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => k.event_start.with_timezone(&tz).naive_local(),
        Err(_) => k.event_start.naive_utc(),
    };
    let mut values = MergeValues {
        event_date: Some(local.format("%A, %B %-d").to_string()),
        event_time: Some(local.format("%-I:%M %p").to_string()),
        event_venue: k.venue.or(k.join_link),
        owner_name: Some(k.owner_name),
        sender_name: Some(k.sender_name),
        ..MergeValues::default()
    };
    if let Some(contact) = contact {
        let c = sqlx::query!(
            "SELECT c.name, c.company, e.custom_fields FROM enrollments e JOIN contacts c ON c.id = e.contact_id
             WHERE e.campaign_id = $1 AND e.contact_id = $2",
            id,
            contact
        )
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| AppError::not_found("Contact"))?;
        values.contact_name = Some(c.name);
        values.contact_company = c.company;
        if let serde_json::Value::Object(map) = c.custom_fields {
            values.custom = map
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
                .collect();
        }
    }
    Ok(values)
}

/// Starts a campaign from a published template version: the version's graph is cloned
/// into the campaign, which is its own from then on. BDRs create campaigns for themselves.
pub async fn create(state: &AppState, actor: &AuthUser, input: &NewCampaignInput) -> Result<CampaignDetail, AppError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(AppError::unprocessable("A campaign needs a name"));
    }
    let version = input.template_version_id.ok_or_else(|| AppError::unprocessable("Choose a published template"))?;
    let event_type = input.event_type.ok_or_else(|| AppError::unprocessable("Choose In-Person or Virtual"))?;
    let tz: chrono_tz::Tz = input
        .event_time_zone
        .trim()
        .parse()
        .map_err(|_| AppError::unprocessable(format!("'{}' is not a known time zone", input.event_time_zone.trim())))?;
    let local = chrono::NaiveDateTime::parse_from_str(input.event_start.trim(), "%Y-%m-%dT%H:%M")
        .map_err(|_| AppError::unprocessable("The event start must be a date and time"))?;
    let event_start = local
        .and_local_timezone(tz)
        .earliest()
        .ok_or_else(|| AppError::unprocessable("That time does not exist in the event's time zone (a clock change)"))?
        .with_timezone(&chrono::Utc);
    let venue = Some(input.venue.trim()).filter(|v| !v.is_empty());
    let join_link = Some(input.join_link.trim()).filter(|v| !v.is_empty());
    match event_type {
        EventType::InPerson if venue.is_none() => return Err(AppError::unprocessable("An in-person event needs a venue")),
        EventType::Virtual if !join_link.is_some_and(|l| l.starts_with("https://") || l.starts_with("http://")) => {
            return Err(AppError::unprocessable("A virtual event needs a join link (https://...)"));
        }
        _ => {}
    }
    let owner = input.owner_id.unwrap_or(actor.id);
    let sender = input.sender_id.unwrap_or(owner);
    if !actor.is_admin() && (owner != actor.id || sender != actor.id) {
        return Err(AppError::forbidden());
    }
    for who in [owner, sender] {
        match users::find_by_id(&state.pool, who).await? {
            Some(u) if !u.disabled => {}
            _ => return Err(AppError::unprocessable("The owner and sender must be active users")),
        }
    }
    let mut tx = state.pool.begin().await?;
    let published = sqlx::query_scalar!(
        r#"SELECT t.status AS "status: TemplateStatus" FROM template_versions v JOIN templates t ON t.id = v.template_id
           WHERE v.id = $1"#,
        version
    )
    .fetch_optional(&mut *tx)
    .await?;
    if published.is_none() {
        return Err(AppError::unprocessable("That template version does not exist"));
    }
    let graph = templates::load_graph(&mut tx, GraphOwner::TemplateVersion(version)).await?;
    let id = insert(&mut *tx, &NewCampaign {
        name,
        status: CampaignStatus::Draft,
        event_type,
        event_start,
        event_time_zone: tz.name(),
        venue,
        join_link,
        owner_id: owner,
        sender_id: sender,
        template_version_id: Some(version),
    })
    .await?;
    templates::insert_graph(&mut tx, GraphOwner::Campaign(id), &graph).await?;
    audit::record(&mut *tx, Some(actor.id), "campaign.created", "campaign", Some(id), None, Some(serde_json::json!({ "name": name, "template_version_id": version }))).await?;
    tx.commit().await?;
    detail(&state.pool, actor, id).await
}

pub async fn detail(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<CampaignDetail, AppError> {
    let summary = get(pool, user, id).await?;
    let k = sqlx::query!("SELECT join_link, sender_id, graph_version FROM campaigns WHERE id = $1", id)
        .fetch_one(pool)
        .await?;
    let mut conn = pool.acquire().await?;
    let graph = templates::load_graph(&mut conn, GraphOwner::Campaign(id)).await?;
    let issues = FunnelGraph::parse(&graph).err().unwrap_or_default();
    let rows = sqlx::query_as!(
        EnrollmentView,
        r#"SELECT e.id, e.contact_id, c.name AS contact_name, e.status AS "status: EnrollmentStatus", e.stage_key,
                  e.engine_state AS "engine_state: EngineState", e.current_node
           FROM enrollments e JOIN contacts c ON c.id = e.contact_id
           WHERE e.campaign_id = $1
           ORDER BY (e.engine_state = 'paused' AND e.current_node IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.campaign_id = e.campaign_id AND n.key = e.current_node)) DESC,
                    e.id
           LIMIT 200"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let keys: std::collections::BTreeSet<&str> = graph.nodes.iter().map(|n| n.key.as_str()).collect();
    let stranded = rows
        .iter()
        .filter(|e| e.engine_state == EngineState::Paused && e.current_node.as_deref().is_some_and(|n| !keys.contains(n)))
        .cloned()
        .collect();
    Ok(CampaignDetail {
        summary,
        join_link: k.join_link,
        sender_id: k.sender_id,
        graph_version: k.graph_version,
        issues,
        graph,
        enrollments: rows,
        stranded,
    })
}

/// Moves a campaign through its life. Activation needs a valid funnel and copies the
/// content the funnel uses into its nodes, so later edits to shared content never change a
/// running campaign.
pub async fn act(state: &AppState, user: &AuthUser, id: Uuid, action: CampaignAction) -> Result<CampaignDetail, AppError> {
    use CampaignStatus as S;
    let current = get(&state.pool, user, id).await?.status;
    let next = match (action, current) {
        (CampaignAction::Activate, S::Draft | S::Scheduled) => S::Active,
        (CampaignAction::Pause, S::Active) => S::Paused,
        (CampaignAction::Resume, S::Paused) => S::Active,
        (CampaignAction::Complete, S::Active | S::Paused) => S::Completed,
        (CampaignAction::Archive, s) if s != S::Archived => S::Archived,
        (a, s) => return Err(AppError::conflict(format!("The campaign is {s}; it cannot {a}"))),
    };
    let mut tx = state.pool.begin().await?;
    if action == CampaignAction::Activate {
        let graph = templates::load_graph(&mut tx, GraphOwner::Campaign(id)).await?;
        let graph = runnable(&mut tx, graph).await?;
        templates::replace_graph(&mut tx, GraphOwner::Campaign(id), &graph).await?;
    }
    sqlx::query!("UPDATE campaigns SET status = $2, updated_at = now() WHERE id = $1", id, next as CampaignStatus)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut *tx, Some(user.id), &format!("campaign.{action}"), "campaign", Some(id), Some(serde_json::json!({ "status": current })), Some(serde_json::json!({ "status": next }))).await?;
    tx.commit().await?;
    detail(&state.pool, user, id).await
}

/// A graph ready to run: valid, with its content copied in and every merge tag known.
async fn runnable(db: &mut sqlx::PgConnection, graph: GraphDraft) -> Result<GraphDraft, AppError> {
    let graph = content::inline(db, graph).await?;
    if let Err(issues) = FunnelGraph::parse(&graph) {
        let list: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        return Err(AppError::unprocessable(format!("The funnel has problems: {}", list.join("; "))));
    }
    Ok(graph)
}

/// Saves a campaign's own graph. A draft takes any graph (issues come back); a running
/// campaign takes only a runnable one, as a new graph version, and enrollments on a node the
/// new version removed are paused and listed for the BDR to move.
pub async fn save_graph(state: &AppState, user: &AuthUser, id: Uuid, graph: &GraphDraft) -> Result<CampaignDetail, AppError> {
    let status = get(&state.pool, user, id).await?.status;
    let mut tx = state.pool.begin().await?;
    let graph = match status {
        CampaignStatus::Draft => graph.clone().sorted(),
        CampaignStatus::Scheduled | CampaignStatus::Active | CampaignStatus::Paused => runnable(&mut tx, graph.clone().sorted()).await?,
        s => return Err(AppError::conflict(format!("The campaign is {s}; its funnel cannot change"))),
    };
    templates::replace_graph(&mut tx, GraphOwner::Campaign(id), &graph).await?;
    if status != CampaignStatus::Draft {
        let keys: Vec<String> = graph.nodes.iter().map(|n| n.key.clone()).collect();
        sqlx::query!("UPDATE campaigns SET graph_version = graph_version + 1, updated_at = now() WHERE id = $1", id)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "UPDATE enrollments SET engine_state = 'paused', updated_at = now()
             WHERE campaign_id = $1 AND engine_state IN ('active', 'held') AND current_node IS NOT NULL
               AND NOT (current_node = ANY($2))",
            id,
            &keys
        )
        .execute(&mut *tx)
        .await?;
    }
    audit::record(&mut *tx, Some(user.id), "campaign.graph_saved", "campaign", Some(id), None, Some(serde_json::json!({ "nodes": graph.nodes.len() }))).await?;
    tx.commit().await?;
    detail(&state.pool, user, id).await
}

/// Puts paused contacts (e.g. stranded by a funnel change) on a node of the campaign's
/// current funnel and lets the engine carry on with them from there.
pub async fn move_enrollments(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    enrollments: &[Uuid],
    to_node: &str,
) -> Result<CampaignDetail, AppError> {
    get(&state.pool, user, id).await?;
    let mut tx = state.pool.begin().await?;
    let graph = templates::load_graph(&mut tx, GraphOwner::Campaign(id)).await?;
    if !graph.nodes.iter().any(|n| n.key == to_node) {
        return Err(AppError::unprocessable(format!("The funnel has no step {to_node}")));
    }
    let moved = sqlx::query!(
        "UPDATE enrollments SET current_node = $3, engine_state = 'active', next_run_at = now(), updated_at = now()
         WHERE campaign_id = $1 AND id = ANY($2) AND engine_state = 'paused'",
        id,
        enrollments,
        to_node
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved != enrollments.len() as u64 {
        return Err(AppError::unprocessable("Only paused contacts of this campaign can be moved"));
    }
    audit::record(&mut *tx, Some(user.id), "campaign.enrollments_moved", "campaign", Some(id), None, Some(serde_json::json!({ "to": to_node, "count": moved }))).await?;
    tx.commit().await?;
    detail(&state.pool, user, id).await
}
