use crate::server::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use std::time::Duration;

/// `{ok, db, version, uptime_s}`; 503 when the database does not answer.
#[utoipa::path(
    get,
    path = "/health",
    tag = "ops",
    operation_id = "health_health",
    responses(
        (status = 200, description = "Up", body = serde_json::Value, example = json!({"ok": true, "db": "up", "version": "0.1.0", "uptime_s": 42})),
        (status = 503, description = "The database does not answer", body = serde_json::Value, example = json!({"ok": false, "db": "down", "error": "database unreachable", "version": "0.1.0", "uptime_s": 42})),
    ),
    security(()),
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let uptime_s = state.started.elapsed().as_secs();
    let version = env!("CARGO_PKG_VERSION");
    let ping = tokio::time::timeout(Duration::from_secs(3), sqlx::query("SELECT 1").execute(&state.pool)).await;
    match ping {
        Ok(Ok(_)) => (StatusCode::OK, Json(json!({ "ok": true, "db": "up", "version": version, "uptime_s": uptime_s }))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            unavailable(version, uptime_s)
        }
        Err(_) => {
            tracing::warn!("health check: database timed out");
            unavailable(version, uptime_s)
        }
    }
}

fn unavailable(version: &str, uptime_s: u64) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "ok": false, "db": "down", "error": "database unreachable", "version": version, "uptime_s": uptime_s })),
    )
}
