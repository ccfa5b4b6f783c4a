use crate::domain::AppError;
use crate::domain::campaign::DashboardCounts;
use crate::server::auth::AuthUser;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use crate::server::campaigns;
use axum::Json;
use axum::extract::State;

#[utoipa::path(
    get,
    path = "/api/dashboard",
    tag = "campaigns",
    operation_id = "records_dashboard",
    responses(
        (status = 200, description = "Counts over the user's campaigns", body = DashboardCounts),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn dashboard(State(state): State<AppState>, user: AuthUser) -> Result<Json<DashboardCounts>, AppError> {
    Ok(Json(campaigns::dashboard(&state.pool, &user).await?))
}
