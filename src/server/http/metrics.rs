//! `GET /metrics`: Prometheus text for a scraper holding `metrics_token`.
use crate::domain::AppError;
use crate::server::auth::session;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// The Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// 404 while no token is set, so an unconfigured server shows nothing; 401 without the token.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    operation_id = "metrics_scrape",
    responses(
        (status = 200, description = "Prometheus text; send `Authorization: Bearer` with the metrics token", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "No or wrong metrics token", body = ErrorBody),
        (status = 404, description = "Metrics are not configured", body = ErrorBody),
    ),
    // The metrics token, not a user's session.
    security(()),
)]
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let expected = state.settings.metrics_token.as_bytes();
    if expected.is_empty() {
        return Err(AppError::not_found("Page"));
    }
    let given = session::bearer_token(&headers).unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(expected)) {
        return Err(AppError { status: 401, error: "A valid metrics token is required".into() });
    }
    let body = crate::server::metrics::scrape(&state).await.ok_or_else(|| AppError::unavailable("Metrics are not being recorded"))?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], body).into_response())
}
