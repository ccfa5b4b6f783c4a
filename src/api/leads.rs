//! The Leads page: search, bulk status changes, a contact's page, and CSV imports
//! (the upload itself is a REST route: a file is not a server function argument).
use crate::domain::AppError;
use crate::domain::contact::{BulkStatusChange, ContactDetail, ImportField, ImportView, LeadFilter, LeadPage};
use leptos::prelude::*;
use uuid::Uuid;

/// Leads on one page of the list.
pub const PAGE_SIZE: i64 = 50;

#[server(prefix = "/api/fn", endpoint = "list_leads")]
pub async fn list_leads(filter: LeadFilter, after: Option<Uuid>) -> Result<LeadPage, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::contacts::leads(&state.pool, &user, &filter, after, Some(PAGE_SIZE)).await
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "bulk_set_status")]
pub async fn bulk_set_status(change: BulkStatusChange) -> Result<i64, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::contacts::bulk_set_status(&state.pool, &user, &change).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "get_contact")]
pub async fn get_contact(id: Uuid) -> Result<ContactDetail, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::contacts::detail(&state.pool, &user, id).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "get_import")]
pub async fn get_import(id: Uuid) -> Result<ImportView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::imports::get(&state.pool, &user, id).await }).await
}

#[server(prefix = "/api/fn", endpoint = "start_import")]
pub async fn start_import(id: Uuid, mapping: Vec<ImportField>, consent_source: String) -> Result<ImportView, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::imports::start(&state, &user, id, mapping, &consent_source).await
    })
    .await
}

/// Erases a contact on request (admins): personal data gone, addresses kept suppressed.
#[server(prefix = "/api/fn", endpoint = "erase_contact")]
pub async fn erase_contact(id: Uuid, reason: String) -> Result<(), AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::contacts::erase(&state, &user, id, &reason).await })
        .await
}
