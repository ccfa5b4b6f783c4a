//! Statistics: the dashboard, `/api/stats`, a campaign's funnel and the analytics tables,
//! limited to what the signed-in user may see. They read from the replica when one is set.
use crate::domain::AppError;
// Qualified: each function's generated argument struct takes its CamelCase name.
use crate::domain::stats::{self as s, StatsQuery};
use leptos::prelude::*;
use uuid::Uuid;

#[server(prefix = "/api/fn", endpoint = "dashboard")]
pub async fn dashboard() -> Result<s::Dashboard, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::stats::dashboard(&state, &user).await }).await
}

#[server(prefix = "/api/fn", endpoint = "stats")]
pub async fn stats(#[server(default)] query: StatsQuery) -> Result<s::Stats, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::stats::stats(&state, &user, &query).await }).await
}

#[server(prefix = "/api/fn", endpoint = "campaign_stats")]
pub async fn campaign_stats(campaign_id: Uuid, #[server(default)] query: StatsQuery) -> Result<s::CampaignStats, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::stats::campaign(&state, &user, campaign_id, &query).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "analytics")]
pub async fn analytics(#[server(default)] query: StatsQuery) -> Result<s::Analytics, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::stats::analytics(&state, &user, &query).await }).await
}
