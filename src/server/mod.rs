//! The server (feature `ssr`): settings, database, auth, HTTP routes and start-up.
pub mod attendance;
pub mod audit;
pub mod auth;
pub mod bonzo;
pub mod bootstrap;
pub mod campaigns;
pub mod clock;
pub mod contacts;
pub mod content;
pub mod conversations;
pub mod crypto;
pub mod db;
pub mod engine;
pub mod error;
pub mod files;
pub mod gmail_mail;
pub mod gmail;
pub mod http;
pub mod imports;
pub mod inbox;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod middleware;
pub mod org;
pub mod outbound;
pub mod providers;
pub mod realtime;
pub mod replies;
pub mod settings;
pub mod snippets;
pub mod state;
pub mod stats;
pub mod suppressions;
pub mod telemetry;
pub mod templates;
pub mod users;
pub mod voicemail;
pub mod webhooks;
pub mod zones;

use crate::ui::{App, shell};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use settings::Settings;
use state::AppState;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Starts Turnout with the settings from `Leptos.toml` and the environment.
pub async fn run() -> Result<(), String> {
    let settings = Settings::load()?;
    telemetry::init(&settings.log_format);
    let pool = db::connect(&settings.database_url, settings.database_max_connections).await?;
    db::migrate(&pool).await?;
    let keys = crypto::Keys::load(&settings.turnout_secret_key, &settings.turnout_data_dir)?;
    let state = AppState::new(pool, settings, keys)?;
    let first = bootstrap::run(&state).await.map_err(|e| format!("first-start set-up failed: {e}"))?;
    let listener = TcpListener::bind(state.settings.turnout_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", state.settings.turnout_addr))?;
    announce(&state, first.as_ref());
    serve(listener, state).await
}

/// `turnout rebuild-stats`: the statistics recomputed from the raw tables, with the same
/// settings (and database) the app would start with.
pub async fn rebuild_stats() -> Result<(), String> {
    let settings = Settings::load()?;
    telemetry::init(&settings.log_format);
    let pool = db::connect(&settings.database_url, 2).await?;
    db::migrate(&pool).await?;
    let started = std::time::Instant::now();
    let r = stats::rebuild(&pool).await.map_err(|e| format!("rebuilding the statistics failed: {e}"))?;
    eprintln!(
        "statistics rebuilt in {:.1} s: {} buckets; {} enrollments' first send or reply corrected",
        started.elapsed().as_secs_f64(),
        r.buckets,
        r.milestones_fixed
    );
    Ok(())
}

/// Printed to the terminal, never to the structured log: it may carry a password.
fn announce(state: &AppState, first: Option<&bootstrap::FirstStart>) {
    let url = state.settings.public_origin();
    if let Some(f) = first {
        eprintln!("\n  Turnout is set up. Sign in at {url}/login");
        match &f.generated_password {
            Some(p) => eprintln!(
                "  Admin: {}  password: {p}\n  (also saved to {}; shown only this once)",
                f.admin_email,
                state.settings.turnout_data_dir.join("admin-password").display()
            ),
            None => eprintln!("  Admin: {} with the password from ADMIN_PASSWORD", f.admin_email),
        }
        for u in &f.demo_users {
            eprintln!("  Demo BDR: {u}  password: {}", bootstrap::DEMO_PASSWORD);
        }
        eprintln!();
    }
    tracing::info!(%url, "turnout listening");
}

/// Serves until SIGTERM or Ctrl-C, then drains in-flight requests for at most the drain timeout.
pub async fn serve(listener: TcpListener, state: AppState) -> Result<(), String> {
    let drain = Duration::from_secs(state.settings.drain_timeout_s);
    let shutdown = state.shutdown.clone();
    // Imports queued or interrupted before this start are picked up at once.
    tokio::spawn(imports::worker(state.clone()));
    // Media fetches that were retrying, or cut short by a restart, go on.
    tokio::spawn(media::worker(state.clone()));
    let mut engine = engine::spawn(&state);
    // Open inboxes hear every process's changes; replies scheduled for later go out when due.
    tokio::spawn(realtime::listen(state.clone()));
    tokio::spawn(inbox::scheduled_worker(state.clone()));
    tokio::spawn(outbound::worker(state.clone()));
    // Connected Gmail mailboxes are synced on a schedule.
    tokio::spawn(gmail::worker(state.clone()));
    // New statistics deltas are folded into their buckets and day totals.
    tokio::spawn(stats::worker(state.clone()));
    let app = router(state);
    // After `router`, which installs the recorder when a metrics token is set.
    tokio::spawn(metrics::upkeep(shutdown.clone()));
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown({
            let shutdown = shutdown.clone();
            async move {
                tokio::select! {
                    _ = termination() => {}
                    _ = shutdown.cancelled() => {}
                }
                tracing::info!("shutting down: no new requests, draining in-flight ones");
                shutdown.cancel();
            }
        });
    let served = tokio::select! {
        r = server => r.map_err(|e| format!("server error: {e}")),
        _ = async { shutdown.cancelled().await; tokio::time::sleep(drain).await } => {
            tracing::warn!(seconds = drain.as_secs(), "drain timeout reached; exiting with requests in flight");
            Ok(())
        }
    };
    // Workers stop claiming on shutdown and finish the batch in hand; a batch cut short by
    // the drain timeout is safe too: its leases run out and its sends are reconciled.
    shutdown.cancel();
    if tokio::time::timeout(drain, async { while engine.join_next().await.is_some() {} }).await.is_err() {
        tracing::warn!("engine workers still busy at the drain timeout; their leases will expire");
    }
    served
}

async fn termination() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Every route: REST and health, server functions under `/api/fn/`, pages, static files.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let leptos = state.leptos.clone();
    // Recording costs nothing to a server nobody scrapes: the recorder is installed only
    // once a token lets someone read it.
    if !state.settings.metrics_token.is_empty() {
        metrics::install();
    }
    let router = Router::new()
        .merge(http::routes())
        .route("/api/fn/{*fn_name}", axum::routing::post(server_fns).get(server_fns))
        .leptos_routes_with_context(&state, routes, context.clone(), move || shell(leptos.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(axum::middleware::from_fn(middleware::json_errors))
        // Inside the routing, so the matched route template is known.
        .layer(axum::middleware::from_fn(metrics::track_http))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::same_origin))
        .with_state(state);
    telemetry::layer(router)
}

async fn server_fns(State(state): State<AppState>, req: Request<Body>) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_context(state.clone()), req).await
}
