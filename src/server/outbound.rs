//! Messages outside any funnel: the confirmation of an opt-out and the HELP answer, sent
//! from the number a contact wrote to, and a person's replies from the inbox, sent as the
//! identity that last wrote to the contact. Like the engine's sends, each is a message row
//! first, committed with its idempotency key by the caller, so it is in the conversation and
//! never sent twice; the provider call comes after the commit.
use crate::domain::AppError;
use crate::domain::bonzo::SmsProvider;
use crate::domain::campaign::{Channel, Direction};
use crate::domain::inbox::{Event, EventKind};
use crate::server::{conversations, metrics, realtime};
use crate::server::providers::{self, Outgoing, Route, SANDBOX_ACCOUNT_SID, SendError, SenderIdentity};
use crate::server::state::AppState;
use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

/// `messages.provider` for a Twilio-shaped account: the sandbox's, or Twilio's.
pub fn provider_of(account_sid: &str) -> &'static str {
    if account_sid == SANDBOX_ACCOUNT_SID { "sandbox" } else { "twilio" }
}

/// A message to the other party of a conversation.
pub struct OneOff<'a> {
    /// Unique per message: a retried webhook or a second click finds it recorded already.
    pub key: String,
    pub conversation_id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub to: &'a str,
    pub from: &'a str,
    pub body: &'a str,
    /// Email only.
    pub subject: Option<&'a str>,
    /// `messages.provider`: the route it goes by.
    pub provider: &'a str,
    /// The person who wrote it; automatic answers have none.
    pub sent_by: Option<Uuid>,
}

/// How a recorded text goes out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// By `send`, after the caller commits.
    Queued,
    /// In the webhook's TwiML answer, which Twilio sends: recorded as sent.
    Answered,
}

/// Records the message in the caller's transaction; `None` when its key is taken already.
pub async fn record(db: &mut sqlx::PgConnection, m: &OneOff<'_>, delivery: Delivery, now: DateTime<Utc>) -> Result<Option<Uuid>, AppError> {
    let answered = delivery == Delivery::Answered;
    let id = sqlx::query_scalar!(
        "INSERT INTO messages (id, conversation_id, direction, send_state, body, subject, provider, campaign_id, idempotency_key,
                               to_address, from_address, sent_by, created_at, sent_at)
         VALUES ($1, $2, 'out', CASE WHEN $3 THEN 'sent' ELSE 'queued' END, $4, $5, $6, $7, $8, $9, $10, $11, $12::timestamptz,
                 CASE WHEN $3 THEN $12::timestamptz END)
         ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING id",
        Uuid::now_v7(),
        m.conversation_id,
        answered,
        m.body,
        m.subject,
        m.provider,
        m.campaign_id,
        m.key,
        m.to,
        m.from,
        m.sent_by,
        now
    )
    .fetch_optional(&mut *db)
    .await?;
    if id.is_some() {
        conversations::touch(db, m.conversation_id, Direction::Out, now).await?;
        realtime::publish(&mut *db, &[Event::conversation(EventKind::MessageOut, m.conversation_id, m.campaign_id)]).await?;
    }
    Ok(id)
}

/// Which provider account a queued message goes through.
enum Via<'a> {
    /// The Twilio account that owns its From number (the sandbox's too).
    Account(&'a str),
    /// The Bonzo account of the user texting from its From number, else the organisation's.
    Bonzo,
    /// A user's sending identity, as the engine sends for them.
    Sender(Uuid),
}

/// Sends a queued text through the account that owns its From number, retrying transient
/// errors, and records the outcome. Runs after the webhook has answered: failures are logged.
pub async fn send(state: AppState, id: Uuid, account_sid: String) {
    if let Err(e) = try_send(&state, id, Via::Account(&account_sid)).await {
        tracing::error!(message = %id, error = %e.error, "one-off text not recorded");
    }
}

/// Sends a queued text through Bonzo (an answer to a text Bonzo brought in), as `send` does.
pub async fn send_bonzo(state: AppState, id: Uuid) {
    if let Err(e) = try_send(&state, id, Via::Bonzo).await {
        tracing::error!(message = %id, error = %e.error, "one-off text not recorded");
    }
}

/// Sends a queued reply as `sender` (their own provider account or the organisation's),
/// and records the outcome. Runs after the reply is committed: failures are logged.
pub async fn send_as(state: AppState, id: Uuid, sender: Uuid) {
    if let Err(e) = try_send(&state, id, Via::Sender(sender)).await {
        tracing::error!(message = %id, error = %e.error, "reply not recorded");
    }
}

async fn try_send(state: &AppState, id: Uuid, via: Via<'_>) -> Result<(), AppError> {
    let Some(m) = sqlx::query!(
        r#"UPDATE messages m SET send_state = 'sending', attempts = attempts + 1 FROM conversations c
           WHERE m.id = $1 AND m.send_state = 'queued' AND c.id = m.conversation_id
           RETURNING m.to_address AS "to!", m.from_address AS "from!", m.body, m.subject, m.created_at,
                     c.channel AS "channel: Channel", m.conversation_id, m.campaign_id"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(());
    };
    let outgoing = Outgoing { id, to: m.to, from: m.from, body: m.body, subject: m.subject, html: None, headers: Vec::new(), voice: None, created_at: m.created_at };
    let route = match via {
        Via::Account(account_sid) => route(state, account_sid, &outgoing.from).await?.map_err(|r| (provider_of(account_sid), r)),
        Via::Bonzo => bonzo_route(state, &outgoing.from).await?.map_err(|r| ("bonzo", r)),
        Via::Sender(user) => match providers::senders(&state.pool, &[user]).await?.first() {
            Some(identity) => state.providers.route_for(m.channel, identity).map(|(route, _)| route).map_err(|r| ("sandbox", r)),
            None => Err(("sandbox", "the sender no longer exists".to_string())),
        },
    };
    let (provider, result) = match route {
        Ok(route) => (route.name(), send_with_retries(state, &route, &outgoing).await),
        Err((provider, reason)) => (provider, Err(SendError::Permanent { message: reason, code: None, suppress: false })),
    };
    let (send_state, pid, status, error, code) = match result {
        Ok(a) => ("sent", Some(a.provider_id), a.status, None, None),
        Err(SendError::Permanent { message, code, .. }) => ("failed", None, None, Some(message), code),
        Err(SendError::Transient { message, .. }) => ("failed", None, None, Some(format!("Gave up: {message}")), None),
        // It may have gone out: never sent again blindly.
        Err(SendError::Ambiguous { message }) => ("unknown", None, None, Some(message), None),
    };
    metrics::message_outcome(provider, m.channel, send_state);
    sqlx::query!(
        "UPDATE messages SET send_state = $2, provider = $3, provider_message_id = coalesce($4, provider_message_id),
                delivery_status = CASE WHEN delivery_rank($5) >= delivery_rank(delivery_status) THEN coalesce($5, delivery_status)
                                       ELSE delivery_status END,
                error = $6, error_code = $7, sent_at = CASE WHEN $2 = 'sent' THEN $8::timestamptz END
         WHERE id = $1",
        id,
        send_state,
        provider,
        pid,
        status,
        error,
        code,
        state.clock.now()
    )
    .execute(&state.pool)
    .await?;
    realtime::announce(&state.pool, &[Event::conversation(EventKind::Delivery, m.conversation_id, m.campaign_id)]).await;
    Ok(())
}

/// How long a queued one-off may wait for the task that recorded it before the sweep sends
/// it, and how long a call may take (retries included) before it counts as cut short.
const QUEUED_GRACE: chrono::Duration = chrono::Duration::minutes(2);
const SENDING_GRACE: chrono::Duration = chrono::Duration::minutes(10);

/// Sweeps for stranded one-off texts every half minute until shutdown.
pub async fn worker(state: AppState) {
    while !state.shutdown.is_cancelled() {
        if let Err(e) = resume_stranded(&state).await {
            tracing::error!(error = %e.error, "stranded one-off texts not looked at; trying again");
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
    }
}

/// One-off texts a stopped process left behind. One still queued was never handed to the
/// provider: it goes out now, through the account or identity it would have used. One
/// caught mid-call may have gone out, so it is marked `unknown` for a person to check in the
/// conversation, never sent again blindly. Returns how many it dealt with.
pub async fn resume_stranded(state: &AppState) -> Result<usize, AppError> {
    let now = state.clock.now();
    let rows = sqlx::query!(
        r#"SELECT m.id, m.send_state AS "send_state!", m.sent_by, m.provider, m.from_address, m.conversation_id, m.campaign_id
           FROM messages m
           WHERE m.enrollment_id IS NULL AND m.direction = 'out' AND m.send_state IN ('queued', 'sending')
             AND m.created_at < CASE WHEN m.send_state = 'queued' THEN $1::timestamptz ELSE $2::timestamptz END
           ORDER BY m.created_at LIMIT 100"#,
        now - QUEUED_GRACE,
        now - SENDING_GRACE
    )
    .fetch_all(&state.pool)
    .await?;
    for m in &rows {
        if m.send_state == "sending" {
            let reason = "The server stopped during the send: check with the contact whether it arrived before sending it again";
            let marked = sqlx::query!(
                "UPDATE messages SET send_state = 'unknown', error = $2 WHERE id = $1 AND send_state = 'sending'",
                m.id,
                reason
            )
            .execute(&state.pool)
            .await?
            .rows_affected();
            if marked > 0 {
                tracing::warn!(message = %m.id, "one-off text cut short mid-call; marked unknown");
                realtime::publish(&state.pool, &[Event::conversation(EventKind::Delivery, m.conversation_id, m.campaign_id)]).await?;
            }
            continue;
        }
        let result = match (m.sent_by, m.provider.as_deref()) {
            (Some(user), _) => try_send(state, m.id, Via::Sender(user)).await,
            (None, Some("sandbox")) => try_send(state, m.id, Via::Account(SANDBOX_ACCOUNT_SID)).await,
            (None, Some("bonzo")) => try_send(state, m.id, Via::Bonzo).await,
            (None, _) => {
                // The account of the number's owner, else the organisation's.
                let account = sqlx::query_scalar!(
                    "SELECT account_sid FROM provider_credentials
                     WHERE provider = 'twilio' AND (user_id IS NULL OR user_id IN (SELECT id FROM users WHERE sms_from_number = $1))
                     ORDER BY user_id NULLS LAST LIMIT 1",
                    m.from_address
                )
                .fetch_optional(&state.pool)
                .await?;
                try_send(state, m.id, Via::Account(account.as_deref().unwrap_or("(none)"))).await
            }
        };
        if let Err(e) = result {
            tracing::error!(message = %m.id, error = %e.error, "stranded one-off text not recorded");
        }
    }
    Ok(rows.len())
}

/// The route for texts from `from` on this account: the same provider layer the engine
/// uses, with the account's own credentials (the sandbox needs none).
async fn route(state: &AppState, account_sid: &str, from: &str) -> Result<Result<Route, String>, AppError> {
    let sealed = if account_sid == SANDBOX_ACCOUNT_SID {
        None
    } else {
        let sealed = sqlx::query_scalar!(
            "SELECT secret_enc FROM provider_credentials WHERE provider = 'twilio' AND account_sid = $1 LIMIT 1",
            account_sid
        )
        .fetch_optional(&state.pool)
        .await?;
        match sealed {
            Some(s) => Some(s),
            None => return Ok(Err(format!("Twilio account {account_sid} is no longer set up"))),
        }
    };
    let identity = SenderIdentity { twilio_sid: sealed.as_ref().map(|_| account_sid.to_string()), twilio_secret_enc: sealed, ..number(state, from) };
    Ok(state.providers.route_for(Channel::Sms, &identity).map(|(route, _)| route))
}

/// The route for texts from `from` through Bonzo: the account of the user texting from that
/// number, else the organisation's.
async fn bonzo_route(state: &AppState, from: &str) -> Result<Result<Route, String>, AppError> {
    let Some((label, sealed)) = providers::bonzo_account_for_number(&state.pool, from).await? else {
        return Ok(Err("Bonzo is no longer set up: no Bonzo API token applies".to_string()));
    };
    let identity =
        SenderIdentity { sms_provider: SmsProvider::Bonzo, bonzo_account: Some(label), bonzo_token_enc: Some(sealed), ..number(state, from) };
    Ok(state.providers.route_for(Channel::Sms, &identity).map(|(route, _)| route))
}

/// A sending identity that is just a number, without any provider account.
fn number(state: &AppState, from: &str) -> SenderIdentity {
    SenderIdentity {
        // SMS routes use only the number and the provider account.
        user_id: Uuid::nil(),
        name: format!("The number {from}"),
        email: String::new(),
        sms_from_number: Some(from.to_string()),
        smtp_host: None,
        smtp_port: None,
        smtp_username: None,
        smtp_password_enc: None,
        smtp_tls: String::new(),
        smtp_from_email: None,
        twilio_sid: None,
        twilio_secret_enc: None,
        sms_provider: SmsProvider::Twilio,
        bonzo_account: None,
        bonzo_token_enc: None,
        vm_caller_id: None,
        slybroadcast_uid: None,
        slybroadcast_secret_enc: None,
        elevenlabs_key_enc: None,
        google_email: None,
        google_state: None,
        updated_at: state.clock.now(),
    }
}

/// Transient errors (429, 5xx, refused connections) are tried again, up to the engine's
/// attempt limit, after the provider's `Retry-After` or a doubling pause.
async fn send_with_retries(state: &AppState, route: &Route, m: &Outgoing) -> Result<crate::server::providers::Accepted, SendError> {
    let attempts = state.settings.engine_max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match route.send(m).await {
            Err(SendError::Transient { retry_after, .. }) if attempt < attempts => {
                let pause = retry_after.unwrap_or(Duration::from_secs(1u64 << attempt.min(5)));
                tokio::time::sleep(pause.min(Duration::from_secs(60))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
