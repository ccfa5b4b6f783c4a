//! The dashboard, limited to what the signed-in user may see.
use crate::domain::AppError;
use crate::domain::campaign::DashboardCounts;
use leptos::prelude::*;

#[server(prefix = "/api/fn", endpoint = "dashboard")]
pub async fn dashboard() -> Result<DashboardCounts, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::campaigns::dashboard(&state.pool, &user).await })
        .await
}
