use crate::domain::AppError;
use crate::domain::campaign::{CampaignAction, CampaignDetail, CampaignFilter, CampaignSummary, NewCampaignInput};
use crate::domain::funnel::GraphDraft;
use crate::server::auth::AuthUser;
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use crate::server::{campaigns, engine};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

#[utoipa::path(
    get,
    path = "/api/campaigns",
    tag = "campaigns",
    operation_id = "campaigns_list",
    params(CampaignFilter),
    responses(
        (status = 200, description = "The user's campaigns", body = Vec<CampaignSummary>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(filter): Query<CampaignFilter>,
) -> Result<Json<Vec<CampaignSummary>>, AppError> {
    Ok(Json(campaigns::list(&state.pool, &user, &filter).await?))
}

#[utoipa::path(
    post,
    path = "/api/campaigns",
    tag = "campaigns",
    operation_id = "campaigns_create",
    request_body = NewCampaignInput,
    responses(
        (status = 201, description = "Created", body = CampaignDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(input): Json<NewCampaignInput>,
) -> Result<(StatusCode, Json<CampaignDetail>), AppError> {
    Ok((StatusCode::CREATED, Json(campaigns::create(&state, &user, &input).await?)))
}

#[utoipa::path(
    get,
    path = "/api/campaigns/{id}",
    tag = "campaigns",
    operation_id = "campaigns_get",
    params(("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 200, description = "The campaign", body = CampaignDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
)]
pub async fn get(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::detail(&state.pool, &user, id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Act {
    action: CampaignAction,
}

#[utoipa::path(
    post,
    path = "/api/campaigns/{id}/actions",
    tag = "campaigns",
    operation_id = "campaigns_act",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = Act,
    responses(
        (status = 200, description = "Done", body = CampaignDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn act(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<Act>,
) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::act(&state, &user, id, body.action).await?))
}

#[utoipa::path(
    put,
    path = "/api/campaigns/{id}/graph",
    tag = "campaigns",
    operation_id = "campaigns_save_graph",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = GraphDraft,
    responses(
        (status = 200, description = "Saved", body = CampaignDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn save_graph(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(graph): Json<GraphDraft>,
) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::save_graph(&state, &user, id, &graph).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Move {
    enrollments: Vec<Uuid>,
    to_node: String,
}

#[utoipa::path(
    post,
    path = "/api/campaigns/{id}/enrollments/move",
    tag = "campaigns",
    operation_id = "campaigns_move_enrollments",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = Move,
    responses(
        (status = 200, description = "Moved", body = CampaignDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn move_enrollments(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<Move>,
) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::move_enrollments(&state, &user, id, &body.enrollments, &body.to_node).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EnrollmentAct {
    action: crate::domain::campaign::EnrollmentAction,
}

#[utoipa::path(
    post,
    path = "/api/campaigns/{id}/enrollments/{enrollment}/actions",
    tag = "campaigns",
    operation_id = "campaigns_enrollment_action",
    params(("id" = Uuid, Path, description = "The record's id"), ("enrollment" = Uuid, Path, description = "The enrollment's id")),
    request_body = EnrollmentAct,
    responses(
        (status = 200, description = "Done", body = CampaignDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
    ),
)]
pub async fn enrollment_action(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, enrollment)): Path<(Uuid, Uuid)>,
    Json(body): Json<EnrollmentAct>,
) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::act_on_enrollment(&state, &user, id, enrollment, body.action).await?))
}

#[utoipa::path(
    get,
    path = "/api/campaigns/{id}/dry-run",
    tag = "campaigns",
    operation_id = "campaigns_dry_run",
    params(("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 200, description = "What the next run would send", body = crate::domain::campaign::DryRun),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn dry_run(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<crate::domain::campaign::DryRun>, AppError> {
    Ok(Json(engine::controls::dry_run(&state, &user, id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TestSend {
    node: String,
}

#[utoipa::path(
    post,
    path = "/api/campaigns/{id}/test-send",
    tag = "campaigns",
    operation_id = "campaigns_test_send",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = TestSend,
    responses(
        (status = 200, description = "Sent to the user", body = crate::domain::campaign::TestSendResult),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn test_send(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<TestSend>,
) -> Result<Json<crate::domain::campaign::TestSendResult>, AppError> {
    Ok(Json(engine::controls::test_send(&state, &user, id, &body.node).await?))
}

#[utoipa::path(
    put,
    path = "/api/campaigns/{id}/window",
    tag = "campaigns",
    operation_id = "campaigns_save_window",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = crate::domain::campaign::SendWindowView,
    responses(
        (status = 200, description = "Saved", body = CampaignDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn save_window(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<crate::domain::campaign::SendWindowView>,
) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::save_window(&state, &user, id, &body).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct ExecuteSms {
    #[serde(default)]
    body: Option<String>,
}

/// The first version's bulk send, now queued: `202 Accepted` with the job at once.
#[utoipa::path(
    post,
    path = "/api/campaigns/{id}/execute-sms",
    tag = "campaigns",
    operation_id = "campaigns_execute_sms",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = Option<ExecuteSms>,
    responses(
        (status = 202, description = "Queued", body = crate::domain::campaign::QueuedJob),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 409, description = "Not in a state that allows it", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn execute_sms(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    body: Option<Json<ExecuteSms>>,
) -> Result<(StatusCode, Json<crate::domain::campaign::QueuedJob>), AppError> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    Ok((StatusCode::ACCEPTED, Json(campaigns::execute_sms(&state, &user, id, body.body.as_deref()).await?)))
}
