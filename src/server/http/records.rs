use crate::domain::AppError;
use crate::domain::campaign::DashboardCounts;
use crate::server::auth::AuthUser;
use crate::server::state::AppState;
use crate::server::campaigns;
use axum::Json;
use axum::extract::State;

pub async fn dashboard(State(state): State<AppState>, user: AuthUser) -> Result<Json<DashboardCounts>, AppError> {
    Ok(Json(campaigns::dashboard(&state.pool, &user).await?))
}
