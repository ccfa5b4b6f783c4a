use crate::domain::AppError;
use crate::domain::audit::AuditPage;
use crate::domain::org::OrgSettings;
use crate::domain::user::{InviteOutcome, NewUser, UserUpdate, UserView};
use crate::server::auth::AuthUser;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use crate::server::{audit, org, users};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

#[utoipa::path(
    get,
    path = "/api/users",
    tag = "users",
    operation_id = "users_list",
    responses(
        (status = 200, description = "All users", body = Vec<UserView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> Result<Json<Vec<UserView>>, AppError> {
    user.require_admin()?;
    Ok(Json(users::list(&state.pool).await?))
}

#[utoipa::path(
    post,
    path = "/api/users",
    tag = "users",
    operation_id = "users_create",
    request_body = NewUser,
    responses(
        (status = 201, description = "Invited", body = InviteOutcome),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Json<InviteOutcome>), AppError> {
    Ok((StatusCode::CREATED, Json(users::create(&state, &user, body).await?)))
}

#[utoipa::path(
    patch,
    path = "/api/users/{id}",
    tag = "users",
    operation_id = "users_update",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = UserUpdate,
    responses(
        (status = 200, description = "Saved", body = UserView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<UserUpdate>,
) -> Result<Json<UserView>, AppError> {
    Ok(Json(users::update(&state, &user, id, body).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct AdminReset {
    password: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/users/{id}/reset-password",
    tag = "users",
    operation_id = "users_reset_password",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = Option<AdminReset>,
    responses(
        (status = 200, description = "A new password (or a reset link)", body = InviteOutcome),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn reset_password(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    body: Option<Json<AdminReset>>,
) -> Result<Json<InviteOutcome>, AppError> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    Ok(Json(users::admin_reset_password(&state, &user, id, body.password).await?))
}

#[utoipa::path(
    get,
    path = "/api/org",
    tag = "users",
    operation_id = "users_org",
    responses(
        (status = 200, description = "The organisation's settings", body = OrgSettings),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    ),
)]
pub async fn org(State(state): State<AppState>, user: AuthUser) -> Result<Json<OrgSettings>, AppError> {
    user.require_admin()?;
    Ok(Json(org::get(&state.pool).await?))
}

#[utoipa::path(
    put,
    path = "/api/org",
    tag = "users",
    operation_id = "users_update_org",
    request_body = OrgSettings,
    responses(
        (status = 200, description = "Saved", body = OrgSettings),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn update_org(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<OrgSettings>,
) -> Result<Json<OrgSettings>, AppError> {
    Ok(Json(org::update(&state, &user, body).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    before: Option<Uuid>,
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/audit",
    tag = "users",
    operation_id = "users_audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Newest entries first", body = AuditPage),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    ),
)]
pub async fn audit(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    user.require_admin()?;
    Ok(Json(audit::page(&state.pool, q.before, q.limit.unwrap_or(50)).await?))
}
