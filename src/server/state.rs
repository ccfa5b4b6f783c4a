//! What every request handler and server function shares, passed as axum state and Leptos context.
use crate::server::auth::limiter::LoginLimiter;
use crate::server::crypto::Keys;
use crate::server::mail::SystemMailer;
use crate::server::settings::Settings;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
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
        Ok(Self {
            pool,
            limiter: Arc::new(LoginLimiter::new(
                settings.login_attempts_per_ip_per_minute,
                settings.login_attempts_per_account_per_minute,
            )),
            keys: Arc::new(keys),
            settings: Arc::new(settings),
            mailer,
            started: Instant::now(),
            leptos,
            shutdown: CancellationToken::new(),
            imports: Arc::new(Notify::new()),
        })
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
