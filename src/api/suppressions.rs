//! The suppression list page (admins).
use crate::domain::AppError;
use crate::domain::suppression::{SuppressionImport, SuppressionView};
use leptos::prelude::*;
use uuid::Uuid;

#[server(prefix = "/api/fn", endpoint = "list_suppressions")]
pub async fn list_suppressions(q: String) -> Result<Vec<SuppressionView>, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::suppressions::search(&state, &user, &q).await }).await
}

#[server(prefix = "/api/fn", endpoint = "add_suppression")]
pub async fn add_suppression(address: String, reason: String) -> Result<SuppressionView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::suppressions::add(&state, &user, &address, &reason).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "remove_suppression")]
pub async fn remove_suppression(id: Uuid, reason: String) -> Result<(), AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::suppressions::remove(&state, &user, id, &reason).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "import_suppressions")]
pub async fn import_suppressions(text: String) -> Result<SuppressionImport, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::suppressions::import_csv(&state, &user, &text).await })
        .await
}
