//! Starts Turnout on a random port with its own database, as a user would reach it.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod bonzo;
pub mod elevenlabs;
pub mod funnel;
pub mod gmail;
pub mod phone;
pub mod slybroadcast;
pub mod smtp;
pub mod twilio;

use chrono::{Duration, Utc};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use std::path::PathBuf;
use tokio::net::TcpListener;
use turnout::domain::{EmailAddress, Role};
use std::sync::Arc;
use turnout::server::auth::{password, token};
use turnout::server::clock::{Clock, ManualClock, SystemClock};
use turnout::server::crypto::Keys;
use turnout::server::settings::Settings;
use turnout::server::state::AppState;
use turnout::domain::campaign::{CampaignStatus, EventType};
use turnout::server::campaigns::{self, NewCampaign};
use turnout::server::{bootstrap, users};
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@turnout.test";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub struct TestApp {
    pub base: String,
    pub pool: PgPool,
    pub state: AppState,
    pub data_dir: PathBuf,
    client: Client,
}

pub fn test_settings() -> Settings {
    let data_dir = std::env::temp_dir().join(format!("turnout-test-{}", Uuid::now_v7()));
    Settings {
        turnout_data_dir: data_dir,
        admin_email: ADMIN_EMAIL.into(),
        admin_password: ADMIN_PASSWORD.into(),
        // Tests run the engine's batches themselves (`run_engine`), at times they choose.
        engine_workers: 0,
        ..Settings::default()
    }
}

pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_with(pool, test_settings()).await
}

/// Starts the app after the first-start set-up, as `turnout` does.
pub async fn spawn_with(pool: PgPool, settings: Settings) -> TestApp {
    let app = start(pool, settings).await;
    bootstrap::run(&app.state).await.expect("bootstrap");
    app
}

/// Starts serving without touching the database.
pub async fn start(pool: PgPool, settings: Settings) -> TestApp {
    start_on(pool, settings, Arc::new(SystemClock)).await
}

/// The app with its engine on a manual clock and no background workers: the test runs the
/// engine's batches itself (`run_engine`), so every step happens at a time it chose.
pub async fn spawn_engine(pool: PgPool, clock: Arc<ManualClock>, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings();
    tweak(&mut settings);
    let app = start_on(pool, settings, clock).await;
    bootstrap::run(&app.state).await.expect("bootstrap");
    app
}

pub async fn start_on(pool: PgPool, mut settings: Settings, clock: Arc<dyn Clock>) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    settings.turnout_addr = listener.local_addr().expect("addr");
    let data_dir = settings.turnout_data_dir.clone();
    let state = AppState::new(pool.clone(), settings, Keys::from_master(&[42u8; 32])).expect("state").with_clock(clock);
    tokio::spawn(turnout::server::serve(listener, state.clone()));
    let base = format!("http://{}", state.settings.turnout_addr);
    TestApp { base, pool, state, data_dir, client: Client::new() }
}

/// A user created directly in the database, with a valid token.
pub struct Actor {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn user(&self, email: &str, role: Role) -> Actor {
        let hash = password::hash("user-password-1").await.expect("hash");
        let email_addr = EmailAddress::parse(email).expect("email");
        let u = users::insert(&self.pool, &email_addr, email.split('@').next().unwrap_or("user"), role, Some(&hash))
            .await
            .expect("insert user");
        let token = token::issue(&self.state.keys, u.id, 0, Utc::now(), Duration::hours(1)).expect("token");
        Actor { id: u.id, email: email.into(), token }
    }

    /// An active in-person campaign owned (and sent) by `owner`, ten days out.
    pub async fn campaign(&self, owner: &Actor) -> Uuid {
        self.campaign_at(owner, Utc::now() + Duration::days(10)).await
    }

    /// An active in-person campaign in New York, at Hall A, owned (and sent) by `owner`.
    pub async fn campaign_at(&self, owner: &Actor, event_start: chrono::DateTime<Utc>) -> Uuid {
        campaigns::insert(&self.pool, &NewCampaign {
            name: "Spring seminar",
            status: CampaignStatus::Active,
            event_type: EventType::InPerson,
            event_start,
            event_time_zone: "America/New_York",
            venue: Some("Hall A"),
            join_link: None,
            owner_id: owner.id,
            sender_id: owner.id,
            template_version_id: None,
        })
        .await
        .expect("campaign")
    }

    pub async fn admin(&self) -> Actor {
        let row = users::find_by_email(&self.pool, &EmailAddress::parse(ADMIN_EMAIL).unwrap())
            .await
            .unwrap()
            .expect("bootstrap admin");
        let token = token::issue(&self.state.keys, row.id, row.token_version, Utc::now(), Duration::hours(1)).unwrap();
        Actor { id: row.id, email: row.email, token }
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/auth/login"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("request")
    }

    /// A request as an API client: bearer token when given.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    /// Calls a server function the way the browser does: a POST under `/api/fn/` with the
    /// session cookie and the app's own Origin. The body is JSON when it starts with `{`
    /// (functions taking JSON input), else form-encoded.
    pub async fn server_fn(&self, name: &str, token: Option<&str>, form: &str) -> Response {
        let content_type = if form.starts_with('{') { "application/json" } else { "application/x-www-form-urlencoded" };
        let mut req = self
            .client
            .post(self.url(&format!("/api/fn/{name}")))
            .header("content-type", content_type)
            .header("origin", &self.base)
            .body(form.to_string());
        if let Some(t) = token {
            req = req.header("cookie", format!("turnout_session={t}"));
        }
        req.send().await.expect("request")
    }
}

impl TestApp {
    /// Runs engine batches until nothing is due at the clock's current time; returns the
    /// provider calls made.
    pub async fn run_engine(&self) -> usize {
        let mut calls = 0;
        for _ in 0..10_000 {
            let r = turnout::server::engine::run_once(&self.state).await.expect("engine batch");
            calls += r.calls;
            if r.claimed == 0 {
                return calls;
            }
        }
        panic!("the engine never ran out of due work");
    }
}

/// The status and JSON body of a response, asserting the body is JSON.
pub async fn json(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, value)
}

/// Waits (up to 5 s) for what runs after a request was answered (a send, an event) to reach
/// `want`; returns the last value seen, for the caller's assertion to show.
pub async fn settled<T: PartialEq + std::fmt::Debug, F: std::future::Future<Output = T>>(want: T, mut get: impl FnMut() -> F) -> T {
    let mut got = get().await;
    for _ in 0..50 {
        if got == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        got = get().await;
    }
    got
}
