//! The OpenAPI 3.1 document of every REST route, and a page that lists them, both served
//! by the app itself (no CDN, nothing fetched at run time).
use super::{account, bonzo, campaigns, content, google, health, inbox, leads, media, metrics, stats, suppressions, templates, twilio, unsubscribe, users};
use crate::server::auth::session;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use std::sync::LazyLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Signed-in routes take the token from `POST /api/auth/login` as a bearer token or in the
/// session cookie; public routes and webhooks override this with `security(())`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Turnout", version = env!("CARGO_PKG_VERSION"), description = "Every failed call answers `{\"error\": \"...\"}` with its status. The server functions under `/api/fn/` are the web app's own and not listed."),
    paths(
        account::login,
        account::logout,
        account::forgot_password,
        account::reset_password,
        account::me,
        account::profile,
        account::update_profile,
        account::change_password,
        account::twilio,
        account::set_twilio,
        account::set_org_twilio,
        users::list,
        users::create,
        users::update,
        users::reset_password,
        users::org,
        users::update_org,
        users::audit,
        stats::dashboard,
        stats::get,
        stats::campaign,
        stats::analytics,
        stats::export,
        templates::list,
        templates::create,
        templates::import,
        templates::get,
        templates::save,
        templates::publish,
        templates::export,
        campaigns::list,
        campaigns::create,
        campaigns::get,
        campaigns::act,
        campaigns::save_graph,
        campaigns::move_enrollments,
        campaigns::enrollment_action,
        campaigns::dry_run,
        campaigns::test_send,
        campaigns::save_window,
        campaigns::execute_sms,
        content::list,
        content::create,
        content::preview,
        content::update,
        inbox::list,
        inbox::done,
        inbox::get,
        inbox::reply,
        inbox::assign,
        inbox::counts,
        inbox::list_snippets,
        inbox::create_snippet,
        inbox::update_snippet,
        inbox::delete_snippet,
        crate::server::realtime::events,
        leads::list,
        leads::bulk_status,
        leads::export,
        leads::contact,
        leads::upload,
        leads::get_import,
        leads::start_import,
        leads::import_issues,
        google::connect,
        google::callback,
        media::get,
        media::preview_voicemail,
        media::slybroadcast_dispo,
        media::public_voicemail,
        suppressions::export,
        twilio::status,
        twilio::inbound_sms,
        bonzo::webhook,
        unsubscribe::confirm,
        unsubscribe::unsubscribe,
        health::health,
        metrics::scrape,
        openapi_json,
        docs
    ),
    // Types only query parameters refer to: utoipa collects schemas from bodies, not params.
    components(schemas(crate::domain::template::GraphFormat, crate::domain::inbox::InboxView, crate::domain::stats::ExportTable, crate::domain::campaign::Channel)),
    modifiers(&Finish),
    security(("bearer" = []), ("session" = [])),
)]
pub struct ApiDoc;

/// What the derive cannot say: the security schemes, and no license (utoipa copies an empty
/// one from Cargo.toml; Turnout is not published).
struct Finish;

impl Modify for Finish {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.info.license = None;
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()));
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(session::COOKIE))));
    }
}

/// Built once: the document never changes while the app runs.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| ApiDoc::openapi().to_json().expect("the OpenAPI document serializes"));

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "ops",
    operation_id = "openapi_document",
    responses((status = 200, description = "This document", body = serde_json::Value)),
    security(()),
)]
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "ops",
    operation_id = "openapi_docs",
    responses((status = 200, description = "A readable list of the operations", body = String, content_type = "text/html")),
    security(()),
)]
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("openapi.html"))
}
