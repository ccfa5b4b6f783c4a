//! Admin › Users, organisation settings and the audit log.
use crate::domain::AppError;
use crate::domain::audit::AuditPage;
use crate::domain::org::OrgSettings;
use crate::domain::user::{InviteOutcome, NewUser, UserUpdate, UserView};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[server(prefix = "/api/fn", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserView>, AppError> {
    super::ctx::signed_in(|state, user| async move {
        user.require_admin()?;
        crate::server::users::list(&state.pool).await
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "create_user")]
pub async fn create_user(new: NewUser) -> Result<InviteOutcome, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::users::create(&state, &user, new).await }).await
}

#[server(prefix = "/api/fn", endpoint = "update_user")]
pub async fn update_user(id: Uuid, change: UserUpdate) -> Result<UserView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::users::update(&state, &user, id, change).await })
        .await
}

/// With a password, sets it; without, makes a single-use reset link (emailed when possible).
#[server(prefix = "/api/fn", endpoint = "reset_user_password")]
pub async fn reset_user_password(id: Uuid, password: Option<String>) -> Result<InviteOutcome, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::users::admin_reset_password(&state, &user, id, password).await
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "get_org")]
pub async fn get_org() -> Result<OrgSettings, AppError> {
    super::ctx::signed_in(|state, user| async move {
        user.require_admin()?;
        crate::server::org::get(&state.pool).await
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "update_org", input = Json)]
pub async fn update_org(settings: OrgSettings) -> Result<OrgSettings, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::org::update(&state, &user, settings).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "list_audit")]
pub async fn list_audit(before: Option<Uuid>) -> Result<AuditPage, AppError> {
    super::ctx::signed_in(|state, user| async move {
        user.require_admin()?;
        crate::server::audit::page(&state.pool, before, 50).await
    })
    .await
}
