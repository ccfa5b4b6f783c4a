//! What every request handler and server function shares, passed as axum state and Leptos context.
use crate::server::auth::limiter::LoginLimiter;
use crate::server::clock::{Clock, SystemClock};
use crate::server::engine::GraphCache;
use crate::server::providers::Providers;
use crate::server::crypto::Keys;
use crate::server::mail::SystemMailer;
use crate::server::media::Media;
use crate::server::settings::Settings;
use crate::server::stats::FoldZone;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Where statistics are read: the replica of READ_DATABASE_URL, else `pool`.
    pub read_pool: PgPool,
    pub settings: Arc<Settings>,
    pub keys: Arc<Keys>,
    pub limiter: Arc<LoginLimiter>,
    pub mailer: Option<Arc<SystemMailer>>,
    pub started: Instant,
    pub leptos: LeptosOptions,
    /// Cancelled on SIGTERM: long-lived streams end when it fires.
    pub shutdown: CancellationToken,
    /// Wakes the import worker when an import is queued.
    pub imports: Arc<Notify>,
    /// The engine's "now"; a manual clock in tests and benchmarks.
    pub clock: Arc<dyn Clock>,
    /// Wakes this process's engine workers (NOTIFYs from any process end up here).
    pub engine_wake: Arc<Notify>,
    pub graphs: Arc<GraphCache>,
    /// Real-time events heard by this process, for its open event streams.
    pub events: broadcast::Sender<crate::domain::inbox::Event>,
    pub providers: Arc<Providers>,
    /// Where MMS media are kept, and how they are fetched.
    pub media: Arc<Media>,
    pub fold_zone: Arc<FoldZone>,
}

impl AppState {
    pub fn new(pool: PgPool, settings: Settings, keys: Keys) -> Result<Self, String> {
        let mailer = SystemMailer::from_settings(&settings)?.map(Arc::new);
        let leptos = LeptosOptions::builder()
            .output_name("turnout")
            .site_root(settings.leptos_site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(settings.turnout_addr)
            .build();
        let keys = Arc::new(keys);
        let media = Arc::new(Media::new(&settings)?);
        let providers = Arc::new(Providers::new(pool.clone(), &settings, keys.clone(), media.store().clone())?);
        let read_pool = match settings.read_database_url.trim() {
            "" => pool.clone(),
            url => crate::server::db::connect_lazy(url, settings.database_max_connections)?,
        };
        Ok(Self {
            pool,
            read_pool,
            limiter: Arc::new(LoginLimiter::new(
                settings.login_attempts_per_ip_per_minute,
                settings.login_attempts_per_account_per_minute,
            )),
            keys,
            settings: Arc::new(settings),
            mailer,
            started: Instant::now(),
            leptos,
            shutdown: CancellationToken::new(),
            imports: Arc::new(Notify::new()),
            clock: Arc::new(SystemClock),
            engine_wake: Arc::new(Notify::new()),
            graphs: Arc::new(GraphCache::default()),
            events: crate::server::realtime::hub(),
            providers,
            media,
            fold_zone: Arc::default(),
        })
    }

    /// The same state on another clock (tests and benchmarks).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.providers.speaker().set_clock(clock.clone());
        self.clock = clock;
        self
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
