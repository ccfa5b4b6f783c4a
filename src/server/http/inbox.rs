//! The inbox over REST: conversations, replies, assignment, done marks, snippets, and the
//! real-time event stream (`GET /api/events`, in `server::realtime`).
use crate::domain::AppError;
use crate::domain::inbox::{ConversationView, InboxCounts, InboxFilter, InboxItem, ReplyInput, ReplyOutcome, Snippet, SnippetInput};
use crate::server::auth::AuthUser;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use crate::server::{inbox, snippets};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

#[utoipa::path(
    get,
    path = "/api/conversations",
    tag = "inbox",
    operation_id = "inbox_list",
    params(InboxFilter),
    responses(
        (status = 200, description = "Conversations, newest first", body = Vec<InboxItem>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, user: AuthUser, Query(filter): Query<InboxFilter>) -> Result<Json<Vec<InboxItem>>, AppError> {
    Ok(Json(inbox::list(&state.pool, &user, &filter, None).await?))
}

#[utoipa::path(
    get,
    path = "/api/conversations/{id}",
    tag = "inbox",
    operation_id = "inbox_get",
    params(("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 200, description = "The conversation", body = ConversationView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
)]
pub async fn get(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<Json<ConversationView>, AppError> {
    Ok(Json(inbox::view(&state, &user, id).await?))
}

#[utoipa::path(
    get,
    path = "/api/inbox/counts",
    tag = "inbox",
    operation_id = "inbox_counts",
    responses(
        (status = 200, description = "Unread and assigned counts", body = InboxCounts),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn counts(State(state): State<AppState>, user: AuthUser) -> Result<Json<InboxCounts>, AppError> {
    Ok(Json(inbox::counts(&state.pool, &user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Reply {
    key: Uuid,
    body: String,
    #[serde(default)]
    send_at: Option<DateTime<Utc>>,
}

#[utoipa::path(
    post,
    path = "/api/conversations/{id}/replies",
    tag = "inbox",
    operation_id = "inbox_reply",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = Reply,
    responses(
        (status = 201, description = "Sent or scheduled (the same key answers the same reply)", body = ReplyOutcome),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn reply(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(r): Json<Reply>,
) -> Result<(StatusCode, Json<ReplyOutcome>), AppError> {
    let input = ReplyInput { conversation_id: id, key: r.key, body: r.body, send_at: r.send_at };
    Ok((StatusCode::CREATED, Json(inbox::reply(&state, &user, &input).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Assign {
    user_id: Option<Uuid>,
}

#[utoipa::path(
    put,
    path = "/api/conversations/{id}/assignee",
    tag = "inbox",
    operation_id = "inbox_assign",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = Assign,
    responses(
        (status = 204, description = "Assigned"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn assign(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, Json(a): Json<Assign>) -> Result<StatusCode, AppError> {
    inbox::assign(&state, &user, id, a.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Done {
    ids: Vec<Uuid>,
}

#[utoipa::path(
    post,
    path = "/api/conversations/done",
    tag = "inbox",
    operation_id = "inbox_done",
    request_body = Done,
    responses(
        (status = 200, description = "How many were marked done", body = serde_json::Value, example = json!({"done": 2})),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn done(State(state): State<AppState>, user: AuthUser, Json(d): Json<Done>) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({ "done": inbox::done(&state, &user, &d.ids).await? })))
}

#[utoipa::path(
    get,
    path = "/api/snippets",
    tag = "inbox",
    operation_id = "inbox_list_snippets",
    responses(
        (status = 200, description = "The user's snippets", body = Vec<Snippet>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn list_snippets(State(state): State<AppState>, user: AuthUser) -> Result<Json<Vec<Snippet>>, AppError> {
    Ok(Json(snippets::list(&state.pool, &user).await?))
}

#[utoipa::path(
    post,
    path = "/api/snippets",
    tag = "inbox",
    operation_id = "inbox_create_snippet",
    request_body = SnippetInput,
    responses(
        (status = 201, description = "Created", body = Snippet),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn create_snippet(State(state): State<AppState>, user: AuthUser, Json(input): Json<SnippetInput>) -> Result<(StatusCode, Json<Snippet>), AppError> {
    Ok((StatusCode::CREATED, Json(snippets::save(&state.pool, &user, None, &input).await?)))
}

#[utoipa::path(
    put,
    path = "/api/snippets/{id}",
    tag = "inbox",
    operation_id = "inbox_update_snippet",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = SnippetInput,
    responses(
        (status = 200, description = "Saved", body = Snippet),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn update_snippet(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<SnippetInput>,
) -> Result<Json<Snippet>, AppError> {
    Ok(Json(snippets::save(&state.pool, &user, Some(id), &input).await?))
}

#[utoipa::path(
    delete,
    path = "/api/snippets/{id}",
    tag = "inbox",
    operation_id = "inbox_delete_snippet",
    params(("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
)]
pub async fn delete_snippet(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<StatusCode, AppError> {
    snippets::delete(&state.pool, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
