use crate::domain::AppError;
use crate::domain::funnel::GraphDraft;
use crate::domain::template::{GraphFormat, TemplateDetail, TemplateSummary};
use crate::server::auth::AuthUser;
use crate::server::state::AppState;
use crate::server::templates;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;

pub async fn list(State(state): State<AppState>, _user: AuthUser) -> Result<Json<Vec<TemplateSummary>>, AppError> {
    Ok(Json(templates::list(&state.pool).await?))
}

#[derive(Deserialize)]
pub struct NewTemplate {
    name: String,
    #[serde(default)]
    draft: GraphDraft,
}

pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<NewTemplate>,
) -> Result<(StatusCode, Json<TemplateDetail>), AppError> {
    Ok((StatusCode::CREATED, Json(templates::create(&state, &user, &body.name, &body.draft).await?)))
}

pub async fn get(State(state): State<AppState>, _user: AuthUser, Path(id): Path<Uuid>) -> Result<Json<TemplateDetail>, AppError> {
    Ok(Json(templates::detail(&state.pool, id).await?))
}

pub async fn save(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<NewTemplate>,
) -> Result<Json<TemplateDetail>, AppError> {
    Ok(Json(templates::save(&state, &user, id, &body.name, &body.draft).await?))
}

pub async fn publish(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<Json<TemplateDetail>, AppError> {
    Ok(Json(templates::publish(&state, &user, id).await?))
}

#[derive(Deserialize)]
pub struct FormatQuery {
    format: GraphFormat,
    #[serde(default)]
    name: String,
}

fn content_type(format: GraphFormat) -> &'static str {
    match format {
        GraphFormat::Csv => "text/csv; charset=utf-8",
        GraphFormat::Json => "application/json",
    }
}

pub async fn export(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<Uuid>,
    Query(q): Query<FormatQuery>,
) -> Result<impl IntoResponse, AppError> {
    let text = templates::export(&state.pool, id, q.format).await?;
    let disposition = format!("attachment; filename=\"template-{id}.{}\"", q.format.as_str());
    Ok(([(header::CONTENT_TYPE, content_type(q.format).to_string()), (header::CONTENT_DISPOSITION, disposition)], text))
}

/// The file is the request body; `?format=csv|json&name=...`.
pub async fn import(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<FormatQuery>,
    body: String,
) -> Result<(StatusCode, Json<TemplateDetail>), AppError> {
    Ok((StatusCode::CREATED, Json(templates::import(&state, &user, &q.name, q.format, &body).await?)))
}
