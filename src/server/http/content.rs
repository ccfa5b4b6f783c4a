use crate::domain::AppError;
use crate::domain::content::{ContentInput, ContentView, Preview};
use crate::server::auth::AuthUser;
use crate::server::content as contents;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

#[utoipa::path(
    get,
    path = "/api/content",
    tag = "content",
    operation_id = "content_list",
    responses(
        (status = 200, description = "The content library", body = Vec<ContentView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, _user: AuthUser) -> Result<Json<Vec<ContentView>>, AppError> {
    Ok(Json(contents::list(&state.pool).await?))
}

#[utoipa::path(
    post,
    path = "/api/content",
    tag = "content",
    operation_id = "content_create",
    request_body = ContentInput,
    responses(
        (status = 201, description = "Created", body = ContentView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(input): Json<ContentInput>,
) -> Result<(StatusCode, Json<ContentView>), AppError> {
    Ok((StatusCode::CREATED, Json(contents::create(&state, &user, &input).await?)))
}

#[utoipa::path(
    put,
    path = "/api/content/{id}",
    tag = "content",
    operation_id = "content_update",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = ContentInput,
    responses(
        (status = 200, description = "Saved", body = ContentView),
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
    Json(input): Json<ContentInput>,
) -> Result<Json<ContentView>, AppError> {
    Ok(Json(contents::update(&state, &user, id, &input).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PreviewRequest {
    #[serde(flatten)]
    input: ContentInput,
    campaign_id: Option<Uuid>,
    contact_id: Option<Uuid>,
}

#[utoipa::path(
    post,
    path = "/api/content/preview",
    tag = "content",
    operation_id = "content_preview",
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "Rendered for a contact", body = Preview),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn preview(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<PreviewRequest>,
) -> Result<Json<Preview>, AppError> {
    Ok(Json(contents::preview(&state.pool, &user, &body.input, body.campaign_id, body.contact_id).await?))
}
