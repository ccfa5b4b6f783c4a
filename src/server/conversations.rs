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
    /// Email only.
    pub email: Option<EmailParts<'a>>,
}

/// What an inbound email carries besides its text.
pub struct EmailParts<'a> {
    pub subject: Option<&'a str>,
    pub thread_id: &'a str,
    /// With its angle brackets, as our own are stored.
    pub message_id_header: Option<&'a str>,
    /// `auto_reply` or `bounce`: shown, but not the contact writing.
    pub auto_kind: Option<&'a str>,
}

/// Stores an inbound message once: `None` when the provider already delivered this one.
pub async fn receive(db: &mut sqlx::PgConnection, m: &Received<'_>) -> Result<Option<Uuid>, AppError> {
    let email = m.email.as_ref();
    let id = sqlx::query_scalar!(
        "INSERT INTO messages (id, conversation_id, direction, body, provider, provider_message_id, campaign_id,
                               from_address, to_address, created_at, subject, provider_thread_id, message_id_header, auto_kind)
         VALUES ($1, $2, 'in', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
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
        m.at,
        email.and_then(|e| e.subject),
        email.map(|e| e.thread_id),
        email.and_then(|e| e.message_id_header),
        email.and_then(|e| e.auto_kind)
    )
    .fetch_optional(&mut *db)
    .await?;
    if id.is_some() {
        // An automatic answer is activity in the conversation, not the contact writing.
        let automatic = email.is_some_and(|e| e.auto_kind.is_some());
        touch(db, m.conversation_id, if automatic { Direction::Out } else { Direction::In }, m.at).await?;
    }
    Ok(id)
}

/// Whether a provider's message is stored already (a sync looks before fetching it).
pub async fn has_provider_message(pool: &PgPool, provider: &str, id: &str) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM messages WHERE provider = $1 AND provider_message_id = $2) AS "found!""#,
        provider,
        id
    )
    .fetch_one(pool)
    .await?)
}

/// The contact a synced email answers, and the campaign, from the mail the mailbox's owner
/// sent: in the same Gmail thread, else one whose Message-ID it names.
pub struct EmailMatch {
    pub contact_id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub address: String,
}

pub async fn email_reply_match(db: &mut sqlx::PgConnection, user: Uuid, thread: &str, refs: &[String]) -> Result<Option<EmailMatch>, AppError> {
    Ok(sqlx::query_as!(
        EmailMatch,
        r#"SELECT c.contact_id AS "contact_id!", m.campaign_id, c.address FROM messages m JOIN conversations c ON c.id = m.conversation_id
           WHERE m.direction = 'out' AND m.sent_by = $1 AND c.contact_id IS NOT NULL AND c.channel = 'email'
             AND ((m.provider = 'gmail' AND m.provider_thread_id = $2) OR m.message_id_header = ANY($3))
           ORDER BY (m.provider_thread_id IS NOT DISTINCT FROM $2) DESC, m.created_at DESC, m.id DESC
           LIMIT 1"#,
        user,
        thread,
        refs
    )
    .fetch_optional(&mut *db)
    .await?)
}

/// The contact's last email that an outgoing one answers: its Gmail thread and Message-ID.
pub struct Answering {
    pub thread_id: Option<String>,
    pub message_id_header: Option<String>,
}

pub async fn email_answered(pool: &PgPool, outgoing: Uuid) -> Result<Option<Answering>, AppError> {
    Ok(sqlx::query_as!(
        Answering,
        "SELECT m.provider_thread_id AS thread_id, m.message_id_header FROM messages o JOIN messages m ON m.conversation_id = o.conversation_id
         WHERE o.id = $1 AND m.direction = 'in' AND m.provider = 'gmail' AND m.auto_kind IS NULL
         ORDER BY m.created_at DESC, m.id DESC LIMIT 1",
        outgoing
    )
    .fetch_optional(pool)
    .await?)
}

/// Records the Gmail thread an email went into.
pub async fn set_thread(pool: &PgPool, message: Uuid, thread: &str) -> Result<(), AppError> {
    sqlx::query!("UPDATE messages SET provider_thread_id = $2 WHERE id = $1", message, thread).execute(pool).await?;
    Ok(())
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
