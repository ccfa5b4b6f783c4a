//! The unified inbox: conversations on every channel, limited to what the viewer may see
//! (`message_visible` in the database: admins everything; a BDR what is assigned to them,
//! their campaigns' messages, and unknown senders nobody took), replies now or later,
//! assignment and done marks. Owns `conversation_reads` and `scheduled_replies`.
use crate::domain::AppError;
use crate::domain::campaign::{Channel, Direction, EngineState, EnrollmentStatus};
use crate::domain::inbox::{
    Assignee, ConversationView, Event, EventKind, FunnelPosition, HistoryMessage, InboxCounts, InboxFilter, InboxItem, InboxView,
    ReplyInput, ReplyOutcome, ReplyText, ScheduledReplyView,
};
use crate::domain::merge::{Escape, MergeTemplate, MergeValues};
use crate::server::auth::AuthUser;
use crate::server::engine::compliance;
use crate::server::outbound::{self, Delivery, OneOff};
use crate::server::state::AppState;
use crate::server::{audit, campaigns, media, providers, realtime, users};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// The longest list the inbox shows at once; search or filter for older conversations.
const LIST_LIMIT: i64 = 200;

/// Conversations matching the filter, newest first (or just `only`, for the conversation view).
pub async fn list(pool: &PgPool, user: &AuthUser, filter: &InboxFilter, only: Option<Uuid>) -> Result<Vec<InboxItem>, AppError> {
    let view = filter.view.unwrap_or(InboxView::All);
    let rows = sqlx::query!(
        r#"SELECT c.id, c.channel AS "channel: Channel", c.address, c.contact_id, ct.name AS "contact_name?", c.assigned_to,
                  u.name AS "assignee_name?", lk.campaign_id AS "campaign_id?", k.name AS "campaign_name?",
                  e.status AS "status?: EnrollmentStatus", lm.body AS last_body, lm.direction AS "last_direction: Direction",
                  lm.created_at AS last_message_at,
                  coalesce(c.last_inbound_at > coalesce(c.done_at, '-infinity'), false) AS "needs_reply!",
                  coalesce(c.last_inbound_at > coalesce(r.read_at, '-infinity'), false) AS "unread!"
           FROM conversations c
           JOIN LATERAL (
             SELECT m.body, m.direction, m.created_at FROM messages m
             WHERE m.conversation_id = c.id AND message_visible($1, $2, c.assigned_to, c.contact_id, m.campaign_id)
             ORDER BY m.created_at DESC, m.id DESC LIMIT 1
           ) lm ON true
           LEFT JOIN LATERAL (
             SELECT m.campaign_id FROM messages m
             WHERE m.conversation_id = c.id AND m.campaign_id IS NOT NULL
               AND message_visible($1, $2, c.assigned_to, c.contact_id, m.campaign_id)
             ORDER BY m.created_at DESC, m.id DESC LIMIT 1
           ) lk ON true
           LEFT JOIN campaigns k ON k.id = lk.campaign_id
           LEFT JOIN enrollments e ON e.campaign_id = lk.campaign_id AND e.contact_id = c.contact_id
           LEFT JOIN contacts ct ON ct.id = c.contact_id
           LEFT JOIN users u ON u.id = c.assigned_to
           LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.user_id = $1
           WHERE ($3::uuid IS NULL OR c.id = $3)
             AND ($4 <> 'needs_reply' OR c.last_inbound_at > coalesce(c.done_at, '-infinity'))
             AND ($4 <> 'mine' OR c.assigned_to = $1)
             AND ($4 <> 'unassigned' OR (c.contact_id IS NULL AND c.assigned_to IS NULL))
             AND ($5::text IS NULL OR c.channel = $5)
             AND ($6::uuid IS NULL OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.campaign_id = $6))
             AND ($7::text IS NULL OR EXISTS (
               SELECT 1 FROM enrollments se JOIN campaigns sk ON sk.id = se.campaign_id
               WHERE se.contact_id = c.contact_id AND se.status = $7 AND ($2 OR sk.owner_id = $1)
                 AND ($6::uuid IS NULL OR se.campaign_id = $6)))
             AND ($8 = '' OR EXISTS (
               SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.search @@ websearch_to_tsquery('english', $8)
                 AND message_visible($1, $2, c.assigned_to, c.contact_id, m.campaign_id)))
           ORDER BY lm.created_at DESC, c.id DESC
           LIMIT $9"#,
        user.id,
        user.is_admin(),
        only,
        view.as_str(),
        filter.channel.map(Channel::as_str),
        filter.campaign_id,
        filter.status.map(EnrollmentStatus::as_str),
        filter.q.trim(),
        LIST_LIMIT
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| InboxItem {
            id: r.id,
            channel: r.channel,
            address: r.address,
            contact_id: r.contact_id,
            contact_name: r.contact_name,
            assigned_to: r.assigned_to,
            assignee_name: r.assignee_name,
            campaign_id: r.campaign_id,
            campaign_name: r.campaign_name,
            status: r.status,
            last_body: r.last_body,
            last_direction: r.last_direction,
            last_message_at: r.last_message_at,
            needs_reply: r.needs_reply,
            unread: r.unread,
        })
        .collect())
}

/// The counts beside "Inbox" in the navigation.
pub async fn counts(pool: &PgPool, user: &AuthUser) -> Result<InboxCounts, AppError> {
    let r = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE c.last_inbound_at > coalesce(r.read_at, '-infinity')) AS "unread!",
                  count(*) FILTER (WHERE c.last_inbound_at > coalesce(c.done_at, '-infinity')) AS "needs_reply!"
           FROM conversations c
           LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.user_id = $1
           WHERE c.last_inbound_at IS NOT NULL
             AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id
                         AND message_visible($1, $2, c.assigned_to, c.contact_id, m.campaign_id))"#,
        user.id,
        user.is_admin()
    )
    .fetch_one(pool)
    .await?;
    Ok(InboxCounts { unread: r.unread, needs_reply: r.needs_reply })
}

/// A conversation opened: the contact's history on every channel, their place in each
/// campaign, replies waiting to go out. Opening it marks it read for the viewer.
pub async fn view(state: &AppState, user: &AuthUser, id: Uuid) -> Result<ConversationView, AppError> {
    let pool = &state.pool;
    let item = list(pool, user, &InboxFilter::default(), Some(id)).await?.pop().ok_or_else(|| AppError::not_found("Conversation"))?;
    let history = sqlx::query!(
        r#"SELECT m.id, m.conversation_id, c.channel AS "channel: Channel", m.direction AS "direction: Direction", m.subject, m.body,
                  k.name AS "campaign_name?", m.send_state, m.delivery_status, m.error, u.name AS "sent_by?", m.created_at, m.auto_kind
           FROM (SELECT m.* FROM messages m JOIN conversations c ON c.id = m.conversation_id
                 WHERE (c.id = $3 OR c.contact_id = $4) AND message_visible($1, $2, c.assigned_to, c.contact_id, m.campaign_id)
                 ORDER BY m.created_at DESC, m.id DESC LIMIT 500) m
           JOIN conversations c ON c.id = m.conversation_id
           LEFT JOIN campaigns k ON k.id = m.campaign_id
           LEFT JOIN users u ON u.id = m.sent_by
           ORDER BY m.created_at, m.id"#,
        user.id,
        user.is_admin(),
        id,
        item.contact_id
    )
    .fetch_all(pool)
    .await?;
    let ids: Vec<Uuid> = history.iter().map(|m| m.id).collect();
    let mut media = media::of_messages(pool, &ids).await?;
    let history = history
    .into_iter()
    .map(|r| HistoryMessage {
        media: media.remove(&r.id).unwrap_or_default(),
        id: r.id,
        conversation_id: r.conversation_id,
        channel: r.channel,
        direction: r.direction,
        subject: r.subject,
        body: r.body,
        campaign_name: r.campaign_name,
        send_state: r.send_state,
        delivery_status: r.delivery_status,
        error: r.error,
        sent_by: r.sent_by,
        created_at: r.created_at,
        auto_kind: r.auto_kind,
    })
    .collect();
    let funnel = sqlx::query_as!(
        FunnelPosition,
        r#"SELECT e.id AS enrollment_id, k.id AS campaign_id, k.name AS campaign_name, e.status AS "status: EnrollmentStatus",
                  e.stage_key, e.engine_state AS "engine_state: EngineState", e.current_node, e.next_run_at
           FROM enrollments e JOIN campaigns k ON k.id = e.campaign_id
           WHERE e.contact_id = $3 AND ($2 OR k.owner_id = $1)
           ORDER BY e.created_at DESC"#,
        user.id,
        user.is_admin(),
        item.contact_id
    )
    .fetch_all(pool)
    .await?;
    let scheduled = sqlx::query_as!(
        ScheduledReplyView,
        "SELECT id, body, send_at, state, error FROM scheduled_replies
         WHERE conversation_id = $1 AND state <> 'sent' ORDER BY send_at, id",
        id
    )
    .fetch_all(pool)
    .await?;
    let assignees = users::list(pool).await?.into_iter().filter(|u| !u.disabled).map(|u| Assignee { id: u.id, name: u.name }).collect();
    sqlx::query!(
        "INSERT INTO conversation_reads (user_id, conversation_id, read_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET read_at = GREATEST(conversation_reads.read_at, EXCLUDED.read_at)",
        user.id,
        id,
        state.clock.now()
    )
    .execute(pool)
    .await?;
    Ok(ConversationView { item: InboxItem { unread: false, ..item }, history, funnel, scheduled, assignees })
}

/// Who a reply goes to, and as whom.
struct Target {
    channel: Channel,
    address: String,
    contact_id: Option<Uuid>,
    contact_name: Option<String>,
    campaign_id: Option<Uuid>,
    /// The identity that last wrote to the contact here: the last reply's author, else the
    /// sender of the campaign whose message went last.
    last_sender: Option<Uuid>,
}

async fn target(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<Target, AppError> {
    let t = sqlx::query!(
        r#"SELECT c.channel AS "channel: Channel", c.address, c.contact_id, ct.name AS "contact_name?",
                  (SELECT m.campaign_id FROM messages m
                   WHERE m.conversation_id = c.id AND m.campaign_id IS NOT NULL
                     AND message_visible($1, $2, c.assigned_to, c.contact_id, m.campaign_id)
                   ORDER BY m.created_at DESC, m.id DESC LIMIT 1) AS campaign_id,
                  (SELECT coalesce(m.sent_by, k.sender_id) FROM messages m LEFT JOIN campaigns k ON k.id = m.campaign_id
                   WHERE m.conversation_id = c.id AND m.direction = 'out' AND coalesce(m.sent_by, k.sender_id) IS NOT NULL
                   ORDER BY m.created_at DESC, m.id DESC LIMIT 1) AS last_sender
           FROM conversations c LEFT JOIN contacts ct ON ct.id = c.contact_id
           WHERE c.id = $3 AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id
                                       AND message_visible($1, $2, c.assigned_to, c.contact_id, m.campaign_id))"#,
        user.id,
        user.is_admin(),
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found("Conversation"))?;
    Ok(Target {
        channel: t.channel,
        address: t.address,
        contact_id: t.contact_id,
        contact_name: t.contact_name,
        campaign_id: t.campaign_id,
        last_sender: t.last_sender,
    })
}

/// Replies now, or records the reply to go out at `send_at`. The client's key makes a
/// repeated request (a double-click, a retry) do nothing more.
pub async fn reply(state: &AppState, user: &AuthUser, input: &ReplyInput) -> Result<ReplyOutcome, AppError> {
    let text = ReplyText::parse(&input.body).map_err(AppError::unprocessable)?;
    let now = state.clock.now();
    match input.send_at {
        Some(at) if at > now => {
            // Checked now, so a mistake shows while the author is still there.
            let t = target(&state.pool, user, input.conversation_id).await?;
            render(&state.pool, user, &t, &text).await?;
            let id = sqlx::query_scalar!(
                "WITH new AS (
                   INSERT INTO scheduled_replies (id, conversation_id, user_id, body, send_at, idempotency_key)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id)
                 SELECT id AS \"id!\" FROM new UNION ALL SELECT id FROM scheduled_replies WHERE idempotency_key = $6",
                Uuid::now_v7(),
                input.conversation_id,
                user.id,
                text.as_str(),
                at,
                input.key.to_string()
            )
            .fetch_one(&state.pool)
            .await?;
            Ok(ReplyOutcome { message_id: None, scheduled_id: Some(id) })
        }
        _ => {
            let mut tx = state.pool.begin().await?;
            let (message, send_as) = record_reply(state, &mut tx, user, input.conversation_id, &text, input.key, now).await?;
            tx.commit().await?;
            if let Some(sender) = send_as {
                tokio::spawn(outbound::send_as(state.clone(), message, sender));
            }
            Ok(ReplyOutcome { message_id: Some(message), scheduled_id: None })
        }
    }
}

/// The reply with its merge tags filled in for the contact (and the campaign, when the
/// viewer's); a tag with no value and no fallback is refused.
async fn render(pool: &PgPool, user: &AuthUser, t: &Target, text: &ReplyText) -> Result<String, AppError> {
    let template = MergeTemplate::parse(text.as_str()).map_err(AppError::unprocessable)?;
    let contact_only = || match &t.contact_name {
        Some(name) => MergeValues::default().with_contact(name, None, &serde_json::Value::Null),
        None => MergeValues::default(),
    };
    let values = match t.campaign_id {
        Some(k) => match campaigns::merge_values(pool, user, k, t.contact_id).await {
            Ok(v) => v,
            // Assigned the conversation without owning the campaign: the contact's own values.
            Err(e) if e.status == 404 => contact_only(),
            Err(e) => return Err(e),
        },
        None => contact_only(),
    };
    template.render(&values, Escape::Plain).map_err(AppError::unprocessable)
}

/// Records a reply in the caller's transaction: the message (queued) and the conversation
/// answered. Returns the message and, when it is new, whom to send it as after the commit.
async fn record_reply(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    user: &AuthUser,
    conversation: Uuid,
    text: &ReplyText,
    key: Uuid,
    now: DateTime<Utc>,
) -> Result<(Uuid, Option<Uuid>), AppError> {
    let t = target(&state.pool, user, conversation).await?;
    let key = format!("reply:{key}");
    if let Some(id) = sqlx::query_scalar!("SELECT id FROM messages WHERE idempotency_key = $1", key).fetch_optional(&mut *tx).await? {
        return Ok((id, None));
    }
    let body = render(&state.pool, user, &t, text).await?;
    if !compliance::suppressed(tx, &[(t.channel, t.address.clone())]).await?.is_empty() {
        return Err(AppError::conflict("This contact has opted out; nothing can be sent to them"));
    }
    let sender = t.last_sender.unwrap_or(user.id);
    let identity = providers::senders(&state.pool, &[sender]).await?.pop().ok_or_else(|| AppError::not_found("Sender"))?;
    let (route, from) = state.providers.route_for(t.channel, &identity).map_err(AppError::unprocessable)?;
    let subject = sqlx::query_scalar!(
        "SELECT subject FROM messages WHERE conversation_id = $1 AND subject IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT 1",
        conversation
    )
    .fetch_optional(&mut *tx)
    .await?
    .flatten()
    .map(|s| if s.starts_with("Re: ") { s } else { format!("Re: {s}") });
    let message = OneOff {
        key,
        conversation_id: conversation,
        campaign_id: t.campaign_id,
        to: &t.address,
        from: &from,
        body: &body,
        subject: (t.channel == Channel::Email).then(|| subject.as_deref().unwrap_or("Re: your message")),
        provider: route.name(),
        sent_by: Some(user.id),
    };
    let Some(id) = outbound::record(tx, &message, Delivery::Queued, now).await? else {
        // A concurrent request with the same key committed first: that one sends it.
        let id = sqlx::query_scalar!("SELECT id FROM messages WHERE idempotency_key = $1", message.key).fetch_one(&mut *tx).await?;
        return Ok((id, None));
    };
    mark_done(tx, &[conversation], now).await?;
    Ok((id, Some(sender)))
}

/// Sends scheduled replies when they fall due, until shutdown; each goes out through the
/// same path as an immediate reply, under its own key, so a restart never sends one twice.
pub async fn scheduled_worker(state: AppState) {
    let poll = Duration::from_millis(state.settings.engine_poll_ms.clamp(50, 1000));
    while !state.shutdown.is_cancelled() {
        if let Err(e) = send_due(&state).await {
            tracing::error!(error = %e.error, "scheduled replies not sent; trying again");
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Sends every scheduled reply due at the clock's time, one transaction each.
async fn send_due(state: &AppState) -> Result<(), AppError> {
    loop {
        let now = state.clock.now();
        let mut tx = state.pool.begin().await?;
        let Some(due) = sqlx::query!(
            "SELECT id, conversation_id, user_id, body, idempotency_key FROM scheduled_replies
             WHERE state = 'scheduled' AND send_at <= $1 ORDER BY send_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
            now
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(());
        };
        let author = users::find_by_id(&state.pool, due.user_id).await?.filter(|u| !u.disabled);
        let recorded = match (&author, ReplyText::parse(&due.body), Uuid::parse_str(&due.idempotency_key)) {
            (Some(u), Ok(text), Ok(key)) => {
                let user = AuthUser { id: u.id, email: u.email.clone(), name: u.name.clone(), role: u.role };
                record_reply(state, &mut tx, &user, due.conversation_id, &text, key, now).await
            }
            (None, _, _) => Err(AppError::unprocessable("The author's account is disabled")),
            _ => Err(AppError::unprocessable("The scheduled reply cannot be read")),
        };
        match recorded {
            Ok((message, send_as)) => {
                sqlx::query!("UPDATE scheduled_replies SET state = 'sent', message_id = $2 WHERE id = $1", due.id, message)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                if let Some(sender) = send_as {
                    tokio::spawn(outbound::send_as(state.clone(), message, sender));
                }
            }
            Err(e) if e.status < 500 => {
                tx.rollback().await?;
                tracing::info!(scheduled = %due.id, reason = %e.error, "scheduled reply not sent");
                sqlx::query!("UPDATE scheduled_replies SET state = 'failed', error = $2 WHERE id = $1 AND state = 'scheduled'", due.id, e.error)
                    .execute(&state.pool)
                    .await?;
                realtime::announce(&state.pool, &[Event::conversation(EventKind::MessageOut, due.conversation_id, None)]).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn mark_done(db: &mut sqlx::PgConnection, ids: &[Uuid], now: DateTime<Utc>) -> Result<(), AppError> {
    sqlx::query!("UPDATE conversations SET done_at = $2 WHERE id = ANY($1)", ids, now).execute(&mut *db).await?;
    Ok(())
}

/// Marks the conversations the user may see done: they leave "needs reply" until the
/// contact writes again. Returns how many.
pub async fn done(state: &AppState, user: &AuthUser, ids: &[Uuid]) -> Result<i64, AppError> {
    let mut tx = state.pool.begin().await?;
    let visible = sqlx::query_scalar!(
        "SELECT c.id FROM conversations c WHERE c.id = ANY($3) AND EXISTS (
           SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND message_visible($1, $2, c.assigned_to, c.contact_id, m.campaign_id))",
        user.id,
        user.is_admin(),
        ids
    )
    .fetch_all(&mut *tx)
    .await?;
    mark_done(&mut tx, &visible, state.clock.now()).await?;
    let events: Vec<Event> = visible.iter().map(|id| Event::conversation(EventKind::Done, *id, None)).collect();
    realtime::publish(&mut *tx, &events).await?;
    tx.commit().await?;
    Ok(visible.len() as i64)
}

/// Assigns a conversation the user may see to someone (or to nobody).
pub async fn assign(state: &AppState, user: &AuthUser, id: Uuid, to: Option<Uuid>) -> Result<(), AppError> {
    target(&state.pool, user, id).await?;
    if let Some(to) = to {
        users::find_by_id(&state.pool, to).await?.filter(|u| !u.disabled).ok_or_else(|| AppError::unprocessable("Choose an active user"))?;
    }
    let mut tx = state.pool.begin().await?;
    let before = sqlx::query_scalar!("UPDATE conversations n SET assigned_to = $2 FROM conversations o WHERE n.id = $1 AND o.id = n.id RETURNING o.assigned_to", id, to)
        .fetch_one(&mut *tx)
        .await?;
    let (before, after) = (serde_json::json!({ "assigned_to": before }), serde_json::json!({ "assigned_to": to }));
    audit::record(&mut *tx, Some(user.id), "conversation.assigned", "conversation", Some(id), Some(before), Some(after)).await?;
    realtime::publish(&mut *tx, &[Event::conversation(EventKind::Assigned, id, None)]).await?;
    tx.commit().await?;
    Ok(())
}
