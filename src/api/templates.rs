//! Funnel templates: everyone signed in reads them, admins write them.
use crate::domain::AppError;
use crate::domain::funnel::GraphDraft;
use crate::domain::template::{GraphFormat, TemplateDetail, TemplateSummary};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[server(prefix = "/api/fn", endpoint = "list_templates")]
pub async fn list_templates() -> Result<Vec<TemplateSummary>, AppError> {
    super::ctx::signed_in(|state, _user| async move { crate::server::templates::list(&state.pool).await }).await
}

#[server(prefix = "/api/fn", endpoint = "get_template")]
pub async fn get_template(id: Uuid) -> Result<TemplateDetail, AppError> {
    super::ctx::signed_in(|state, _user| async move { crate::server::templates::detail(&state.pool, id).await }).await
}

#[server(prefix = "/api/fn", endpoint = "create_template")]
pub async fn create_template(name: String) -> Result<TemplateDetail, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::templates::create(&state, &user, &name, &GraphDraft::default()).await
    })
    .await
}

/// Saves a draft graph; an invalid draft is kept and its issues come back.
#[server(prefix = "/api/fn", endpoint = "save_template", input = Json)]
pub async fn save_template(id: Uuid, name: String, draft: GraphDraft) -> Result<TemplateDetail, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::templates::save(&state, &user, id, &name, &draft).await
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "publish_template")]
pub async fn publish_template(id: Uuid) -> Result<TemplateDetail, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::templates::publish(&state, &user, id).await }).await
}

#[server(prefix = "/api/fn", endpoint = "export_template")]
pub async fn export_template(id: Uuid, format: GraphFormat) -> Result<String, AppError> {
    super::ctx::signed_in(|state, _user| async move { crate::server::templates::export(&state.pool, id, format).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "import_template", input = Json)]
pub async fn import_template(name: String, format: GraphFormat, text: String) -> Result<TemplateDetail, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::templates::import(&state, &user, &name, format, &text).await
    })
    .await
}
