//! Texting through Bonzo: the account, the choice of provider, and (admins) the webhook URL.
use crate::domain::AppError;
use crate::domain::bonzo::{BonzoAccountInput, BonzoView};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(prefix = "/api/fn", endpoint = "get_bonzo")]
pub async fn get_bonzo() -> Result<BonzoView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::bonzo::view(&state, &user).await }).await
}

/// Sets (or with an empty token removes) a Bonzo API token: the user's own, or with `org`
/// the organisation's (admins).
#[server(prefix = "/api/fn", endpoint = "set_bonzo_account", input = Json)]
pub async fn set_bonzo_account(input: BonzoAccountInput, org: bool) -> Result<BonzoView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::bonzo::set_account(&state, &user, org, &input).await }).await
}

/// What texts go out through, `twilio` or `bonzo`: the user's own choice (empty: the
/// organisation's), or with `org` the organisation's default (admins).
#[server(prefix = "/api/fn", endpoint = "set_sms_provider", input = Json)]
pub async fn set_sms_provider(choice: String, org: bool) -> Result<BonzoView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::bonzo::set_choice(&state, &user, org, &choice).await }).await
}
