//! Voicemail: the voices, the builder's spoken preview, and the accounts behind them.
use crate::domain::AppError;
use crate::domain::voicemail::{SlybroadcastAccountInput, VoicemailAccountsView, VoicemailPreview, VoicemailPreviewInput, Voices};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(prefix = "/api/fn", endpoint = "list_voices")]
pub async fn list_voices() -> Result<Voices, AppError> {
    super::ctx::signed_in(|state, _user| async move { crate::server::voicemail::voices(&state).await }).await
}

/// The script as the chosen contact would hear it, rendered to speech (cached like a drop's).
#[server(prefix = "/api/fn", endpoint = "preview_voicemail", input = Json)]
pub async fn preview_voicemail(input: VoicemailPreviewInput) -> Result<VoicemailPreview, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::voicemail::preview(&state, &user, &input).await }).await
}

#[server(prefix = "/api/fn", endpoint = "get_voicemail_accounts")]
pub async fn get_voicemail_accounts() -> Result<VoicemailAccountsView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::voicemail::accounts_view(&state, user.id).await }).await
}

/// Sets (or with an empty login removes) a Slybroadcast account: the user's own, or with
/// `org` the organisation's (admins).
#[server(prefix = "/api/fn", endpoint = "set_slybroadcast_account", input = Json)]
pub async fn set_slybroadcast_account(input: SlybroadcastAccountInput, org: bool) -> Result<VoicemailAccountsView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::voicemail::set_slybroadcast(&state, &user, org, &input).await })
        .await
}

/// Sets (or with an empty key removes) the organisation's ElevenLabs API key (admins).
#[server(prefix = "/api/fn", endpoint = "set_elevenlabs_key", input = Json)]
pub async fn set_elevenlabs_key(api_key: String) -> Result<VoicemailAccountsView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::voicemail::set_elevenlabs(&state, &user, &api_key).await }).await
}
