//! The suppression list's CSV export (admins).
use crate::domain::AppError;
use crate::server::auth::AuthUser;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use crate::server::suppressions;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

#[utoipa::path(
    get,
    path = "/api/suppressions/export.csv",
    tag = "leads",
    operation_id = "suppressions_export",
    responses(
        (status = 200, description = "The suppression list as CSV", body = String, content_type = "text/csv"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    ),
)]
pub async fn export(State(state): State<AppState>, user: AuthUser) -> Result<Response, AppError> {
    let csv = suppressions::export_csv(&state.pool, &user).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"suppressions.csv\""),
        ],
        csv,
    )
        .into_response())
}
