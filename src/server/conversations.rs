//! Conversations and their messages. Owns `conversations` and `messages`; the inbox
//! (`server::inbox`) reads them for the people who may see them.
use crate::domain::AppError;
use crate::domain::campaign::{Channel, Direction};
use crate::domain::inbox::{Event, EventKind};
use crate::server::realtime;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

pub async fn insert(db: impl PgExecutor<'_>, contact_id: Option<Uuid>, channel: Channel, address: &str) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO conversations (id, contact_id, channel, address) VALUES ($1, $2, $3, $4) RETURNING id",
        Uuid::now_v7(),
        contact_id,
        channel as Channel,
        address
    )
    .fetch_one(db)
    .await?)
}

/// A message already exchanged (demo history); the sending engine adds its own.
pub struct LoggedMessage<'a> {
    pub conversation_id: Uuid,
    pub direction: Direction,
    pub body: &'a str,
    pub subject: Option<&'a str>,
    pub provider: &'a str,
    pub campaign_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

pub async fn log_message(db: &mut sqlx::PgConnection, m: &LoggedMessage<'_>) -> Result<Uuid, AppError> {
    let id = sqlx::query_scalar!(
        "INSERT INTO messages (id, conversation_id, direction, body, subject, provider, send_state, campaign_id,
                               created_at, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $3::text = 'out' THEN 'sent' END, $7, $8::timestamptz,
                 CASE WHEN $3::text = 'out' THEN $8::timestamptz END)
         RETURNING id",
        Uuid::now_v7(),
        m.conversation_id,
        m.direction as Direction,
        m.body,
        m.subject,
        m.provider,
        m.campaign_id,
        m.at
    )
    .fetch_one(&mut *db)
    .await?;
    touch(db, m.conversation_id, m.direction, m.at).await?;
    Ok(id)
}

/// A new message moves its conversation up; one from the contact also counts as their reply
/// and asks for an answer in the inbox.
pub async fn touch(db: &mut sqlx::PgConnection, conversation_id: Uuid, direction: Direction, at: DateTime<Utc>) -> Result<(), AppError> {
    sqlx::query!(
        "UPDATE conversations SET last_message_at = GREATEST(last_message_at, $2),
                last_inbound_at = CASE WHEN $3 THEN GREATEST(last_inbound_at, $2) ELSE last_inbound_at END
         WHERE id = $1",
        conversation_id,
        at,
        direction == Direction::In
    )
    .execute(&mut *db)
    .await?;
    if direction == Direction::In {
        crate::server::contacts::record_inbound(&mut *db, conversation_id, at).await?;
    }
    Ok(())
}

/// The conversation with a contact on a channel, or with an unknown address (the inbox's
/// Unassigned view), created when missing.
pub async fn open(db: &mut sqlx::PgConnection, contact_id: Option<Uuid>, channel: Channel, address: &str) -> Result<Uuid, AppError> {
    // The no-op update makes RETURNING give the existing row's id on a conflict.
    let id = match contact_id {
        Some(contact) => sqlx::query_scalar!(
            "INSERT INTO conversations (id, contact_id, channel, address) VALUES ($1, $2, $3, $4)
             ON CONFLICT (contact_id, channel) WHERE contact_id IS NOT NULL DO UPDATE SET channel = EXCLUDED.channel
             RETURNING id",
            Uuid::now_v7(),
            contact,
            channel as Channel,
            address
        )
        .fetch_one(&mut *db)
        .await?,
        None => sqlx::query_scalar!(
            "INSERT INTO conversations (id, channel, address) VALUES ($1, $2, $3)
             ON CONFLICT (channel, address) WHERE contact_id IS NULL DO UPDATE SET address = EXCLUDED.address
             RETURNING id",
            Uuid::now_v7(),
            channel as Channel,
            address
        )
        .fetch_one(&mut *db)
        .await?,
    };
    Ok(id)
}

/// A message a provider delivered to us.
pub struct Received<'a> {
    pub conversation_id: Uuid,
    pub body: &'a str,
    pub provider: &'a str,
    pub provider_message_id: &'a str,
    /// The campaign it answers, when one wrote to this contact.
    pub campaign_id: Option<Uuid>,
    pub from: &'a str,
    pub to: &'a str,
    pub at: DateTime<Utc>,
}

/// Stores an inbound message once: `None` when the provider already delivered this one.
pub async fn receive(db: &mut sqlx::PgConnection, m: &Received<'_>) -> Result<Option<Uuid>, AppError> {
    let id = sqlx::query_scalar!(
        "INSERT INTO messages (id, conversation_id, direction, body, provider, provider_message_id, campaign_id,
                               from_address, to_address, created_at)
         VALUES ($1, $2, 'in', $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (provider, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
         RETURNING id",
        Uuid::now_v7(),
        m.conversation_id,
        m.body,
        m.provider,
        m.provider_message_id,
        m.campaign_id,
        m.from,
        m.to,
        m.at
    )
    .fetch_optional(&mut *db)
    .await?;
    if id.is_some() {
        touch(db, m.conversation_id, Direction::In, m.at).await?;
    }
    Ok(id)
}

/// Whether a message is a step of a contact's funnel (not a one-off text such as an opt-out's
/// confirmation).
pub async fn is_funnel_step(pool: &PgPool, message: Uuid) -> Result<bool, AppError> {
    let step = sqlx::query_scalar!(r#"SELECT enrollment_id IS NOT NULL AS "step!" FROM messages WHERE id = $1"#, message)
        .fetch_optional(pool)
        .await?;
    Ok(step.unwrap_or(false))
}

/// Records a provider's delivery report on the message it names: by Turnout's own message
/// id when the callback URL carries it, else by the provider's id. Returns false when no
/// message matches (a report for a message sent elsewhere).
pub async fn record_delivery(
    pool: &PgPool,
    message: Option<Uuid>,
    providers: &[&str],
    provider_message_id: &str,
    status: &str,
    error_code: Option<&str>,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> Result<bool, AppError> {
    let providers: Vec<String> = providers.iter().map(|p| p.to_string()).collect();
    let found = sqlx::query!(
        "UPDATE messages SET
           delivery_status = CASE WHEN delivery_rank($3) >= delivery_rank(delivery_status) THEN $3 ELSE delivery_status END,
           error_code = coalesce($4, error_code),
           error = coalesce($7, error),
           delivered_at = CASE WHEN $3 = 'delivered' THEN coalesce(delivered_at, $5) ELSE delivered_at END
         WHERE provider = ANY($1) AND CASE WHEN $6::uuid IS NULL THEN provider_message_id = $2
                                           ELSE id = $6 AND coalesce(provider_message_id, $2) = $2 END
         RETURNING conversation_id, campaign_id",
        &providers,
        provider_message_id,
        status,
        error_code,
        at,
        message,
        error
    )
    .fetch_all(pool)
    .await?;
    let events: Vec<Event> = found.iter().map(|m| Event::conversation(EventKind::Delivery, m.conversation_id, m.campaign_id)).collect();
    realtime::announce(pool, &events).await;
    Ok(!found.is_empty())
}

/// Whether the user may see this message (its media): the inbox's one visibility rule.
pub async fn may_see_message(pool: &PgPool, user: &crate::server::auth::AuthUser, message: Uuid) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM messages m JOIN conversations c ON c.id = m.conversation_id
                          WHERE m.id = $3 AND message_visible($1, $2, c.assigned_to, c.contact_id, m.campaign_id)) AS "seen!""#,
        user.id,
        user.is_admin(),
        message
    )
    .fetch_one(pool)
    .await?)
}

/// Erasure: the contact's messages keep their times and states, not their words or the
/// addresses they went between; their conversations no longer name the address.
pub async fn erase_contact(db: &mut sqlx::PgConnection, contact_id: Uuid) -> Result<u64, AppError> {
    let erased = sqlx::query!(
        "UPDATE messages m SET body = '', subject = NULL, to_address = NULL, from_address = NULL
         FROM conversations c WHERE c.id = m.conversation_id AND c.contact_id = $1",
        contact_id
    )
    .execute(&mut *db)
    .await?
    .rows_affected();
    sqlx::query!("UPDATE conversations SET address = '(erased)' WHERE contact_id = $1", contact_id).execute(&mut *db).await?;
    Ok(erased)
}
