//! Twilio's webhooks. Each is verified first (`webhooks::twilio::verified`): a bad or
//! missing signature is 403, a malformed report 400, and both are logged.
use crate::domain::AppError;
use crate::domain::merge::escape_html;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use crate::server::webhooks::twilio::verified;
use crate::server::{conversations, media, outbound, replies};
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;

/// `StatusCallback`: queued, sent, delivered, undelivered, failed (with `ErrorCode`).
#[utoipa::path(
    post,
    path = "/api/twilio/status",
    tag = "webhooks",
    operation_id = "twilio_status",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The provider's report, as it sends it"),
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    ),
    security(()),
)]
pub async fn status(State(state): State<AppState>, OriginalUri(uri): OriginalUri, headers: HeaderMap, body: Bytes) -> Result<StatusCode, AppError> {
    let p = verified(&state, &uri, &headers, &body).await?;
    let sid = p.require("MessageSid")?;
    let status = p.require("MessageStatus")?;
    // `m`: Turnout's message id, which each message's StatusCallback URL carries.
    let message = uri.query().and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "m")).and_then(|(_, v)| v.parse().ok());
    let known =
        conversations::record_delivery(&state.pool, message, &["twilio", "sandbox"], sid, status, p.get("ErrorCode"), None, chrono::Utc::now()).await?;
    if !known {
        tracing::info!(sid, status, "delivery report for a message Turnout did not send");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// An inbound text (a number's "A message comes in" webhook). It is committed before the
/// answer: a failure before that is a 5xx, so Twilio tries again (the same `MessageSid` is
/// stored once); once committed, Twilio gets its 200 whatever happens next. The answer is
/// TwiML: empty, or a `<Message>` with the HELP text.
#[utoipa::path(
    post,
    path = "/api/twilio/inbound-sms",
    tag = "webhooks",
    operation_id = "twilio_inbound_sms",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The provider's report, as it sends it"),
    responses(
        (status = 200, description = "TwiML: empty, or a `<Message>` with the HELP text", body = String, content_type = "text/xml"),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 500, description = "Not stored; will be retried", body = ErrorBody),
    ),
    security(()),
)]
pub async fn inbound_sms(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, AppError> {
    let p = verified(&state, &uri, &headers, &body).await?;
    let sms = replies::Inbound::from_params(&p)?;
    let outcome = replies::receive(&state, &sms).await.map_err(|e| {
        tracing::error!(sid = sms.message_sid, error = %e.error, "inbound text not stored; Twilio will retry");
        if e.status >= 500 { e } else { AppError::internal() }
    })?;
    if let Some(id) = outcome.fetch_media {
        tokio::spawn(media::fetch_message(state.clone(), id));
    }
    if let Some(id) = outcome.send {
        tokio::spawn(outbound::send(state.clone(), id, sms.account_sid.to_string()));
    }
    let message = outcome.answer.map(|text| format!("<Message>{}</Message>", escape_html(&text))).unwrap_or_default();
    Ok(([(header::CONTENT_TYPE, "text/xml")], format!("<Response>{message}</Response>")))
}
