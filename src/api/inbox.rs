//! The inbox: conversations across channels, replies (now or later), assignment, done
//! marks, snippets and the navigation's counts.
use crate::domain::AppError;
use crate::domain::inbox::{ConversationView, InboxCounts, InboxFilter, InboxItem, ReplyInput, ReplyOutcome, Snippet, SnippetInput};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[server(prefix = "/api/fn", endpoint = "list_conversations", input = Json)]
pub async fn list_conversations(filter: InboxFilter) -> Result<Vec<InboxItem>, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::inbox::list(&state.pool, &user, &filter, None).await }).await
}

/// Opens a conversation (and marks it read).
#[server(prefix = "/api/fn", endpoint = "get_conversation")]
pub async fn get_conversation(id: Uuid) -> Result<ConversationView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::inbox::view(&state, &user, id).await }).await
}

#[server(prefix = "/api/fn", endpoint = "unread_counts")]
pub async fn unread_counts() -> Result<InboxCounts, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::inbox::counts(&state.pool, &user).await }).await
}

#[server(prefix = "/api/fn", endpoint = "reply_to_conversation", input = Json)]
pub async fn reply_to_conversation(input: ReplyInput) -> Result<ReplyOutcome, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::inbox::reply(&state, &user, &input).await }).await
}

#[server(prefix = "/api/fn", endpoint = "assign_conversation", input = Json)]
pub async fn assign_conversation(id: Uuid, user_id: Option<Uuid>) -> Result<(), AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::inbox::assign(&state, &user, id, user_id).await }).await
}

#[server(prefix = "/api/fn", endpoint = "mark_conversations_done", input = Json)]
pub async fn mark_conversations_done(ids: Vec<Uuid>) -> Result<i64, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::inbox::done(&state, &user, &ids).await }).await
}

#[server(prefix = "/api/fn", endpoint = "list_snippets")]
pub async fn list_snippets() -> Result<Vec<Snippet>, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::snippets::list(&state.pool, &user).await }).await
}

#[server(prefix = "/api/fn", endpoint = "save_snippet", input = Json)]
pub async fn save_snippet(id: Option<Uuid>, input: SnippetInput) -> Result<Snippet, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::snippets::save(&state.pool, &user, id, &input).await }).await
}

#[server(prefix = "/api/fn", endpoint = "delete_snippet")]
pub async fn delete_snippet(id: Uuid) -> Result<(), AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::snippets::delete(&state.pool, &user, id).await }).await
}
