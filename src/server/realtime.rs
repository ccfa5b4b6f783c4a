//! Real time: changes are published with NOTIFY on one channel, so every server process
//! hears every change; each process fans them out to its open `GET /api/events` streams
//! (Server-Sent Events), and each stream passes on only what its user may see.
use crate::domain::AppError;
use crate::domain::inbox::Event;
use crate::server::auth::AuthUser;
use crate::server::error::{ErrorBody, internal};
use crate::server::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use sqlx::postgres::PgListener;
use sqlx::{PgExecutor, PgPool};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

/// The one NOTIFY channel for every kind of event.
pub const CHANNEL: &str = "turnout_events";

/// Events heard by this process, for its open streams. A stream that falls this far behind
/// is told to refetch everything instead.
pub fn hub() -> broadcast::Sender<Event> {
    broadcast::channel(1024).0
}

/// Publishes events; inside a transaction they go out when it commits, and not at all if
/// it rolls back.
pub async fn publish(db: impl PgExecutor<'_>, events: &[Event]) -> Result<(), AppError> {
    sqlx::query!("SELECT pg_notify('turnout_events', p) FROM unnest($1::text[]) p", &payloads(events)?).execute(db).await?;
    Ok(())
}

/// Publishes events for changes already committed, in one statement of their own. Best
/// effort: a lost event only delays a page until its next change. Notifying transactions
/// commit one at a time, so this one does not wait for its WAL flush (it changes no data),
/// which keeps busy webhooks from queueing behind each other's announcements.
pub async fn announce(pool: &PgPool, events: &[Event]) {
    let sent = async {
        let payloads = payloads(events)?;
        sqlx::query!(
            "SELECT set_config('synchronous_commit', 'off', true), pg_notify('turnout_events', p) FROM unnest($1::text[]) p",
            &payloads
        )
        .fetch_all(pool)
        .await?;
        Ok::<_, AppError>(())
    };
    if let Err(e) = sent.await {
        tracing::warn!(error = %e.error, "real-time events not published");
    }
}

fn payloads(events: &[Event]) -> Result<Vec<String>, AppError> {
    events.iter().map(serde_json::to_string).collect::<Result<Vec<_>, _>>().map_err(|e| internal("encoding an event", e))
}

/// The engine moved contacts of these campaigns along.
pub async fn campaigns_changed(pool: &PgPool, campaigns: &[Uuid]) {
    let events: Vec<Event> = campaigns.iter().map(|id| Event::campaign(*id)).collect();
    announce(pool, &events).await;
}

/// Turns this process's NOTIFYs into hub events until shutdown, reconnecting when the
/// connection drops (streams are told to refetch, since events may have been missed).
pub async fn listen(state: AppState) {
    loop {
        let mut listener = match PgListener::connect_with(&state.pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for real-time events; retrying");
                tokio::select! {
                    _ = state.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                }
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN for real-time events failed");
        }
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                n = listener.recv() => match n {
                    Ok(n) => match serde_json::from_str::<Event>(n.payload()) {
                        // No stream open is no error.
                        Ok(event) => { let _ = state.events.send(event); }
                        Err(e) => tracing::warn!(error = %e, payload = n.payload(), "unreadable real-time event"),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "real-time LISTEN connection lost");
                        break;
                    }
                },
            }
        }
    }
}

/// Whether the user may see what the event names: a conversation when one of its messages
/// is visible to them (`message_visible`, the inbox's rule), a campaign when it is theirs.
pub async fn visible(pool: &PgPool, user: &AuthUser, event: &Event) -> Result<bool, AppError> {
    if user.is_admin() {
        return Ok(true);
    }
    let visible = match (event.conversation_id, event.campaign_id) {
        (Some(conversation), _) => sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM conversations c JOIN messages m ON m.conversation_id = c.id
                              WHERE c.id = $2 AND message_visible($1, false, c.assigned_to, c.contact_id, m.campaign_id))
               AS "visible!""#,
            user.id,
            conversation
        )
        .fetch_one(pool)
        .await?,
        (None, Some(campaign)) => {
            sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM campaigns WHERE id = $1 AND owner_id = $2) AS "visible!""#, campaign, user.id)
                .fetch_one(pool)
                .await?
        }
        (None, None) => false,
    };
    Ok(visible)
}

/// `GET /api/events`: the signed-in user's events as they happen. Each is an SSE `change`
/// with the event as JSON; `resync` means some were missed and everything should be
/// fetched again. The stream ends on shutdown.
#[utoipa::path(
    get,
    path = "/api/events",
    tag = "inbox",
    operation_id = "realtime_events",
    responses(
        (status = 200, description = "Server-sent events: `change` with the event as JSON, `resync` after missed ones", body = String, content_type = "text/event-stream"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn events(State(state): State<AppState>, user: AuthUser) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.events.subscribe();
    let stream = futures_util::stream::unfold((rx, state, user), |(mut rx, state, user)| async move {
        loop {
            let next = tokio::select! {
                _ = state.shutdown.cancelled() => return None,
                r = rx.recv() => r,
            };
            let sse = match next {
                Ok(event) => match visible(&state.pool, &user, &event).await {
                    Ok(true) => match serde_json::to_string(&event) {
                        Ok(json) => SseEvent::default().event("change").data(json),
                        Err(_) => continue,
                    },
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e.error, "real-time visibility check failed");
                        SseEvent::default().event("resync").data("{}")
                    }
                },
                Err(broadcast::error::RecvError::Lagged(_)) => SseEvent::default().event("resync").data("{}"),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok(sse), (rx, state, user)));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
