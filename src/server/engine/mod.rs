//! The sending engine: every enrollment is a durable state machine in PostgreSQL, worked by
//! background workers inside the server process and safe with several processes on one
//! database. A worker claims due enrollments with `FOR UPDATE SKIP LOCKED` under a lease,
//! walks each through its funnel (`domain::walk`), commits every send as `sending` with an
//! idempotency key before calling the provider, then records the outcome and the next step.
//! A step found `sending` after a crash is reconciled with the provider, never re-sent blindly.
pub mod compliance;
pub mod controls;
mod run;
mod store;
mod throttle;

pub use run::run_once;

use crate::domain::funnel::FunnelGraph;
use crate::server::state::AppState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::task::JoinSet;

/// Parsed funnels by (campaign, graph version): a running campaign's graph changes only as
/// a new version, so an entry never goes stale.
#[derive(Default)]
pub struct GraphCache(Mutex<HashMap<(Uuid, i32), Arc<Result<FunnelGraph, String>>>>);

impl GraphCache {
    pub fn get(&self, campaign: Uuid, version: i32) -> Option<Arc<Result<FunnelGraph, String>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&(campaign, version)).cloned()
    }

    pub fn put(&self, campaign: Uuid, version: i32, graph: Result<FunnelGraph, String>) -> Arc<Result<FunnelGraph, String>> {
        let graph = Arc::new(graph);
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Old versions of the same campaign are no longer needed.
        map.retain(|(c, v), _| *c != campaign || *v >= version);
        map.insert((campaign, version), graph.clone());
        graph
    }
}

/// The channel idle workers LISTEN on; activation, resumes and moves NOTIFY it.
pub const WAKE_CHANNEL: &str = "turnout_engine";

/// Tells the workers (of every process) that something is due now.
pub async fn wake(db: impl sqlx::PgExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_notify('turnout_engine', '')").execute(db).await?;
    Ok(())
}

/// Refreshes the planner's statistics after many enrollments became due at once (an
/// activation, an import). Autovacuum gets there within minutes; until then the planner,
/// believing few rows are due, scans every row of the campaign for each claim instead of
/// walking the due-time index in order (40 ms against 2.5 ms per claim of 500 measured).
pub async fn refresh_stats(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("ANALYZE enrollments").execute(pool).await?;
    Ok(())
}

/// Starts the workers; they stop claiming on shutdown and finish the batch in hand.
pub fn spawn(state: &AppState) -> JoinSet<()> {
    let mut set = JoinSet::new();
    if state.settings.engine_workers == 0 {
        return set;
    }
    set.spawn(listen(state.clone()));
    for n in 0..state.settings.engine_workers {
        set.spawn(worker(state.clone(), n));
    }
    set
}

/// Turns NOTIFYs into a wake-up for this process's workers; polling covers a lost connection.
async fn listen(state: AppState) {
    loop {
        let mut listener = match PgListener::connect_with(&state.pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "engine cannot LISTEN; polling only");
                tokio::select! {
                    _ = state.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                }
            }
        };
        if let Err(e) = listener.listen(WAKE_CHANNEL).await {
            tracing::warn!(error = %e, "engine LISTEN failed");
        }
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                n = listener.recv() => match n {
                    Ok(_) => state.engine_wake.notify_waiters(),
                    Err(e) => {
                        tracing::warn!(error = %e, "engine LISTEN connection lost");
                        break;
                    }
                },
            }
        }
    }
}

async fn worker(state: AppState, n: usize) {
    let poll = Duration::from_millis(state.settings.engine_poll_ms.max(10));
    while !state.shutdown.is_cancelled() {
        let idle = match run_once(&state).await {
            Ok(r) if r.claimed as i64 >= state.settings.engine_batch_size => continue,
            Ok(_) => match store::next_due(&state.pool).await {
                Ok(Some(at)) => (at - state.clock.now()).to_std().unwrap_or_default().min(poll),
                Ok(None) => poll,
                Err(e) => {
                    tracing::warn!(worker = n, error = %e, "engine cannot read the next due time");
                    poll
                }
            },
            Err(e) => {
                tracing::error!(worker = n, error = %e.error, "engine batch failed");
                poll
            }
        };
        if idle.is_zero() {
            continue;
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => {}
            _ = state.engine_wake.notified() => {}
            _ = tokio::time::sleep(idle) => {}
        }
    }
    tracing::info!(worker = n, "engine worker stopped");
}
