//! Conversations and their messages. Owns `conversations` and `messages`.
//! A BDR sees the messages of their own campaigns and conversations assigned to them.
use crate::domain::AppError;
use crate::domain::campaign::{Channel, ConversationDetail, ConversationSummary, Direction, MessageView};
use crate::server::auth::AuthUser;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

pub async fn list(pool: &PgPool, user: &AuthUser) -> Result<Vec<ConversationSummary>, AppError> {
    Ok(sqlx::query_as!(
        ConversationSummary,
        r#"SELECT c.id, c.channel AS "channel: Channel", c.address, ct.name AS "contact_name?",
                  lm.body AS "last_body?", lm.direction AS "last_direction?: Direction", lm.created_at AS last_message_at
           FROM conversations c
           LEFT JOIN contacts ct ON ct.id = c.contact_id
           JOIN LATERAL (
             SELECT m.body, m.direction, m.created_at FROM messages m
             WHERE m.conversation_id = c.id
               AND ($2 OR c.assigned_to = $1
                    OR m.campaign_id IN (SELECT id FROM campaigns WHERE owner_id = $1))
             ORDER BY m.created_at DESC, m.id DESC LIMIT 1
           ) lm ON true
           ORDER BY lm.created_at DESC, c.id DESC
           LIMIT 500"#,
        user.id,
        user.is_admin()
    )
    .fetch_all(pool)
    .await?)
}

pub async fn get(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<ConversationDetail, AppError> {
    let rows = sqlx::query!(
        r#"SELECT m.id, m.direction AS "direction: Direction", m.body, m.subject, m.created_at
           FROM messages m JOIN conversations c ON c.id = m.conversation_id
           WHERE m.conversation_id = $3
             AND ($2 OR c.assigned_to = $1 OR m.campaign_id IN (SELECT id FROM campaigns WHERE owner_id = $1))
           ORDER BY m.created_at, m.id"#,
        user.id,
        user.is_admin(),
        id
    )
    .fetch_all(pool)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let mut media = crate::server::media::of_messages(pool, &ids).await?;
    let messages: Vec<MessageView> = rows
        .into_iter()
        .map(|m| MessageView {
            media: media.remove(&m.id).unwrap_or_default(),
            id: m.id,
            direction: m.direction,
            body: m.body,
            subject: m.subject,
            created_at: m.created_at,
        })
        .collect();
    let Some(last) = messages.last() else {
        return Err(AppError::not_found("Conversation"));
    };
    let c = sqlx::query!(
        r#"SELECT c.channel AS "channel: Channel", c.address, ct.name AS "contact_name?"
           FROM conversations c LEFT JOIN contacts ct ON ct.id = c.contact_id WHERE c.id = $1"#,
        id
    )
    .fetch_one(pool)
    .await?;
    let summary = ConversationSummary {
        id,
        channel: c.channel,
        address: c.address,
        contact_name: c.contact_name,
        last_body: Some(last.body.clone()),
        last_direction: Some(last.direction),
        last_message_at: Some(last.created_at),
    };
    Ok(ConversationDetail { summary, messages })
}

/// Whether the user may see this message (its media): the rule of `get`, for one message.
pub async fn may_see_message(pool: &PgPool, user: &AuthUser, message: Uuid) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM messages m JOIN conversations c ON c.id = m.conversation_id
                          WHERE m.id = $3
                            AND ($2 OR c.assigned_to = $1 OR m.campaign_id IN (SELECT id FROM campaigns WHERE owner_id = $1))
           ) AS "seen!""#,
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

/// A new message moves its conversation up; one from the contact also counts as their reply.
pub async fn touch(db: &mut sqlx::PgConnection, conversation_id: Uuid, direction: Direction, at: DateTime<Utc>) -> Result<(), AppError> {
    sqlx::query!("UPDATE conversations SET last_message_at = GREATEST(last_message_at, $2) WHERE id = $1", conversation_id, at)
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
    at: DateTime<Utc>,
) -> Result<bool, AppError> {
    let providers: Vec<String> = providers.iter().map(|p| p.to_string()).collect();
    let found = sqlx::query!(
        "UPDATE messages SET
           delivery_status = CASE WHEN delivery_rank($3) >= delivery_rank(delivery_status) THEN $3 ELSE delivery_status END,
           error_code = coalesce($4, error_code),
           delivered_at = CASE WHEN $3 = 'delivered' THEN coalesce(delivered_at, $5) ELSE delivered_at END
         WHERE provider = ANY($1) AND CASE WHEN $6::uuid IS NULL THEN provider_message_id = $2
                                           ELSE id = $6 AND coalesce(provider_message_id, $2) = $2 END",
        &providers,
        provider_message_id,
        status,
        error_code,
        at,
        message
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(found > 0)
}
