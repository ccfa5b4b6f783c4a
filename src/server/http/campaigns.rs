use crate::domain::AppError;
use crate::domain::campaign::{CampaignAction, CampaignDetail, CampaignFilter, CampaignSummary, NewCampaignInput};
use crate::domain::funnel::GraphDraft;
use crate::server::auth::AuthUser;
use crate::server::state::AppState;
use crate::server::{campaigns, engine};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(filter): Query<CampaignFilter>,
) -> Result<Json<Vec<CampaignSummary>>, AppError> {
    Ok(Json(campaigns::list(&state.pool, &user, &filter).await?))
}

pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(input): Json<NewCampaignInput>,
) -> Result<(StatusCode, Json<CampaignDetail>), AppError> {
    Ok((StatusCode::CREATED, Json(campaigns::create(&state, &user, &input).await?)))
}

pub async fn get(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::detail(&state.pool, &user, id).await?))
}

#[derive(Deserialize)]
pub struct Act {
    action: CampaignAction,
}

pub async fn act(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<Act>,
) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::act(&state, &user, id, body.action).await?))
}

pub async fn save_graph(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(graph): Json<GraphDraft>,
) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::save_graph(&state, &user, id, &graph).await?))
}

#[derive(Deserialize)]
pub struct Move {
    enrollments: Vec<Uuid>,
    to_node: String,
}

pub async fn move_enrollments(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<Move>,
) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::move_enrollments(&state, &user, id, &body.enrollments, &body.to_node).await?))
}

#[derive(Deserialize)]
pub struct EnrollmentAct {
    action: crate::domain::campaign::EnrollmentAction,
}

pub async fn enrollment_action(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, enrollment)): Path<(Uuid, Uuid)>,
    Json(body): Json<EnrollmentAct>,
) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::act_on_enrollment(&state, &user, id, enrollment, body.action).await?))
}

pub async fn dry_run(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Json<crate::domain::campaign::DryRun>, AppError> {
    Ok(Json(engine::controls::dry_run(&state, &user, id).await?))
}

#[derive(Deserialize)]
pub struct TestSend {
    node: String,
}

pub async fn test_send(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<TestSend>,
) -> Result<Json<crate::domain::campaign::TestSendResult>, AppError> {
    Ok(Json(engine::controls::test_send(&state, &user, id, &body.node).await?))
}

pub async fn save_window(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<crate::domain::campaign::SendWindowView>,
) -> Result<Json<CampaignDetail>, AppError> {
    Ok(Json(campaigns::save_window(&state, &user, id, &body).await?))
}

#[derive(Deserialize, Default)]
pub struct ExecuteSms {
    #[serde(default)]
    body: Option<String>,
}

/// The first version's bulk send, now queued: `202 Accepted` with the job at once.
pub async fn execute_sms(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    body: Option<Json<ExecuteSms>>,
) -> Result<(StatusCode, Json<crate::domain::campaign::QueuedJob>), AppError> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    Ok((StatusCode::ACCEPTED, Json(campaigns::execute_sms(&state, &user, id, body.body.as_deref()).await?)))
}
