//! The audit log: who changed what, with the record before and after. Owns `audit_log`.
use crate::domain::AppError;
use crate::domain::audit::{AuditEntry, AuditPage};
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

pub fn json(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Records a change; call it inside the transaction that makes the change.
pub async fn record(
    db: impl PgExecutor<'_>,
    actor: Option<Uuid>,
    action: &str,
    record_type: &str,
    record_id: Option<Uuid>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), AppError> {
    sqlx::query!(
        "INSERT INTO audit_log (id, actor_id, action, record_type, record_id, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        Uuid::now_v7(),
        actor,
        action,
        record_type,
        record_id,
        before,
        after
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A page of the log, newest first; ids are UUIDv7, so they order by time.
pub async fn page(pool: &PgPool, before: Option<Uuid>, limit: i64) -> Result<AuditPage, AppError> {
    let limit = limit.clamp(1, 200);
    let mut entries = sqlx::query_as!(
        AuditEntry,
        r#"SELECT a.id, u.email AS "actor_email?", a.action, a.record_type, a.record_id, a.before, a.after, a.created_at
           FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
           WHERE $1::uuid IS NULL OR a.id < $1
           ORDER BY a.id DESC
           LIMIT $2"#,
        before,
        limit + 1
    )
    .fetch_all(pool)
    .await?;
    let next = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(AuditPage { entries, next })
}
