//! The engine's statements: claiming enrollments, recording steps and message outcomes,
//! each set-based so a batch costs a handful of round trips.
use crate::domain::AppError;
use crate::domain::campaign::{Channel, EngineState, EnrollmentStatus};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// An enrollment this worker holds the lease on.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    pub status: EnrollmentStatus,
    pub current_node: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub step_seq: i32,
    pub entered_at: Option<DateTime<Utc>>,
    pub last_step_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub sms_introduced: bool,
    pub custom_fields: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Locks due enrollments of running campaigns for this batch's transaction; other workers
/// skip them. Those whose send is still in flight when it commits keep a lease instead
/// (`EnrollmentUpdate::lease_until`). The running campaigns are read first so the claim
/// walks the due-time index in order and stops at `limit`.
pub async fn claim(db: &mut PgConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<Claimed>, AppError> {
    let running = sqlx::query_scalar!("SELECT id FROM campaigns WHERE status = 'active'").fetch_all(&mut *db).await?;
    if running.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as!(
        Claimed,
        r#"SELECT e.id, e.campaign_id, e.contact_id, e.status AS "status: EnrollmentStatus", e.current_node,
                  e.next_run_at, e.step_seq, e.entered_at, e.last_step_at, e.last_sent_at, e.attempts, e.sms_introduced,
                  e.custom_fields, e.created_at
           FROM enrollments e
           WHERE e.engine_state = 'active' AND e.next_run_at <= $1
             AND (e.lease_until IS NULL OR e.lease_until <= $1) AND e.campaign_id = ANY($3)
           ORDER BY e.next_run_at
           LIMIT $2
           FOR UPDATE SKIP LOCKED"#,
        now,
        limit,
        &running
    )
    .fetch_all(db)
    .await?)
}

/// When the next active enrollment falls due, for an idle worker's sleep.
pub async fn next_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>, AppError> {
    Ok(sqlx::query_scalar!("SELECT min(next_run_at) FROM enrollments WHERE engine_state = 'active'")
        .fetch_one(pool)
        .await?)
}

#[derive(Debug, Clone)]
pub struct ContactFacts {
    pub id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub time_zone: Option<String>,
    pub last_reply_at: Option<DateTime<Utc>>,
}

pub async fn contacts(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<ContactFacts>, AppError> {
    Ok(sqlx::query_as!(
        ContactFacts,
        "SELECT id, name, phone, email, company, time_zone, last_inbound_at AS last_reply_at FROM contacts WHERE id = ANY($1)",
        ids
    )
    .fetch_all(pool)
    .await?)
}

#[derive(Debug, Clone)]
pub struct CampaignRow {
    pub id: Uuid,
    pub graph_version: i32,
    pub event_start: DateTime<Utc>,
    pub event_time_zone: String,
    pub venue: Option<String>,
    pub join_link: Option<String>,
    pub window_start: i16,
    pub window_end: i16,
    pub window_days: Vec<i16>,
    pub opt_out_line: String,
    pub sender_id: Uuid,
    pub owner_name: String,
}

pub async fn campaigns(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<CampaignRow>, AppError> {
    Ok(sqlx::query_as!(
        CampaignRow,
        r#"SELECT k.id, k.graph_version, k.event_start, k.event_time_zone, k.venue, k.join_link,
                  k.window_start, k.window_end, k.window_days, k.opt_out_line, k.sender_id, o.name AS owner_name
           FROM campaigns k JOIN users o ON o.id = k.owner_id WHERE k.id = ANY($1)"#,
        ids
    )
    .fetch_all(pool)
    .await?)
}

/// Where an enrollment goes next; written for a whole batch at once.
#[derive(Debug, Clone)]
pub struct EnrollmentUpdate {
    pub id: Uuid,
    pub state: EngineState,
    pub node: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub step_seq: i32,
    pub entered_at: Option<DateTime<Utc>>,
    pub last_step_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub held_reason: Option<String>,
    /// `None` keeps the stage it has.
    pub stage: Option<String>,
    pub sms_introduced: bool,
    /// Set while a send is in flight: no other worker takes the enrollment before this
    /// (after a crash, the step is reconciled once it passes).
    pub lease_until: Option<DateTime<Utc>>,
}

/// Writes the updates. A contact a user paused or removed meanwhile keeps that state (its
/// position still moves on, since the step did happen); a held send always holds.
pub async fn update_enrollments(db: &mut PgConnection, u: &[EnrollmentUpdate]) -> Result<(), AppError> {
    if u.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&EnrollmentUpdate) -> Option<DateTime<Utc>>| u.iter().map(f).collect::<Vec<_>>();
    sqlx::query!(
        r#"UPDATE enrollments e SET
             engine_state = CASE WHEN e.engine_state = 'active' OR u.state = 'held' THEN u.state ELSE e.engine_state END,
             current_node = u.node, next_run_at = u.next_run_at, step_seq = u.seq, entered_at = u.entered_at,
             last_step_at = u.last_step_at, last_sent_at = u.last_sent_at, attempts = u.attempts,
             held_reason = u.held, stage_key = coalesce(u.stage, e.stage_key), sms_introduced = u.intro,
             lease_until = u.lease_until, updated_at = now()
           FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::int[], $6::timestamptz[],
                       $7::timestamptz[], $8::timestamptz[], $9::int[], $10::text[], $11::text[], $12::bool[], $13::timestamptz[])
                AS u(id, state, node, next_run_at, seq, entered_at, last_step_at, last_sent_at, attempts, held, stage, intro, lease_until)
           WHERE e.id = u.id"#,
        &u.iter().map(|x| x.id).collect::<Vec<_>>(),
        &u.iter().map(|x| x.state.as_str().to_string()).collect::<Vec<_>>(),
        &u.iter().map(|x| x.node.clone()).collect::<Vec<_>>() as &[Option<String>],
        &col(|x| x.next_run_at) as &[Option<DateTime<Utc>>],
        &u.iter().map(|x| x.step_seq).collect::<Vec<_>>(),
        &col(|x| x.entered_at) as &[Option<DateTime<Utc>>],
        &col(|x| x.last_step_at) as &[Option<DateTime<Utc>>],
        &col(|x| x.last_sent_at) as &[Option<DateTime<Utc>>],
        &u.iter().map(|x| x.attempts).collect::<Vec<_>>(),
        &u.iter().map(|x| x.held_reason.clone()).collect::<Vec<_>>() as &[Option<String>],
        &u.iter().map(|x| x.stage.clone()).collect::<Vec<_>>() as &[Option<String>],
        &u.iter().map(|x| x.sms_introduced).collect::<Vec<_>>(),
        &col(|x| x.lease_until) as &[Option<DateTime<Utc>>]
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A step for the contact's timeline.
#[derive(Debug, Clone)]
pub struct Event {
    pub enrollment_id: Uuid,
    pub node: Option<String>,
    pub kind: &'static str,
    pub detail: String,
    pub at: DateTime<Utc>,
}

pub async fn insert_events(db: &mut PgConnection, events: &[Event]) -> Result<(), AppError> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO engine_events (id, enrollment_id, node_key, kind, detail, at)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])",
        &events.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>(),
        &events.iter().map(|e| e.enrollment_id).collect::<Vec<_>>(),
        &events.iter().map(|e| e.node.clone()).collect::<Vec<_>>() as &[Option<String>],
        &events.iter().map(|e| e.kind.to_string()).collect::<Vec<_>>(),
        &events.iter().map(|e| e.detail.clone()).collect::<Vec<_>>(),
        &events.iter().map(|e| e.at).collect::<Vec<_>>()
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The conversation of each (contact, channel), created when missing.
pub async fn conversations(db: &mut PgConnection, keys: &[(Uuid, Channel, String)]) -> Result<Vec<(Uuid, Channel, Uuid)>, AppError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let contacts: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
    sqlx::query!(
        "INSERT INTO conversations (id, contact_id, channel, address)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[])
         ON CONFLICT (contact_id, channel) WHERE contact_id IS NOT NULL DO NOTHING",
        &keys.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>(),
        &contacts,
        &keys.iter().map(|k| k.1.as_str().to_string()).collect::<Vec<_>>(),
        &keys.iter().map(|k| k.2.clone()).collect::<Vec<_>>()
    )
    .execute(&mut *db)
    .await?;
    Ok(sqlx::query!(
        r#"SELECT contact_id AS "contact_id!", channel AS "channel: Channel", id FROM conversations
           WHERE contact_id = ANY($1)"#,
        &contacts
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|r| (r.contact_id, r.channel, r.id))
    .collect())
}

/// A message row as the engine stored it before calling the provider.
#[derive(Debug, Clone)]
pub struct StoredSend {
    pub id: Uuid,
    pub idempotency_key: String,
    pub send_state: String,
    pub body: String,
    pub subject: Option<String>,
    pub body_html: Option<String>,
    pub to_address: Option<String>,
    pub from_address: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn existing_sends(db: &mut PgConnection, keys: &[String]) -> Result<Vec<StoredSend>, AppError> {
    Ok(sqlx::query_as!(
        StoredSend,
        r#"SELECT id, idempotency_key AS "idempotency_key!", send_state AS "send_state!", body, subject, body_html,
                  to_address, from_address, error, created_at
           FROM messages WHERE idempotency_key = ANY($1)"#,
        keys
    )
    .fetch_all(db)
    .await?)
}

/// A new outbound message row.
#[derive(Debug, Clone)]
pub struct NewSend {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub state: &'static str,
    pub body: String,
    pub subject: Option<String>,
    pub body_html: Option<String>,
    pub provider: &'static str,
    pub campaign_id: Option<Uuid>,
    pub node_key: Option<String>,
    pub sent_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub enrollment_id: Option<Uuid>,
    pub idempotency_key: String,
    pub to: String,
    pub from: String,
    pub message_id_header: Option<String>,
    pub error: Option<String>,
}

pub async fn insert_sends(db: &mut PgConnection, rows: &[NewSend]) -> Result<(), AppError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO messages (id, conversation_id, direction, send_state, body, subject, body_html, provider, campaign_id,
                               node_key, sent_by, created_at, enrollment_id, idempotency_key, to_address,
                               from_address, message_id_header, error, attempts)
         SELECT u.id, u.conv, 'out', u.state, u.body, u.subject, u.html, u.provider, u.campaign, u.node, u.sent_by,
                u.created_at, u.enrollment, u.key, u.to_address, u.from_address, u.mid, u.error,
                CASE WHEN u.state = 'sending' THEN 1 ELSE 0 END
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[],
                     $9::text[], $10::uuid[], $11::timestamptz[], $12::uuid[], $13::text[], $14::text[],
                     $15::text[], $16::text[], $17::text[])
              AS u(id, conv, state, body, subject, html, provider, campaign, node, sent_by, created_at, enrollment,
                   key, to_address, from_address, mid, error)",
        &rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        &rows.iter().map(|r| r.conversation_id).collect::<Vec<_>>(),
        &rows.iter().map(|r| r.state.to_string()).collect::<Vec<_>>(),
        &rows.iter().map(|r| r.body.clone()).collect::<Vec<_>>(),
        &rows.iter().map(|r| r.subject.clone()).collect::<Vec<_>>() as &[Option<String>],
        &rows.iter().map(|r| r.body_html.clone()).collect::<Vec<_>>() as &[Option<String>],
        &rows.iter().map(|r| r.provider.to_string()).collect::<Vec<_>>(),
        &rows.iter().map(|r| r.campaign_id).collect::<Vec<_>>() as &[Option<Uuid>],
        &rows.iter().map(|r| r.node_key.clone()).collect::<Vec<_>>() as &[Option<String>],
        &rows.iter().map(|r| r.sent_by).collect::<Vec<_>>(),
        &rows.iter().map(|r| r.created_at).collect::<Vec<_>>(),
        &rows.iter().map(|r| r.enrollment_id).collect::<Vec<_>>() as &[Option<Uuid>],
        &rows.iter().map(|r| r.idempotency_key.clone()).collect::<Vec<_>>(),
        &rows.iter().map(|r| r.to.clone()).collect::<Vec<_>>(),
        &rows.iter().map(|r| r.from.clone()).collect::<Vec<_>>(),
        &rows.iter().map(|r| r.message_id_header.clone()).collect::<Vec<_>>() as &[Option<String>],
        &rows.iter().map(|r| r.error.clone()).collect::<Vec<_>>() as &[Option<String>]
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Marks stored messages `sending` again for a retry: one more provider call each.
pub async fn resume_sends(db: &mut PgConnection, ids: &[Uuid]) -> Result<(), AppError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!("UPDATE messages SET send_state = 'sending', attempts = attempts + 1 WHERE id = ANY($1)", ids)
        .execute(db)
        .await?;
    Ok(())
}

/// What became of a message.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub id: Uuid,
    pub state: &'static str,
    pub provider: &'static str,
    pub provider_id: Option<String>,
    pub delivery_status: Option<String>,
    pub error: Option<String>,
    pub error_code: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The reconciled call counts as one more attempt.
    pub extra_attempt: bool,
}

pub async fn record_results(db: &mut PgConnection, r: &[SendResult]) -> Result<(), AppError> {
    if r.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE messages m SET send_state = u.state, provider = u.provider,
                provider_message_id = coalesce(u.pid, m.provider_message_id),
                delivery_status = CASE WHEN delivery_rank(u.status) >= delivery_rank(m.delivery_status)
                                       THEN coalesce(u.status, m.delivery_status) ELSE m.delivery_status END,
                error = u.error, error_code = coalesce(u.code, m.error_code),
                sent_at = coalesce(u.sent_at, m.sent_at), attempts = m.attempts + u.extra::int
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::timestamptz[], $9::bool[]) AS u(id, state, provider, pid, status, error, code, sent_at, extra)
         WHERE m.id = u.id",
        &r.iter().map(|x| x.id).collect::<Vec<_>>(),
        &r.iter().map(|x| x.state.to_string()).collect::<Vec<_>>(),
        &r.iter().map(|x| x.provider.to_string()).collect::<Vec<_>>(),
        &r.iter().map(|x| x.provider_id.clone()).collect::<Vec<_>>() as &[Option<String>],
        &r.iter().map(|x| x.delivery_status.clone()).collect::<Vec<_>>() as &[Option<String>],
        &r.iter().map(|x| x.error.clone()).collect::<Vec<_>>() as &[Option<String>],
        &r.iter().map(|x| x.error_code.clone()).collect::<Vec<_>>() as &[Option<String>],
        &r.iter().map(|x| x.sent_at).collect::<Vec<_>>() as &[Option<DateTime<Utc>>],
        &r.iter().map(|x| x.extra_attempt).collect::<Vec<_>>()
    )
    .execute(db)
    .await?;
    Ok(())
}
