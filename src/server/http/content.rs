use crate::domain::AppError;
use crate::domain::content::{ContentInput, ContentView, Preview};
use crate::server::auth::AuthUser;
use crate::server::content as contents;
use crate::server::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

pub async fn list(State(state): State<AppState>, _user: AuthUser) -> Result<Json<Vec<ContentView>>, AppError> {
    Ok(Json(contents::list(&state.pool).await?))
}

pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(input): Json<ContentInput>,
) -> Result<(StatusCode, Json<ContentView>), AppError> {
    Ok((StatusCode::CREATED, Json(contents::create(&state, &user, &input).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<ContentInput>,
) -> Result<Json<ContentView>, AppError> {
    Ok(Json(contents::update(&state, &user, id, &input).await?))
}

#[derive(Deserialize)]
pub struct PreviewRequest {
    #[serde(flatten)]
    input: ContentInput,
    campaign_id: Option<Uuid>,
    contact_id: Option<Uuid>,
}

pub async fn preview(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<PreviewRequest>,
) -> Result<Json<Preview>, AppError> {
    Ok(Json(contents::preview(&state.pool, &user, &body.input, body.campaign_id, body.contact_id).await?))
}
