//! MMS media, served to users who may see the conversation.
use crate::domain::AppError;
use crate::server::auth::AuthUser;
use crate::server::media;
use crate::server::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

pub async fn get(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let (content_type, body) = media::open(&state, &user, id).await?;
    // The files are the contacts', served from the app's own origin: never sniffed into
    // something runnable, and sandboxed if opened directly.
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (header::CONTENT_SECURITY_POLICY, "sandbox".into()),
            (header::CACHE_CONTROL, "private, max-age=3600".into()),
        ],
        body,
    )
        .into_response())
}
