use crate::domain::AppError;
use crate::domain::campaign::{ConversationDetail, ConversationSummary, DashboardCounts};
use crate::server::auth::AuthUser;
use crate::server::state::AppState;
use crate::server::{campaigns, conversations};
use axum::Json;
use axum::extract::{Path, State};
use uuid::Uuid;

pub async fn dashboard(State(state): State<AppState>, user: AuthUser) -> Result<Json<DashboardCounts>, AppError> {
    Ok(Json(campaigns::dashboard(&state.pool, &user).await?))
}

pub async fn conversations(State(state): State<AppState>, user: AuthUser) -> Result<Json<Vec<ConversationSummary>>, AppError> {
    Ok(Json(conversations::list(&state.pool, &user).await?))
}

pub async fn conversation(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<ConversationDetail>, AppError> {
    Ok(Json(conversations::get(&state.pool, &user, id).await?))
}
