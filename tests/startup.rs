//! First start, demo data, health, and the pages a browser asks for.
mod common;

use common::{ADMIN_EMAIL, json, spawn_app, spawn_with, test_settings};
use reqwest::StatusCode;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::os::unix::fs::PermissionsExt;
use turnout::server::bootstrap;
use turnout::server::settings::Settings;

#[sqlx::test]
async fn first_start_creates_an_admin_with_a_generated_password_once(pool: PgPool) {
    let settings = Settings { admin_password: String::new(), ..test_settings() };
    let app = spawn_with(pool, settings).await;
    let file = app.data_dir.join("admin-password");
    let mode = std::fs::metadata(&file).expect("password file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(password.len() >= 32);
    assert_eq!(app.login(ADMIN_EMAIL, &password).await.status(), StatusCode::OK);

    // A second start changes nothing.
    assert!(bootstrap::run(&app.state).await.unwrap().is_none());
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(users, 1);
    let org: (String, String) = sqlx::query_as("SELECT name, time_zone FROM org_settings").fetch_one(&app.pool).await.unwrap();
    assert_eq!(org, ("Turnout".to_string(), "America/New_York".to_string()));
}

#[sqlx::test]
async fn demo_mode_seeds_bdrs_a_template_campaigns_and_conversations(pool: PgPool) {
    let app = spawn_with(pool, Settings { turnout_demo: true, ..test_settings() }).await;
    let count = |sql: &'static str| {
        let pool = app.pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    assert_eq!(count("SELECT count(*) FROM users WHERE role = 'bdr'").await, 2);
    assert_eq!(count("SELECT count(*) FROM templates WHERE status = 'published'").await, 1);
    assert_eq!(count("SELECT count(*) FROM campaigns").await, 2);
    // Four steps and a voicemail follow-up in each of the two campaigns.
    assert_eq!(count("SELECT count(*) FROM nodes WHERE campaign_id IS NOT NULL").await, 10);
    assert_eq!(count("SELECT count(*) FROM enrollments").await, 6);
    assert_eq!(count("SELECT count(*) FROM conversations").await, 3);
    assert_eq!(count("SELECT count(*) FROM messages").await, 6);

    // A demo BDR signs in and sees only her own campaign.
    let (status, body) = json(app.login("ana@demo.turnout.local", bootstrap::DEMO_PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK);
    let token = body["token"].as_str().unwrap();
    let (_, campaigns) = json(app.call("GET", "/api/campaigns", Some(token), None).await).await;
    let names: Vec<&str> = campaigns.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Spring homebuyer seminar"]);
}

#[sqlx::test]
async fn health_reports_the_database(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (status, body) = json(app.call("GET", "/health", None, None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ok"], true);
    assert_eq!(body["db"], "up");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_s"].is_u64());

    // The same app against a database that does not answer.
    let dead = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:9/none")
        .unwrap();
    let down = common::start(dead, test_settings()).await;
    let (status, body) = json(down.call("GET", "/health", None, None).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"], "database unreachable");
}

#[sqlx::test]
async fn pages_render_on_the_server(pool: PgPool) {
    let app = spawn_app(pool).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign in"), "{html}");
    assert!(html.contains("/pkg/turnout.js"), "hydration script");

    let res = client.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("Page not found"));
}

#[sqlx::test]
async fn shutdown_finishes_requests_in_flight_then_stops(pool: PgPool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = common::start(pool, test_settings()).await;
    bootstrap::run(&app.state).await.unwrap();
    let addr = app.state.settings.turnout_addr;

    // A sign-in whose body is still arriving when the shutdown begins.
    let body = format!(r#"{{"email":"{ADMIN_EMAIL}","password":"{}"}}"#, common::ADMIN_PASSWORD);
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/auth/login HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    app.state.shutdown.cancel();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // New connections are refused while the old one is served.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");

    conn.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"token\""));
}
