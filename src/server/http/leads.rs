//! Leads REST routes: the list, bulk status changes, a contact, CSV export, and CSV imports
//! (a streaming multipart upload, spooled to disk, then mapped and started).
use crate::domain::AppError;
use crate::domain::contact::{BulkStatusChange, ContactDetail, ImportField, ImportView, LeadFilter, LeadPage};
use crate::server::auth::AuthUser;
use crate::server::error::{ErrorBody, internal};
use crate::server::state::AppState;
use crate::server::{campaigns, contacts, imports};
use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    filter: LeadFilter,
    after: Option<Uuid>,
}

#[utoipa::path(
    get,
    path = "/api/contacts",
    tag = "leads",
    operation_id = "leads_list",
    params(LeadFilter, ("after" = Option<Uuid>, Query, description = "The last lead of the previous page")),
    responses(
        (status = 200, description = "One page of leads", body = LeadPage),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, user: AuthUser, Query(q): Query<ListQuery>) -> Result<Json<LeadPage>, AppError> {
    Ok(Json(contacts::leads(&state.pool, &user, &q.filter, q.after, Some(crate::api::leads::PAGE_SIZE)).await?))
}

#[utoipa::path(
    post,
    path = "/api/contacts/bulk-status",
    tag = "leads",
    operation_id = "leads_bulk_status",
    request_body = BulkStatusChange,
    responses(
        (status = 200, description = "How many leads changed", body = serde_json::Value, example = json!({"changed": 12})),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn bulk_status(
    State(state): State<AppState>,
    user: AuthUser,
    Json(change): Json<BulkStatusChange>,
) -> Result<Json<serde_json::Value>, AppError> {
    let changed = contacts::bulk_set_status(&state.pool, &user, &change).await?;
    Ok(Json(serde_json::json!({ "changed": changed })))
}

#[utoipa::path(
    get,
    path = "/api/contacts/{id}",
    tag = "leads",
    operation_id = "leads_contact",
    params(("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 200, description = "The contact and their timeline", body = ContactDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
)]
pub async fn contact(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<Json<ContactDetail>, AppError> {
    Ok(Json(contacts::detail(&state.pool, &user, id).await?))
}

#[utoipa::path(
    get,
    path = "/api/contacts/export.csv",
    tag = "leads",
    operation_id = "leads_export",
    params(LeadFilter),
    responses(
        (status = 200, description = "The matching leads as CSV", body = String, content_type = "text/csv"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn export(State(state): State<AppState>, user: AuthUser, Query(filter): Query<LeadFilter>) -> Result<Response, AppError> {
    Ok(csv_download("leads.csv", contacts::export_csv(&state.pool, &user, &filter).await?))
}

/// `campaign_id` must come before `file` in the form, so the campaign is checked before
/// anything is written. Browsers posting the plain form are sent on to the mapping page.
#[utoipa::path(
    post,
    path = "/api/imports",
    tag = "leads",
    operation_id = "leads_upload",
    request_body(content = String, content_type = "multipart/form-data", description = "Fields in order: `campaign_id`, `consent_source`, then `file` (the CSV)"),
    responses(
        (status = 201, description = "Uploaded; map the columns next", body = ImportView),
        (status = 303, description = "Browsers posting the form are sent to the mapping page"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, AppError> {
    let bad = |e: axum::extract::multipart::MultipartError| AppError::bad_request(format!("Upload failed: {e}"));
    let id = Uuid::now_v7();
    let mut campaign_id = None;
    let mut consent = String::new();
    let mut file_name = None;
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        match field.name() {
            Some("campaign_id") => {
                let text = field.text().await.map_err(bad)?;
                let cid = Uuid::parse_str(text.trim()).map_err(|_| AppError::bad_request("Choose a campaign"))?;
                campaigns::get(&state.pool, &user, cid).await?;
                campaign_id = Some(cid);
            }
            Some("consent_source") => consent = field.text().await.map_err(bad)?,
            Some("file") => {
                if campaign_id.is_none() {
                    return Err(AppError::bad_request("Choose a campaign before the file"));
                }
                let name = field.file_name().filter(|n| !n.is_empty()).unwrap_or("contacts.csv").to_string();
                let path = state.settings.turnout_data_dir.join(imports::spool_path(id));
                spool(&mut field, &path).await.inspect_err(|_| {
                    let _ = std::fs::remove_file(&path);
                })?;
                file_name = Some(name);
            }
            _ => {}
        }
    }
    let (Some(campaign_id), Some(file_name)) = (campaign_id, file_name) else {
        return Err(AppError::bad_request("Choose a campaign and a CSV file"));
    };
    let view = imports::create(&state, &user, id, campaign_id, &file_name, &consent).await?;
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    Ok(if wants_html {
        Redirect::to(&format!("/leads/imports/{}", view.id)).into_response()
    } else {
        (StatusCode::CREATED, Json(view)).into_response()
    })
}

/// Writes the field to disk as it arrives: the body is never held in memory whole.
async fn spool(field: &mut axum::extract::multipart::Field<'_>, path: &std::path::Path) -> Result<(), AppError> {
    let io = |e: std::io::Error| internal("spooling an upload", e);
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(path).await.map_err(io)?);
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| AppError::bad_request(format!("Upload failed: {e}")))?
    {
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)
}

#[utoipa::path(
    get,
    path = "/api/imports/{id}",
    tag = "leads",
    operation_id = "leads_get_import",
    params(("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 200, description = "The import and its progress", body = ImportView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
)]
pub async fn get_import(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<Json<ImportView>, AppError> {
    Ok(Json(imports::get(&state.pool, &user, id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StartImport {
    mapping: Vec<ImportField>,
    #[serde(default)]
    consent_source: String,
}

#[utoipa::path(
    post,
    path = "/api/imports/{id}/start",
    tag = "leads",
    operation_id = "leads_start_import",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = StartImport,
    responses(
        (status = 202, description = "Started", body = ImportView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn start_import(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<StartImport>,
) -> Result<(StatusCode, Json<ImportView>), AppError> {
    let view = imports::start(&state, &user, id, body.mapping, &body.consent_source).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

#[utoipa::path(
    get,
    path = "/api/imports/{id}/issues.csv",
    tag = "leads",
    operation_id = "leads_import_issues",
    params(("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 200, description = "Rows that were not imported, as CSV", body = String, content_type = "text/csv"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
)]
pub async fn import_issues(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    Ok(csv_download(&format!("import-{id}-issues.csv"), imports::issues_csv(&state.pool, &user, id).await?))
}

fn csv_download(name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}
