//! Message content: everyone signed in reads and previews it, admins write it.
use crate::domain::AppError;
use crate::domain::content::{ContentInput, ContentView, Preview};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[server(prefix = "/api/fn", endpoint = "list_content")]
pub async fn list_content() -> Result<Vec<ContentView>, AppError> {
    super::ctx::signed_in(|state, _user| async move { crate::server::content::list(&state.pool).await }).await
}

#[server(prefix = "/api/fn", endpoint = "save_content", input = Json)]
pub async fn save_content(id: Option<Uuid>, input: ContentInput) -> Result<ContentView, AppError> {
    super::ctx::signed_in(|state, user| async move {
        match id {
            Some(id) => crate::server::content::update(&state, &user, id, &input).await,
            None => crate::server::content::create(&state, &user, &input).await,
        }
    })
    .await
}

/// Content as a chosen contact of one of the user's campaigns would get it.
#[server(prefix = "/api/fn", endpoint = "preview_content", input = Json)]
pub async fn preview_content(input: ContentInput, campaign_id: Option<Uuid>, contact_id: Option<Uuid>) -> Result<Preview, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::content::preview(&state.pool, &user, &input, campaign_id, contact_id).await
    })
    .await
}
