//! Prometheus metrics: every name Turnout records and the helpers its call sites use, so a
//! new metric touches this file and the place that records it. Labels stay low-cardinality:
//! route templates, provider and channel names, outcome words; never ids or addresses.
use crate::domain::campaign::Channel;
use crate::server::state::AppState;
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const MESSAGES: &str = "turnout_messages_total";
const WEBHOOKS: &str = "turnout_webhooks_total";
const ENGINE_BACKLOG: &str = "turnout_engine_backlog";
const ENGINE_LATENESS: &str = "turnout_engine_lateness_seconds";
const ENGINE_RETRIES: &str = "turnout_engine_retries_total";
const MESSAGES_UNKNOWN: &str = "turnout_messages_unknown";
const HTTP_DURATION: &str = "turnout_http_request_duration_seconds";
const DB_POOL_CONNECTIONS: &str = "turnout_db_pool_connections";
const DB_POOL_MAX: &str = "turnout_db_pool_max";

/// From a quick JSON answer to a large export.
const HTTP_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Within a poll interval when the engine keeps up; minutes to an hour when it falls behind.
const LATENESS_BUCKETS: &[f64] = &[0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// The recorder is process-wide and tests start many apps in one process: installed once.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder on first use; `None` when another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            // Without explicit buckets the exporter renders histograms as summaries.
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(ENGINE_LATENESS.into()), LATENESS_BUCKETS))
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::error!(error = %e, "metrics recorder not installed; /metrics will be unavailable");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    describe_counter!(MESSAGES, "Provider calls by outcome: sent, failed, retry, unknown");
    describe_counter!(WEBHOOKS, "Provider webhooks received: ok, rejected (4xx), error (5xx)");
    describe_gauge!(ENGINE_BACKLOG, "Active enrollments whose next step is due");
    describe_histogram!(ENGINE_LATENESS, "How long after its due time each claimed step was picked up");
    describe_counter!(ENGINE_RETRIES, "Engine steps scheduled again after a transient provider error");
    describe_gauge!(MESSAGES_UNKNOWN, "Messages that may or may not have gone out, waiting for a person");
    describe_histogram!(HTTP_DURATION, "Time to the response head, by route template");
    describe_gauge!(DB_POOL_CONNECTIONS, "Database pool connections by state");
    describe_gauge!(DB_POOL_MAX, "The database pool's size limit");
}

/// Histograms buffer samples until drained: a scrape drains them, and so does this between
/// scrapes, so memory stays bounded when nothing scrapes.
pub async fn upkeep(shutdown: CancellationToken) {
    let Some(handle) = HANDLE.get().and_then(Option::as_ref) else { return };
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}

/// The text a scrape answers: gauges sampled now, then everything rendered.
pub async fn scrape(state: &AppState) -> Option<String> {
    let handle = install()?;
    sample(state).await;
    Some(handle.render())
}

async fn sample(state: &AppState) {
    // The pool first: the counts below borrow a connection.
    let size = state.pool.size();
    let idle = u32::try_from(state.pool.num_idle()).unwrap_or(u32::MAX).min(size);
    gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(idle));
    gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(f64::from(size - idle));
    gauge!(DB_POOL_MAX).set(f64::from(state.settings.database_max_connections));
    // Both counts use partial indexes (`enrollments_due`, `messages_unknown`); a slow
    // database must not hold the scrape, so the last values stand until it answers.
    let counts = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM enrollments WHERE engine_state = 'active' AND next_run_at <= $1) AS "backlog!",
                  (SELECT count(*) FROM messages WHERE send_state = 'unknown') AS "unknown!""#,
        state.clock.now()
    )
    .fetch_one(&state.pool);
    match tokio::time::timeout(Duration::from_secs(2), counts).await {
        Ok(Ok(r)) => {
            gauge!(ENGINE_BACKLOG).set(r.backlog as f64);
            gauge!(MESSAGES_UNKNOWN).set(r.unknown as f64);
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot count the backlog"),
        Err(_) => tracing::warn!("metrics: counting the backlog timed out"),
    }
}

/// One provider call's outcome: `sent`, `failed`, `retry` or `unknown`.
pub fn message_outcome(provider: &'static str, channel: Channel, result: &'static str) {
    counter!(MESSAGES, "provider" => provider, "channel" => channel.as_str(), "result" => result).increment(1);
}

/// An engine step scheduled again after a transient provider error.
pub fn engine_retry() {
    counter!(ENGINE_RETRIES).increment(1);
}

/// How late a claimed step was picked up, in seconds (never negative).
pub fn engine_lateness(seconds: f64) {
    histogram!(ENGINE_LATENESS).record(seconds.max(0.0));
}

/// Middleware on each provider webhook route: counts it by route template and outcome.
pub async fn track_webhook(req: Request, next: Next) -> Response {
    let route = route_of(&req);
    let res = next.run(req).await;
    let status = res.status();
    let result = if status.is_success() {
        "ok"
    } else if status.is_server_error() {
        "error"
    } else {
        "rejected"
    };
    counter!(WEBHOOKS, "route" => route, "result" => result).increment(1);
    res
}

/// Middleware timing every request by method, route template and status.
pub async fn track_http(req: Request, next: Next) -> Response {
    let route = route_of(&req);
    let method = method_label(req.method());
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    histogram!(HTTP_DURATION, "method" => method, "route" => route, "status" => status).record(started.elapsed().as_secs_f64());
    res
}

/// The route template (`/api/campaigns/{id}`), so ids do not become label values.
fn route_of(req: &Request) -> String {
    req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string())
}

/// Made-up methods would each become a label value.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
