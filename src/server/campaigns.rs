//! Campaigns as their owners and admins see them. Owns `campaigns` and `enrollments`.
use crate::domain::AppError;
use crate::domain::campaign::{CampaignStatus, CampaignSummary, DashboardCounts, EnrollmentStatus, EventType};
use crate::server::audit;
use crate::server::auth::AuthUser;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Campaigns the user may see: all for admins, their own for BDRs.
pub async fn list(pool: &PgPool, user: &AuthUser) -> Result<Vec<CampaignSummary>, AppError> {
    visible(pool, user, None).await
}

/// One campaign; another BDR's campaign is "not found" so its existence is not revealed.
pub async fn get(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<CampaignSummary, AppError> {
    visible(pool, user, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("Campaign"))
}

async fn visible(pool: &PgPool, user: &AuthUser, id: Option<Uuid>) -> Result<Vec<CampaignSummary>, AppError> {
    Ok(sqlx::query_as!(
        CampaignSummary,
        r#"SELECT k.id, k.name, k.status AS "status: CampaignStatus", k.event_type AS "event_type: EventType",
                  k.event_start, k.event_time_zone, k.venue, k.owner_id, u.name AS owner_name,
                  (SELECT count(*) FROM enrollments e WHERE e.campaign_id = k.id) AS "enrolled!",
                  (SELECT count(*) FROM enrollments e WHERE e.campaign_id = k.id AND e.status = 'Needs BDR') AS "needs_bdr!"
           FROM campaigns k JOIN users u ON u.id = k.owner_id
           WHERE ($2 OR k.owner_id = $1) AND ($3::uuid IS NULL OR k.id = $3)
           ORDER BY k.event_start DESC, k.id"#,
        user.id,
        user.is_admin(),
        id
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
