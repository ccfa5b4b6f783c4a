//! Bonzo's event hooks: replies and delivery reports, on a URL carrying a shared secret.
use crate::domain::AppError;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

#[utoipa::path(
    post,
    path = "/api/bonzo/webhook/{secret}",
    tag = "webhooks",
    operation_id = "bonzo_webhook",
    params(("secret" = String, Path, description = "The webhook's shared secret")),
    request_body(content = serde_json::Value, description = "Bonzo's event, as it sends it"),
    responses(
        (status = 200, description = "Recorded"),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
    security(()),
)]
pub async fn webhook(State(state): State<AppState>, Path(secret): Path<String>, body: Bytes) -> Result<StatusCode, AppError> {
    crate::server::bonzo::webhook(&state, &secret, &body).await?;
    Ok(StatusCode::OK)
}
