use crate::domain::AppError;
use crate::domain::funnel::GraphDraft;
use crate::domain::template::{GraphFormat, TemplateDetail, TemplateSummary};
use crate::server::auth::AuthUser;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use crate::server::templates;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;

#[utoipa::path(
    get,
    path = "/api/templates",
    tag = "templates",
    operation_id = "templates_list",
    responses(
        (status = 200, description = "All templates", body = Vec<TemplateSummary>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, _user: AuthUser) -> Result<Json<Vec<TemplateSummary>>, AppError> {
    Ok(Json(templates::list(&state.pool).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewTemplate {
    name: String,
    #[serde(default)]
    draft: GraphDraft,
}

#[utoipa::path(
    post,
    path = "/api/templates",
    tag = "templates",
    operation_id = "templates_create",
    request_body = NewTemplate,
    responses(
        (status = 201, description = "Created", body = TemplateDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<NewTemplate>,
) -> Result<(StatusCode, Json<TemplateDetail>), AppError> {
    Ok((StatusCode::CREATED, Json(templates::create(&state, &user, &body.name, &body.draft).await?)))
}

#[utoipa::path(
    get,
    path = "/api/templates/{id}",
    tag = "templates",
    operation_id = "templates_get",
    params(("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 200, description = "The template", body = TemplateDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
)]
pub async fn get(State(state): State<AppState>, _user: AuthUser, Path(id): Path<Uuid>) -> Result<Json<TemplateDetail>, AppError> {
    Ok(Json(templates::detail(&state.pool, id).await?))
}

#[utoipa::path(
    put,
    path = "/api/templates/{id}",
    tag = "templates",
    operation_id = "templates_save",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = NewTemplate,
    responses(
        (status = 200, description = "Saved", body = TemplateDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn save(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<NewTemplate>,
) -> Result<Json<TemplateDetail>, AppError> {
    Ok(Json(templates::save(&state, &user, id, &body.name, &body.draft).await?))
}

#[utoipa::path(
    post,
    path = "/api/templates/{id}/publish",
    tag = "templates",
    operation_id = "templates_publish",
    params(("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 200, description = "Published", body = TemplateDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn publish(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<Json<TemplateDetail>, AppError> {
    Ok(Json(templates::publish(&state, &user, id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

#[utoipa::path(
    get,
    path = "/api/templates/{id}/export",
    tag = "templates",
    operation_id = "templates_export",
    params(FormatQuery, ("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 200, description = "The funnel as a file download", content((String = "text/csv"), (String = "application/json"))),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/templates/import",
    tag = "templates",
    operation_id = "templates_import",
    params(FormatQuery),
    request_body(content((String = "text/csv"), (GraphDraft = "application/json")), description = "The file, as `format` says"),
    responses(
        (status = 201, description = "Imported", body = TemplateDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn import(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<FormatQuery>,
    body: String,
) -> Result<(StatusCode, Json<TemplateDetail>), AppError> {
    Ok((StatusCode::CREATED, Json(templates::import(&state, &user, &q.name, q.format, &body).await?)))
}
