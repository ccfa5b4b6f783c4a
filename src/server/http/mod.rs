//! REST and health routes. Each handler is thin: it parses, then calls the service that
//! the server functions call too.
mod account;
mod bonzo;
mod campaigns;
mod content;
mod google;
mod health;
mod inbox;
mod leads;
mod media;
mod metrics;
mod openapi;
mod stats;
mod suppressions;
mod templates;
mod twilio;
mod unsubscribe;
mod users;

use crate::server::state::AppState;
use axum::Router;
use crate::domain::AppError;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, patch, post, put};
use axum::middleware::from_fn;
use crate::server::metrics::track_webhook;

/// The largest CSV upload: a million rows with room to spare.
const MAX_UPLOAD_BYTES: usize = 1 << 30;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/api/docs", get(openapi::docs))
        .route("/metrics", get(metrics::scrape))
        .route("/api/auth/login", post(account::login))
        .route("/api/auth/logout", post(account::logout))
        .route("/api/auth/forgot-password", post(account::forgot_password))
        .route("/api/auth/reset-password", post(account::reset_password))
        .route("/api/me", get(account::me))
        .route("/api/me/profile", get(account::profile).put(account::update_profile))
        .route("/api/me/password", post(account::change_password))
        .route("/api/me/twilio", get(account::twilio).put(account::set_twilio))
        .route("/api/org/twilio", put(account::set_org_twilio))
        .route("/api/users", get(users::list).post(users::create))
        .route("/api/users/{id}", patch(users::update))
        .route("/api/users/{id}/reset-password", post(users::reset_password))
        .route("/api/org", get(users::org).put(users::update_org))
        .route("/api/audit", get(users::audit))
        .route("/api/dashboard", get(stats::dashboard))
        .route("/api/stats", get(stats::get))
        .route("/api/analytics", get(stats::analytics))
        .route("/api/analytics/export.csv", get(stats::export))
        .route("/api/templates", get(templates::list).post(templates::create))
        .route("/api/templates/import", post(templates::import))
        .route("/api/templates/{id}", get(templates::get).put(templates::save))
        .route("/api/templates/{id}/publish", post(templates::publish))
        .route("/api/templates/{id}/export", get(templates::export))
        .route("/api/campaigns", get(campaigns::list).post(campaigns::create))
        .route("/api/campaigns/{id}", get(campaigns::get))
        .route("/api/campaigns/{id}/stats", get(stats::campaign))
        .route("/api/campaigns/{id}/actions", post(campaigns::act))
        .route("/api/campaigns/{id}/graph", put(campaigns::save_graph))
        .route("/api/campaigns/{id}/enrollments/move", post(campaigns::move_enrollments))
        .route("/api/campaigns/{id}/enrollments/{enrollment}/actions", post(campaigns::enrollment_action))
        .route("/api/campaigns/{id}/dry-run", get(campaigns::dry_run))
        .route("/api/campaigns/{id}/test-send", post(campaigns::test_send))
        .route("/api/campaigns/{id}/window", put(campaigns::save_window))
        .route("/api/campaigns/{id}/execute-sms", post(campaigns::execute_sms))
        .route("/api/content", get(content::list).post(content::create))
        .route("/api/content/preview", post(content::preview))
        .route("/api/content/{id}", put(content::update))
        .route("/api/conversations", get(inbox::list))
        .route("/api/conversations/done", post(inbox::done))
        .route("/api/conversations/{id}", get(inbox::get))
        .route("/api/conversations/{id}/replies", post(inbox::reply))
        .route("/api/conversations/{id}/assignee", put(inbox::assign))
        .route("/api/inbox/counts", get(inbox::counts))
        .route("/api/snippets", get(inbox::list_snippets).post(inbox::create_snippet))
        .route("/api/snippets/{id}", put(inbox::update_snippet).delete(inbox::delete_snippet))
        .route("/api/events", get(crate::server::realtime::events))
        .route("/api/contacts", get(leads::list))
        .route("/api/contacts/bulk-status", post(leads::bulk_status))
        .route("/api/contacts/export.csv", get(leads::export))
        .route("/api/contacts/{id}", get(leads::contact))
        .route("/api/imports", post(leads::upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .route("/api/imports/{id}", get(leads::get_import))
        .route("/api/imports/{id}/start", post(leads::start_import))
        .route("/api/imports/{id}/issues.csv", get(leads::import_issues))
        .route("/api/google/connect", get(google::connect))
        .route("/api/google/callback", get(google::callback))
        .route("/api/media/{id}", get(media::get))
        .route("/api/voicemail/audio/{file}", get(media::preview_voicemail))
        .route("/api/slybroadcast/dispo/{secret}", post(media::slybroadcast_dispo).layer(from_fn(track_webhook)))
        .route("/media/vm/{file}", get(media::public_voicemail))
        .route("/api/suppressions/export.csv", get(suppressions::export))
        .route("/api/twilio/status", post(twilio::status).layer(from_fn(track_webhook)))
        .route("/api/twilio/inbound-sms", post(twilio::inbound_sms).layer(from_fn(track_webhook)))
        .route("/api/bonzo/webhook/{secret}", post(bonzo::webhook).layer(from_fn(track_webhook)))
        .route("/unsubscribe/{token}", get(unsubscribe::confirm).post(unsubscribe::unsubscribe))
        .route("/api/{*rest}", any(|| async { AppError::not_found("API route") }))
}
