//! `GET /metrics`: hidden until a token is set, then Prometheus text behind that token.
//! The recorder is process-wide and other tests in this binary record too: counts are
//! checked as "at least".
mod common;

use common::funnel::{contact, running, tuesday_in_window, two_texts, utc};
use common::{spawn_app, spawn_engine};
use sqlx::PgPool;

const TOKEN: &str = "scrape-secret-1";

/// The value of the first sample of `name` whose labels include every one of `labels`.
fn sample(body: &str, name: &str, labels: &[&str]) -> Option<f64> {
    body.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[sqlx::test]
async fn metrics_are_not_served_without_a_token(pool: PgPool) {
    let app = spawn_app(pool).await;
    for token in [None, Some(""), Some(TOKEN)] {
        let res = app.call("GET", "/metrics", token, None).await;
        let (status, err) = common::json(res).await;
        assert_eq!(status, 404, "token {token:?}");
        assert!(err["error"].is_string());
    }
}

#[sqlx::test]
async fn metrics_answer_the_token_with_what_happened(pool: PgPool) {
    let clock = tuesday_in_window();
    let app = spawn_engine(pool, clock.clone(), |s| {
        s.metrics_token = TOKEN.into();
        s.sms_per_second_per_number = 0.0;
    })
    .await;
    for token in [None, Some("wrong-token"), Some("scrape-secret-")] {
        let res = app.call("GET", "/metrics", token, None).await;
        let (status, err) = common::json(res).await;
        assert_eq!(status, 401, "token {token:?}");
        assert!(err["error"].is_string());
    }

    // Two texts through the sandbox, the second picked up five minutes after it was due;
    // a health check; a webhook without a signature.
    let k = running(&app, "2027-03-20T23:00:00Z", two_texts()).await;
    contact(&app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    assert_eq!(app.run_engine().await, 1);
    clock.set(utc("2027-03-05T15:05:00Z"));
    assert_eq!(app.run_engine().await, 1);
    assert_eq!(app.call("GET", "/health", None, None).await.status(), 200);
    assert_eq!(app.call("POST", "/api/twilio/status", None, Some(serde_json::json!({}))).await.status(), 403);

    let res = app.call("GET", "/metrics", Some(TOKEN), None).await;
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let body = res.text().await.unwrap();

    let sent = sample(&body, "turnout_messages_total", &[r#"provider="sandbox""#, r#"channel="sms""#, r#"result="sent""#]);
    assert!(sent.is_some_and(|n| n >= 2.0), "{body}");
    let health = sample(&body, "turnout_http_request_duration_seconds_count", &[r#"route="/health""#, r#"method="GET""#, r#"status="200""#]);
    assert!(health.is_some_and(|n| n >= 1.0), "{body}");
    let rejected = sample(&body, "turnout_webhooks_total", &[r#"route="/api/twilio/status""#, r#"result="rejected""#]);
    assert!(rejected.is_some_and(|n| n >= 1.0), "{body}");
    let late = sample(&body, "turnout_engine_lateness_seconds_bucket", &[r#"le="900""#]);
    assert!(late.is_some_and(|n| n >= 1.0), "{body}");
    assert!(sample(&body, "turnout_engine_backlog", &[]).is_some(), "{body}");
    assert!(sample(&body, "turnout_messages_unknown", &[]).is_some(), "{body}");
    assert!(sample(&body, "turnout_db_pool_connections", &[r#"state="idle""#]).is_some(), "{body}");
    assert!(sample(&body, "turnout_db_pool_connections", &[r#"state="in_use""#]).is_some(), "{body}");
    assert!(sample(&body, "turnout_db_pool_max", &[]).is_some_and(|n| n >= 1.0), "{body}");
}
