//! Bonzo's event hooks: replies and delivery reports, on a URL carrying a shared secret.
use crate::domain::AppError;
use crate::server::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

pub async fn webhook(State(state): State<AppState>, Path(secret): Path<String>, body: Bytes) -> Result<StatusCode, AppError> {
    crate::server::bonzo::webhook(&state, &secret, &body).await?;
    Ok(StatusCode::OK)
}
