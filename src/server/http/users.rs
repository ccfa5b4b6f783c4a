use crate::domain::AppError;
use crate::domain::audit::AuditPage;
use crate::domain::org::OrgSettings;
use crate::domain::user::{InviteOutcome, NewUser, UserUpdate, UserView};
use crate::server::auth::AuthUser;
use crate::server::state::AppState;
use crate::server::{audit, org, users};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

pub async fn list(State(state): State<AppState>, user: AuthUser) -> Result<Json<Vec<UserView>>, AppError> {
    user.require_admin()?;
    Ok(Json(users::list(&state.pool).await?))
}

pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Json<InviteOutcome>), AppError> {
    Ok((StatusCode::CREATED, Json(users::create(&state, &user, body).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<UserUpdate>,
) -> Result<Json<UserView>, AppError> {
    Ok(Json(users::update(&state, &user, id, body).await?))
}

#[derive(Deserialize, Default)]
pub struct AdminReset {
    password: Option<String>,
}

pub async fn reset_password(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    body: Option<Json<AdminReset>>,
) -> Result<Json<InviteOutcome>, AppError> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    Ok(Json(users::admin_reset_password(&state, &user, id, body.password).await?))
}

pub async fn org(State(state): State<AppState>, user: AuthUser) -> Result<Json<OrgSettings>, AppError> {
    user.require_admin()?;
    Ok(Json(org::get(&state.pool).await?))
}

pub async fn update_org(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<OrgSettings>,
) -> Result<Json<OrgSettings>, AppError> {
    Ok(Json(org::update(&state, &user, body).await?))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<Uuid>,
    limit: Option<i64>,
}

pub async fn audit(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    user.require_admin()?;
    Ok(Json(audit::page(&state.pool, q.before, q.limit.unwrap_or(50)).await?))
}
