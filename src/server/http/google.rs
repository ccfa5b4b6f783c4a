//! Connecting a Google account: the browser is sent to Google's consent page and comes
//! back to the callback, which ends on the Settings page saying how it went.
use crate::domain::AppError;
use crate::server::auth::AuthUser;
use crate::server::gmail;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use axum::extract::{Query, State};
use axum::response::Redirect;
use serde::Deserialize;

#[utoipa::path(
    get,
    path = "/api/google/connect",
    tag = "google",
    operation_id = "google_connect",
    responses(
        (status = 303, description = "To Google's consent page"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn connect(State(state): State<AppState>, user: AuthUser) -> Result<Redirect, AppError> {
    Ok(Redirect::to(&gmail::connect_url(&state, &user).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    /// Google's answer when the user declined, e.g. `access_denied`.
    error: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/google/callback",
    tag = "google",
    operation_id = "google_callback",
    params(Callback),
    responses(
        (status = 303, description = "To Settings, saying whether the account was connected"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn callback(State(state): State<AppState>, user: AuthUser, Query(q): Query<Callback>) -> Redirect {
    let result = match (q.code, q.state, q.error) {
        (_, _, Some(e)) => Err(format!("Google said {e}")),
        (Some(code), Some(csrf), None) => gmail::callback(&state, &user, &code, &csrf).await.map_err(|e| e.error),
        _ => Err("Google's answer had no code".into()),
    };
    match result {
        Ok(_) => Redirect::to("/settings?google=connected"),
        Err(reason) => {
            tracing::warn!(user = %user.id, reason, "Google account not connected");
            let reason: String = form_urlencoded::byte_serialize(reason.as_bytes()).collect();
            Redirect::to(&format!("/settings?google=error&reason={reason}"))
        }
    }
}
