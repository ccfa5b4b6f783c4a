//! The inbox over REST: conversations, replies, assignment, done marks, snippets, and the
//! real-time event stream (`GET /api/events`, in `server::realtime`).
use crate::domain::AppError;
use crate::domain::inbox::{ConversationView, InboxCounts, InboxFilter, InboxItem, ReplyInput, ReplyOutcome, Snippet, SnippetInput};
use crate::server::auth::AuthUser;
use crate::server::state::AppState;
use crate::server::{inbox, snippets};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

pub async fn list(State(state): State<AppState>, user: AuthUser, Query(filter): Query<InboxFilter>) -> Result<Json<Vec<InboxItem>>, AppError> {
    Ok(Json(inbox::list(&state.pool, &user, &filter, None).await?))
}

pub async fn get(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<Json<ConversationView>, AppError> {
    Ok(Json(inbox::view(&state, &user, id).await?))
}

pub async fn counts(State(state): State<AppState>, user: AuthUser) -> Result<Json<InboxCounts>, AppError> {
    Ok(Json(inbox::counts(&state.pool, &user).await?))
}

#[derive(Deserialize)]
pub struct Reply {
    key: Uuid,
    body: String,
    #[serde(default)]
    send_at: Option<DateTime<Utc>>,
}

pub async fn reply(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(r): Json<Reply>,
) -> Result<(StatusCode, Json<ReplyOutcome>), AppError> {
    let input = ReplyInput { conversation_id: id, key: r.key, body: r.body, send_at: r.send_at };
    Ok((StatusCode::CREATED, Json(inbox::reply(&state, &user, &input).await?)))
}

#[derive(Deserialize)]
pub struct Assign {
    user_id: Option<Uuid>,
}

pub async fn assign(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, Json(a): Json<Assign>) -> Result<StatusCode, AppError> {
    inbox::assign(&state, &user, id, a.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct Done {
    ids: Vec<Uuid>,
}

pub async fn done(State(state): State<AppState>, user: AuthUser, Json(d): Json<Done>) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({ "done": inbox::done(&state, &user, &d.ids).await? })))
}

pub async fn list_snippets(State(state): State<AppState>, user: AuthUser) -> Result<Json<Vec<Snippet>>, AppError> {
    Ok(Json(snippets::list(&state.pool, &user).await?))
}

pub async fn create_snippet(State(state): State<AppState>, user: AuthUser, Json(input): Json<SnippetInput>) -> Result<(StatusCode, Json<Snippet>), AppError> {
    Ok((StatusCode::CREATED, Json(snippets::save(&state.pool, &user, None, &input).await?)))
}

pub async fn update_snippet(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<SnippetInput>,
) -> Result<Json<Snippet>, AppError> {
    Ok(Json(snippets::save(&state.pool, &user, Some(id), &input).await?))
}

pub async fn delete_snippet(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<StatusCode, AppError> {
    snippets::delete(&state.pool, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
