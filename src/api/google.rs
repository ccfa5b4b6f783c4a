//! The signed-in user's Google account: its state, syncing it now, disconnecting it. The
//! connection itself is a browser redirect (`/api/google/connect`).
use crate::domain::AppError;
use crate::domain::google::{GoogleAccountView, SyncReport};
use leptos::prelude::*;

#[server(prefix = "/api/fn", endpoint = "get_google_account")]
pub async fn get_google_account() -> Result<GoogleAccountView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::gmail::view(&state, user.id).await }).await
}

/// Fetches the mailbox's new mail now instead of at the next scheduled sync.
#[server(prefix = "/api/fn", endpoint = "sync_google_now")]
pub async fn sync_google_now() -> Result<SyncReport, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::gmail::sync_now(&state, user.id).await }).await
}

/// Deletes the tokens (and asks Google to revoke them).
#[server(prefix = "/api/fn", endpoint = "disconnect_google")]
pub async fn disconnect_google() -> Result<GoogleAccountView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::gmail::disconnect(&state, &user).await }).await
}
