//! Campaigns: BDRs run their own, admins all.
use crate::domain::AppError;
use crate::domain::campaign::{
    CampaignAction, CampaignDetail, CampaignStatus, CampaignSummary, DryRun, EnrollmentAction, NewCampaignInput, SendWindowView,
    TestSendResult,
};
use crate::domain::funnel::GraphDraft;
use crate::domain::template::PublishedVersion;
use chrono::NaiveDate;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[server(prefix = "/api/fn", endpoint = "list_campaigns")]
pub async fn list_campaigns(
    status: Option<CampaignStatus>,
    owner_id: Option<Uuid>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<CampaignSummary>, AppError> {
    let filter = crate::domain::campaign::CampaignFilter { status, owner_id, from, to };
    super::ctx::signed_in(|state, user| async move { crate::server::campaigns::list(&state.pool, &user, &filter).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "get_campaign")]
pub async fn get_campaign(id: Uuid) -> Result<CampaignDetail, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::campaigns::detail(&state.pool, &user, id).await })
        .await
}

/// The templates a campaign can start from.
#[server(prefix = "/api/fn", endpoint = "published_templates")]
pub async fn published_templates() -> Result<Vec<PublishedVersion>, AppError> {
    super::ctx::signed_in(|state, _user| async move { crate::server::templates::published(&state.pool).await }).await
}

#[server(prefix = "/api/fn", endpoint = "create_campaign", input = Json)]
pub async fn create_campaign(input: NewCampaignInput) -> Result<CampaignDetail, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::campaigns::create(&state, &user, &input).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "change_campaign_status")]
pub async fn change_campaign_status(id: Uuid, action: CampaignAction) -> Result<CampaignDetail, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::campaigns::act(&state, &user, id, action).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "save_campaign_graph", input = Json)]
pub async fn save_campaign_graph(id: Uuid, graph: GraphDraft) -> Result<CampaignDetail, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::campaigns::save_graph(&state, &user, id, &graph).await
    })
    .await
}

/// Moves paused contacts to a step of the current funnel.
#[server(prefix = "/api/fn", endpoint = "move_enrollments", input = Json)]
pub async fn move_enrollments(id: Uuid, enrollments: Vec<Uuid>, to_node: String) -> Result<CampaignDetail, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::campaigns::move_enrollments(&state, &user, id, &enrollments, &to_node).await
    })
    .await
}

/// Pause, resume, remove or skip a step for one contact; resolve a send of unknown outcome.
#[server(prefix = "/api/fn", endpoint = "act_on_enrollment")]
pub async fn act_on_enrollment(id: Uuid, enrollment: Uuid, action: EnrollmentAction) -> Result<CampaignDetail, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::campaigns::act_on_enrollment(&state, &user, id, enrollment, action).await
    })
    .await
}

/// What running the campaign would do, without sending anything.
#[server(prefix = "/api/fn", endpoint = "campaign_dry_run")]
pub async fn campaign_dry_run(id: Uuid) -> Result<DryRun, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::engine::controls::dry_run(&state, &user, id).await })
        .await
}

/// Sends one step to the signed-in user's own phone or email.
#[server(prefix = "/api/fn", endpoint = "test_send")]
pub async fn test_send(id: Uuid, node: String) -> Result<TestSendResult, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::engine::controls::test_send(&state, &user, id, &node).await
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "save_send_window", input = Json)]
pub async fn save_send_window(id: Uuid, window: SendWindowView) -> Result<CampaignDetail, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::campaigns::save_window(&state, &user, id, &window).await
    })
    .await
}

/// Marks the people an attendee list (CSV with a phone or email column) names `Attended`.
#[server(prefix = "/api/fn", endpoint = "import_attendees")]
pub async fn import_attendees(id: Uuid, text: String) -> Result<crate::domain::contact::AttendeeImport, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::attendance::import(&state, &user, id, &text).await })
        .await
}
