//! Read views of conversations and the dashboard, each limited to what
//! the signed-in user may see.
use crate::domain::AppError;
use crate::domain::campaign::{ConversationDetail, ConversationSummary, DashboardCounts};
use leptos::prelude::*;
use uuid::Uuid;

#[server(prefix = "/api/fn", endpoint = "dashboard")]
pub async fn dashboard() -> Result<DashboardCounts, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::campaigns::dashboard(&state.pool, &user).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "list_conversations")]
pub async fn list_conversations() -> Result<Vec<ConversationSummary>, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::conversations::list(&state.pool, &user).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "get_conversation")]
pub async fn get_conversation(id: Uuid) -> Result<ConversationDetail, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::conversations::get(&state.pool, &user, id).await })
        .await
}
