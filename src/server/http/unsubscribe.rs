//! The unsubscribe link in every email. GET shows a confirmation (so a mail scanner that
//! follows links unsubscribes nobody); POST suppresses the address, with or without a
//! session, and is also the RFC 8058 one-click target of `List-Unsubscribe-Post`.
use crate::domain::campaign::Channel;
use crate::domain::merge::escape_html;
use crate::server::campaigns;
use crate::server::engine::compliance;
use crate::server::error::internal;
use crate::server::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/pkg/turnout.css\"></head>\
         <body class=\"min-h-screen bg-slate-50 flex items-center justify-center p-6\">\
         <main class=\"max-w-md w-full bg-white rounded-lg shadow p-6 space-y-4\"><h1 class=\"text-xl font-semibold\">{title}</h1>{body}</main></body></html>"
    ))
}

#[utoipa::path(
    get,
    path = "/unsubscribe/{token}",
    tag = "public",
    operation_id = "unsubscribe_confirm",
    params(("token" = String, Path, description = "The signed unsubscribe token")),
    responses(
        (status = 200, description = "A page asking to confirm", body = String, content_type = "text/html"),
    ),
    security(()),
)]
pub async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> (StatusCode, Html<String>) {
    match compliance::unsubscribe_address(&state.keys, &token) {
        Some(address) => (
            StatusCode::OK,
            page(
                "Unsubscribe",
                &format!(
                    "<p>Stop all emails to <strong>{}</strong>?</p><form method=\"post\">\
                     <button class=\"rounded bg-slate-900 text-white px-4 py-2\" type=\"submit\">Unsubscribe</button></form>",
                    escape_html(&address)
                ),
            ),
        ),
        None => (StatusCode::NOT_FOUND, page("Link not valid", "<p>This unsubscribe link is not valid. Reply to the email and ask to be removed.</p>")),
    }
}

#[utoipa::path(
    post,
    path = "/unsubscribe/{token}",
    tag = "public",
    operation_id = "unsubscribe_unsubscribe",
    params(("token" = String, Path, description = "The signed unsubscribe token")),
    responses(
        (status = 200, description = "A page saying it is done", body = String, content_type = "text/html"),
    ),
    security(()),
)]
pub async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> (StatusCode, Html<String>) {
    let Some(address) = compliance::unsubscribe_address(&state.keys, &token) else {
        return (StatusCode::NOT_FOUND, page("Link not valid", "<p>This unsubscribe link is not valid.</p>"));
    };
    let done = async {
        let mut tx = state.pool.begin().await?;
        compliance::suppress(&mut tx, Channel::Email, &address, "unsubscribed by email link", "unsubscribe_link").await?;
        campaigns::opt_out(&mut tx, Channel::Email, &address, state.clock.now()).await?;
        tx.commit().await?;
        Ok::<_, crate::domain::AppError>(())
    };
    match done.await {
        Ok(()) => (StatusCode::OK, page("Unsubscribed", &format!("<p>{} will get no more emails from us.</p>", escape_html(&address)))),
        Err(e) => {
            let _ = internal("unsubscribe", &e.error);
            (StatusCode::SERVICE_UNAVAILABLE, page("Please try again", "<p>We could not record that just now. Please try again in a minute.</p>"))
        }
    }
}
