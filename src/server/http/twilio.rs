//! Twilio's webhooks. Each is verified first (`webhooks::twilio::verified`): a bad or
//! missing signature is 403, a malformed report 400, and both are logged.
use crate::domain::AppError;
use crate::server::conversations;
use crate::server::state::AppState;
use crate::server::webhooks::twilio::verified;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};

/// `StatusCallback`: queued, sent, delivered, undelivered, failed (with `ErrorCode`).
pub async fn status(State(state): State<AppState>, OriginalUri(uri): OriginalUri, headers: HeaderMap, body: Bytes) -> Result<StatusCode, AppError> {
    let p = verified(&state, &uri, &headers, &body).await?;
    let sid = p.require("MessageSid")?;
    let status = p.require("MessageStatus")?;
    // `m`: Turnout's message id, which each message's StatusCallback URL carries.
    let message = uri.query().and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "m")).and_then(|(_, v)| v.parse().ok());
    let known =
        conversations::record_delivery(&state.pool, message, &["twilio", "sandbox"], sid, status, p.get("ErrorCode"), chrono::Utc::now()).await?;
    if !known {
        tracing::info!(sid, status, "delivery report for a message Turnout did not send");
    }
    Ok(StatusCode::NO_CONTENT)
}
