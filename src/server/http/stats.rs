use crate::domain::AppError;
use crate::domain::stats::{Analytics, CampaignStats, Dashboard, ExportTable, Stats, StatsQuery};
use crate::server::auth::AuthUser;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use crate::server::stats;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;

#[utoipa::path(
    get,
    path = "/api/dashboard",
    tag = "stats",
    operation_id = "stats_dashboard",
    responses(
        (status = 200, description = "The last 30 days' statistics, replies waiting, upcoming events and recent activity", body = Dashboard),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn dashboard(State(state): State<AppState>, user: AuthUser) -> Result<Json<Dashboard>, AppError> {
    Ok(Json(stats::dashboard(&state, &user).await?))
}

#[utoipa::path(
    get,
    path = "/api/stats",
    tag = "stats",
    operation_id = "stats_get",
    params(StatsQuery),
    responses(
        (status = 200, description = "Exact counts over what the user may see (a BDR: their campaigns), days in the organisation's zone", body = Stats),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "The range ends before it starts, or is too long", body = ErrorBody),
    ),
)]
pub async fn get(State(state): State<AppState>, user: AuthUser, Query(q): Query<StatsQuery>) -> Result<Json<Stats>, AppError> {
    Ok(Json(stats::stats(&state, &user, &q).await?))
}

#[utoipa::path(
    get,
    path = "/api/campaigns/{id}/stats",
    tag = "stats",
    operation_id = "stats_campaign",
    params(StatsQuery, ("id" = Uuid, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The campaign's funnel by step, channel and sender", body = CampaignStats),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "The range ends before it starts, or is too long", body = ErrorBody),
    ),
)]
pub async fn campaign(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<CampaignStats>, AppError> {
    Ok(Json(stats::campaign(&state, &user, id, &q).await?))
}

#[utoipa::path(
    get,
    path = "/api/analytics",
    tag = "stats",
    operation_id = "stats_analytics",
    params(StatsQuery),
    responses(
        (status = 200, description = "Campaigns compared, BDRs ranked, channels", body = Analytics),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "The range ends before it starts, or is too long", body = ErrorBody),
    ),
)]
pub async fn analytics(State(state): State<AppState>, user: AuthUser, Query(q): Query<StatsQuery>) -> Result<Json<Analytics>, AppError> {
    Ok(Json(stats::analytics(&state, &user, &q).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Which table: campaigns, bdrs, channels, nodes (needs campaign_id) or days.
    table: ExportTable,
}

#[utoipa::path(
    get,
    path = "/api/analytics/export.csv",
    tag = "stats",
    operation_id = "stats_export",
    params(ExportQuery, StatsQuery),
    responses(
        (status = 200, description = "The table as CSV; text cells that a spreadsheet would run as a formula start with '", content_type = "text/csv"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Campaign not found (or not yours)", body = ErrorBody),
        (status = 422, description = "A bad range, or nodes without a campaign", body = ErrorBody),
    ),
)]
pub async fn export(
    State(state): State<AppState>,
    user: AuthUser,
    Query(t): Query<ExportQuery>,
    Query(q): Query<StatsQuery>,
) -> Result<impl IntoResponse, AppError> {
    let csv = stats::export(&state, &user, t.table, &q).await?;
    let name = format!("attachment; filename=\"turnout-{}.csv\"", t.table.as_str());
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, name)], csv))
}
