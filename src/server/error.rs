//! How server-side failures become an `AppError`, and how an `AppError` becomes a response.
use crate::domain::AppError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => AppError::not_found("Record"),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                AppError::conflict(conflict_message(db.constraint()))
            }
            sqlx::Error::Database(db)
                if db.is_foreign_key_violation() || db.is_check_violation() =>
            {
                tracing::info!(error = %e, "constraint rejected a write");
                AppError::unprocessable("That change refers to something that does not exist or is not allowed")
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::error!(error = %e, "database unavailable");
                AppError::unavailable("The database is unavailable; please try again shortly")
            }
            _ => {
                tracing::error!(error = %e, "database error");
                AppError::internal()
            }
        }
    }
}

fn conflict_message(constraint: Option<&str>) -> String {
    match constraint {
        Some("users_email_key") => "A user with that email already exists".into(),
        Some("contacts_phone_key") => "A contact with that phone number already exists".into(),
        Some("contacts_email_key") => "A contact with that email already exists".into(),
        _ => "That conflicts with an existing record".into(),
    }
}

/// What every failed REST call answers, with the error's status.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A message safe to show the user.
    pub error: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(ErrorBody { error: self.error })).into_response()
    }
}

/// Logs an unexpected failure (I/O, a library) and hides its details from the user.
pub fn internal(context: &str, e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "{context}");
    AppError::internal()
}
