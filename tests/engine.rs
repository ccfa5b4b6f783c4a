//! The sending engine, on a manual clock: funnels run across days in seconds, and every
//! test names the windows and throttles it runs with. Providers are the sandbox (the
//! product's own) unless a test says otherwise.
mod common;

use chrono::{DateTime, Duration, Utc};
use common::funnel::{contact, edge, node, running, utc, way};
use common::{TestApp, json, spawn_engine};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::Arc;
use turnout::domain::Role;
use turnout::server::clock::ManualClock;

/// Outbound messages of an enrollment, oldest first: (node, state, body, sent_at).
pub async fn sent(app: &TestApp, enrollment: uuid::Uuid) -> Vec<(String, String, String, Option<DateTime<Utc>>)> {
    sqlx::query!(
        r#"SELECT node_key AS "node!", send_state AS "state!", body, sent_at FROM messages
           WHERE enrollment_id = $1 ORDER BY created_at, id"#,
        enrollment
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.node, r.state, r.body, r.sent_at))
    .collect()
}

pub async fn engine_state(app: &TestApp, enrollment: uuid::Uuid) -> (String, Option<String>, Option<DateTime<Utc>>, Option<String>) {
    let r = sqlx::query!("SELECT engine_state, current_node, next_run_at, held_reason FROM enrollments WHERE id = $1", enrollment)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (r.engine_state, r.current_node, r.next_run_at, r.held_reason)
}

/// A reply from the contact of an enrollment, recorded as the inbox records one.
async fn reply(app: &TestApp, enrollment: uuid::Uuid, at: DateTime<Utc>) {
    let conversation = sqlx::query_scalar!(
        "SELECT v.id FROM enrollments e JOIN conversations v ON v.contact_id = e.contact_id AND v.channel = 'sms' WHERE e.id = $1",
        enrollment
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    turnout::server::conversations::log_message(&mut conn, &turnout::server::conversations::LoggedMessage {
        conversation_id: conversation,
        direction: turnout::domain::campaign::Direction::In,
        body: "Count me in!",
        subject: None,
        provider: "sandbox",
        campaign_id: None,
        at,
    })
    .await
    .unwrap();
}

/// Stage → SMS → wait a day → replied within 24 h? yes: thank-you email / no: reminder SMS.
fn invitation() -> Value {
    json!({
        "nodes": [
            node("N1", "stage", json!({ "stage_key": "invited" })),
            node("N2", "sms_send", json!({ "body": "Hi {{contact.first_name}}, join us {{event.date}} at {{event.venue}}?" })),
            node("N3", "wait", json!({ "mode": "duration", "minutes": 1440 })),
            node("N4", "branch", json!({ "rule": "replied", "within_hours": 24 })),
            node("N5", "email_send", json!({ "subject": "See you {{event.date}}", "body": "Thanks {{contact.first_name}}!" })),
            node("N6", "sms_send", json!({ "body": "Still time to join us, {{contact.first_name}}." })),
        ],
        "edges": [edge("N1", "N2"), edge("N2", "N3"), edge("N3", "N4"), way("N4", "N5", "yes"), way("N4", "N6", "no")]
    })
}

/// Windows 09:00–20:00 Monday–Saturday (the default); no throttles.
fn no_throttles(s: &mut turnout::server::settings::Settings) {
    s.sms_per_second_per_number = 0.0;
    s.email_per_day_per_sender = 0;
}

#[sqlx::test]
async fn a_funnel_runs_across_days_taking_each_branch(pool: PgPool) {
    // Tuesday 2 March 2027, 10:00 in New York.
    let clock = Arc::new(ManualClock::at(utc("2027-03-02T15:00:00Z")));
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    let k = running(&app, "2027-03-20T23:00:00Z", invitation()).await;
    let pat = contact(&app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    let sam = contact(&app, k.id, "Sam Roe", "+12025550102", "sam@example.com", None).await;

    assert_eq!(app.run_engine().await, 2, "one provider call per contact");
    let first = sent(&app, pat).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1, "sent");
    // The campaign's first SMS names the sender and says how to opt out.
    assert_eq!(first[0].2, "Ana Ruiz: Hi Pat, join us Saturday, March 20 at Hall A?\nReply STOP to opt out");
    assert_eq!(engine_state(&app, pat).await.1.as_deref(), Some("N4"), "parked after the wait, at the branch");

    // Pat replies during the wait; Sam does not.
    reply(&app, pat, utc("2027-03-02T18:00:00Z")).await;
    clock.set(utc("2027-03-03T15:00:00Z"));
    assert_eq!(app.run_engine().await, 1);
    let pat_msgs = sent(&app, pat).await;
    assert_eq!(pat_msgs.len(), 2);
    assert_eq!((pat_msgs[1].0.as_str(), pat_msgs[1].1.as_str()), ("N5", "sent"));
    assert!(pat_msgs[1].2.contains("Thanks Pat!") && pat_msgs[1].2.contains("Acme Homes, 1 Main St, Springfield, IL 62701"));
    assert_eq!(engine_state(&app, pat).await.0, "finished");
    // Sam waits out the reply window at the branch.
    let (state, node, next, _) = engine_state(&app, sam).await;
    assert_eq!((state.as_str(), node.as_deref(), next), ("active", Some("N4"), Some(utc("2027-03-04T15:00:00Z"))));

    clock.set(utc("2027-03-04T15:00:00Z"));
    assert_eq!(app.run_engine().await, 1);
    let sam_msgs = sent(&app, sam).await;
    // Only the first SMS carries the introduction.
    assert_eq!(sam_msgs[1].2, "Still time to join us, Sam.");
    assert_eq!(engine_state(&app, sam).await.0, "finished");

    // Each step is on the contact's timeline.
    let kinds: Vec<String> = sqlx::query_scalar!("SELECT kind FROM engine_events WHERE enrollment_id = $1 ORDER BY at, id", sam)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(kinds, ["stage", "branch"]);
    assert_eq!(app.run_engine().await, 0, "nothing more to do");
}

#[sqlx::test]
async fn event_relative_waits_follow_each_contacts_zone_across_the_clock_change(pool: PgPool) {
    // Thursday 11 March 2027; clocks in the US move forward on Sunday the 14th.
    let clock = Arc::new(ManualClock::at(utc("2027-03-11T15:00:00Z")));
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    // The event: Tuesday 16 March, 19:00 in New York. Two days before at 10:00 is Sunday,
    // outside the window (Monday–Saturday), so the reminder waits for Monday 09:00 local.
    let graph = json!({
        "nodes": [
            node("N1", "wait", json!({ "mode": "before_event", "days_before": 2, "at": "10:00" })),
            node("N2", "sms_send", json!({ "body": "See you Tuesday! Reply STOP to opt out" })),
        ],
        "edges": [edge("N1", "N2")]
    });
    let k = running(&app, "2027-03-16T23:00:00Z", graph).await;
    let ny = contact(&app, k.id, "Ny Person", "+12025550201", "ny@example.com", None).await;
    let la = contact(&app, k.id, "La Person", "+12025550202", "la@example.com", Some("America/Los_Angeles")).await;

    assert_eq!(app.run_engine().await, 0);
    // Sunday 10:00 EDT (after the change) and 10:00 PDT the same day (the event is 16:00 there).
    assert_eq!(engine_state(&app, ny).await.2, Some(utc("2027-03-14T14:00:00Z")));
    assert_eq!(engine_state(&app, la).await.2, Some(utc("2027-03-14T17:00:00Z")));

    // The wait ends on Sunday: held for the window, not dropped.
    clock.set(utc("2027-03-14T17:00:00Z"));
    assert_eq!(app.run_engine().await, 0);
    let (state, node, next, reason) = engine_state(&app, ny).await;
    assert_eq!((state.as_str(), node.as_deref(), next), ("active", Some("N2"), Some(utc("2027-03-15T13:00:00Z"))));
    assert!(reason.unwrap().starts_with("Outside the send window"));
    assert_eq!(engine_state(&app, la).await.2, Some(utc("2027-03-15T16:00:00Z")));

    clock.set(utc("2027-03-15T13:00:00Z"));
    assert_eq!(app.run_engine().await, 1);
    assert_eq!(sent(&app, ny).await[0].3, Some(utc("2027-03-15T13:00:00Z")));
    assert!(sent(&app, la).await.is_empty());
    clock.set(utc("2027-03-15T16:00:00Z"));
    assert_eq!(app.run_engine().await, 1);
    assert_eq!(sent(&app, la).await[0].3, Some(utc("2027-03-15T16:00:00Z")));
}

#[sqlx::test]
async fn a_held_step_pushes_later_ones_back_and_a_branch_into_a_closed_window_still_sends(pool: PgPool) {
    // Saturday 6 March 2027, 21:00 in New York: the window (09:00–20:00, Mon–Sat) is closed until Monday.
    let clock = Arc::new(ManualClock::at(utc("2027-03-07T02:00:00Z")));
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    let graph = json!({
        "nodes": [
            node("N1", "branch", json!({ "rule": "status", "status": "No Activity" })),
            node("N2", "sms_send", json!({ "body": "First, reply STOP to opt out" })),
            node("N3", "wait", json!({ "mode": "duration", "minutes": 60 })),
            node("N4", "sms_send", json!({ "body": "Second" })),
            node("N5", "stage", json!({ "stage_key": "skipped" })),
        ],
        "edges": [way("N1", "N2", "yes"), way("N1", "N5", "no"), edge("N2", "N3"), edge("N3", "N4")]
    });
    let k = running(&app, "2027-03-20T23:00:00Z", graph).await;
    let e = contact(&app, k.id, "Pat Lee", "+12025550301", "pat@example.com", None).await;

    assert_eq!(app.run_engine().await, 0);
    assert_eq!(engine_state(&app, e).await.2, Some(utc("2027-03-08T14:00:00Z")), "Monday 09:00 EST");
    clock.set(utc("2027-03-08T14:00:05Z"));
    assert_eq!(app.run_engine().await, 1);
    // The wait counts from when the first SMS actually went out, not from when it was due.
    assert_eq!(engine_state(&app, e).await.2, Some(utc("2027-03-08T15:00:05Z")));
    clock.set(utc("2027-03-08T15:00:05Z"));
    assert_eq!(app.run_engine().await, 1);
    let msgs = sent(&app, e).await;
    assert_eq!(msgs.iter().map(|m| m.3.unwrap()).collect::<Vec<_>>(), [utc("2027-03-08T14:00:05Z"), utc("2027-03-08T15:00:05Z")]);
}

#[sqlx::test]
async fn throttles_space_texts_per_number_and_cap_email_per_day(pool: PgPool) {
    // Tuesday 10:00 in New York; windows default; 1 SMS/s per from-number, 2 emails a day per sender.
    let clock = Arc::new(ManualClock::at(utc("2027-03-02T15:00:00Z")));
    let app = spawn_engine(pool, clock.clone(), |s| {
        s.sms_per_second_per_number = 1.0;
        s.email_per_day_per_sender = 2;
    })
    .await;
    let graph = json!({
        "nodes": [
            node("N1", "sms_send", json!({ "body": "Hi, reply STOP to opt out" })),
            node("N2", "email_send", json!({ "subject": "Hello", "body": "Details inside" })),
        ],
        "edges": [edge("N1", "N2")]
    });
    let k = running(&app, "2027-03-20T23:00:00Z", graph).await;
    let mut es = Vec::new();
    for i in 0..3 {
        es.push(contact(&app, k.id, &format!("P{i}"), &format!("+1202555004{i}"), &format!("p{i}@example.com"), None).await);
    }
    let count = |state: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM messages WHERE send_state = $1"#, state).fetch_one(&pool).await.unwrap()
        }
    };
    // One text now (and that contact's email right after), the others at their slots one second apart.
    app.run_engine().await;
    assert_eq!(count("sent").await, 2);
    let held: Vec<Option<String>> = sqlx::query_scalar!("SELECT held_reason FROM enrollments WHERE held_reason IS NOT NULL")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(held.len(), 2);
    assert!(held[0].as_deref().unwrap().starts_with("Throttled"));
    for _ in 0..2 {
        clock.advance(Duration::seconds(1));
        app.run_engine().await;
    }
    // Three texts and two emails: the third email waits for tomorrow's allowance.
    assert_eq!(count("sent").await, 5);
    clock.set(utc("2027-03-03T15:00:00Z"));
    app.run_engine().await;
    assert_eq!(count("sent").await, 6);
    let _ = es;
}

#[sqlx::test]
async fn suppressed_contacts_are_never_sent_to_and_the_unsubscribe_link_works_without_a_session(pool: PgPool) {
    let clock = Arc::new(ManualClock::at(utc("2027-03-02T15:00:00Z")));
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    let graph = json!({
        "nodes": [
            node("N1", "email_send", json!({ "subject": "Hello {{contact.first_name}}", "body": "Details inside" })),
            node("N2", "wait", json!({ "mode": "duration", "minutes": 60 })),
            node("N3", "email_send", json!({ "subject": "Reminder", "body": "Tomorrow!" })),
            node("N4", "sms_send", json!({ "body": "Text, reply STOP to opt out" })),
        ],
        "edges": [edge("N1", "N2"), edge("N2", "N3"), edge("N3", "N4")]
    });
    let k = running(&app, "2027-03-20T23:00:00Z", graph).await;
    let pat = contact(&app, k.id, "Pat Lee", "+12025550501", "pat@example.com", None).await;
    let sam = contact(&app, k.id, "Sam Roe", "+12025550502", "sam@example.com", None).await;
    sqlx::query!(
        "INSERT INTO suppressions (id, kind, value_hash, value, reason, source)
         VALUES ($1, 'phone', sha256(convert_to('+12025550502', 'UTF8')), '+12025550502', 'STOP', 'test')",
        uuid::Uuid::now_v7()
    )
    .execute(&app.pool)
    .await
    .unwrap();

    app.run_engine().await;
    let email: (Option<String>, String) = sqlx::query!("SELECT body_html, body FROM messages WHERE enrollment_id = $1", pat)
        .fetch_one(&app.pool)
        .await
        .map(|r| (r.body_html, r.body))
        .unwrap();
    assert!(email.1.contains("Acme Homes, 1 Main St, Springfield, IL 62701"), "{}", email.1);
    let link = email.1.lines().find_map(|l| l.strip_prefix("Unsubscribe: ")).unwrap().to_string();
    assert!(email.0.unwrap().contains(&link));

    // A mail client's one-click POST (RFC 8058): no cookie, no Origin.
    let res = reqwest::Client::new().post(&link).body("List-Unsubscribe=One-Click").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = reqwest::Client::new().post(format!("{link}x")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "a forged token");
    let status: String = sqlx::query_scalar!("SELECT status FROM enrollments WHERE id = $1", pat).fetch_one(&app.pool).await.unwrap();
    assert_eq!(status, "Opted Out");

    clock.advance(Duration::minutes(60));
    app.run_engine().await;
    // Unsubscribed, Pat is opted out of the campaign: nothing more goes to them, by any channel.
    assert_eq!(sent(&app, pat).await.len(), 1);
    let (state, _, _, reason) = engine_state(&app, pat).await;
    assert_eq!((state.as_str(), reason.as_deref()), ("stopped", Some("The contact opted out")));
    let sam_msgs = sent(&app, sam).await;
    assert_eq!(sam_msgs.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(), ["sent", "sent", "cancelled"]);
    assert_eq!(sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM sandbox_messages WHERE to_address = '+12025550502'"#).fetch_one(&app.pool).await.unwrap(), 0);
}

#[sqlx::test]
async fn pausing_resuming_and_per_contact_controls(pool: PgPool) {
    let clock = Arc::new(ManualClock::at(utc("2027-03-02T15:00:00Z")));
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    let graph = json!({
        "nodes": [
            node("N1", "sms_send", json!({ "body": "One, reply STOP to opt out" })),
            node("N2", "wait", json!({ "mode": "duration", "minutes": 60 })),
            node("N3", "sms_send", json!({ "body": "Two" })),
            node("N4", "sms_send", json!({ "body": "Three" })),
        ],
        "edges": [edge("N1", "N2"), edge("N2", "N3"), edge("N3", "N4")]
    });
    let k = running(&app, "2027-03-20T23:00:00Z", graph).await;
    let pat = contact(&app, k.id, "Pat Lee", "+12025550601", "pat@example.com", None).await;
    let sam = contact(&app, k.id, "Sam Roe", "+12025550602", "sam@example.com", None).await;
    let act = |action: &'static str| {
        let (app, token, id) = (&app, k.owner.token.clone(), k.id);
        async move { app.call("POST", &format!("/api/campaigns/{id}/actions"), Some(&token), Some(json!({ "action": action }))).await }
    };
    let per = |e: uuid::Uuid, action: &'static str| {
        let (app, token, id) = (&app, k.owner.token.clone(), k.id);
        async move { app.call("POST", &format!("/api/campaigns/{id}/enrollments/{e}/actions"), Some(&token), Some(json!({ "action": action }))).await }
    };

    assert_eq!(act("pause").await.status(), StatusCode::OK);
    assert_eq!(app.run_engine().await, 0, "a paused campaign sends nothing");
    assert_eq!(act("resume").await.status(), StatusCode::OK);
    assert_eq!(app.run_engine().await, 2);

    // Pat is paused; Sam skips the second text.
    assert_eq!(per(pat, "pause").await.status(), StatusCode::OK);
    let (status, detail) = json(per(sam, "skip").await).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    clock.advance(Duration::minutes(60));
    app.run_engine().await;
    assert_eq!(sent(&app, sam).await.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["N1", "N4"]);
    assert_eq!(sent(&app, pat).await.len(), 1);
    assert_eq!(per(pat, "resume").await.status(), StatusCode::OK);
    app.run_engine().await;
    assert_eq!(sent(&app, pat).await.len(), 3);
    // Another BDR cannot touch these contacts; a finished contact cannot be resumed.
    let other = app.user("other@turnout.test", Role::Bdr).await;
    let res = app.call("POST", &format!("/api/campaigns/{}/enrollments/{pat}/actions", k.id), Some(&other.token), Some(json!({ "action": "pause" }))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(per(pat, "resume").await.status(), StatusCode::CONFLICT);

    // The live counts per step.
    let (_, detail) = json(app.call("GET", &format!("/api/campaigns/{}", k.id), Some(&k.owner.token), None).await).await;
    let counts = detail["counts"].as_array().unwrap();
    let n1 = counts.iter().find(|c| c["node"] == "N1").unwrap();
    assert_eq!(n1["sent"], 2);
    // Stopping ends every run.
    assert_eq!(act("complete").await.status(), StatusCode::OK);
    let stopped: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM enrollments WHERE engine_state IN ('active', 'paused')"#)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stopped, 0);
}

/// Points the org's Twilio account at the loopback stand-in.
async fn use_fake_twilio(app: &TestApp, fake: &common::twilio::FakeTwilio) {
    let mut conn = app.pool.acquire().await.unwrap();
    turnout::server::providers::save_account(&mut conn, &app.state.keys, "twilio", None, Some((&fake.account_sid, &fake.auth_token))).await.unwrap();
}

fn with_fake(base: String) -> impl FnOnce(&mut turnout::server::settings::Settings) {
    move |s| {
        no_throttles(s);
        s.twilio_api_base = base;
    }
}

#[sqlx::test]
async fn texts_go_through_twilio_with_retries_failures_and_signed_delivery_reports(pool: PgPool) {
    let fake = common::twilio::FakeTwilio::start().await;
    let clock = Arc::new(ManualClock::at(utc("2027-03-02T15:00:00Z")));
    let app = spawn_engine(pool, clock.clone(), with_fake(fake.base_url.clone())).await;
    use_fake_twilio(&app, &fake).await;
    fake.send_status_callbacks(true);
    let graph = json!({
        "nodes": [
            node("N1", "sms_send", json!({ "body": "Hi {{contact.first_name}}, reply STOP to opt out" })),
            node("N2", "stage", json!({ "stage_key": "texted" })),
        ],
        "edges": [edge("N1", "N2")]
    });
    let k = running(&app, "2027-03-20T23:00:00Z", graph).await;
    let ok = contact(&app, k.id, "Pat Lee", "+12025550701", "pat@example.com", None).await;
    let invalid = contact(&app, k.id, "Ivy Bad", "+12025550702", "ivy@example.com", None).await;
    let unsub = contact(&app, k.id, "Una Sub", "+12025550703", "una@example.com", None).await;
    fake.fail_recipient("+12025550702", 21211);
    fake.fail_recipient("+12025550703", 21610);
    // The first request meets a 429 with Retry-After: 1.
    fake.throttle_next(1);

    app.run_engine().await;
    let states = |e| {
        let app = &app;
        async move { sent(app, e).await.into_iter().map(|m| m.1).collect::<Vec<_>>() }
    };
    // Whoever met the 429 waits a second and goes again; the others are settled.
    clock.advance(Duration::seconds(1));
    app.run_engine().await;
    assert_eq!(states(ok).await, ["sent"]);
    assert_eq!(fake.calls_for("+12025550701", "Ana Ruiz: Hi Pat, reply STOP to opt out"), 1);
    let failed = sqlx::query!("SELECT send_state, error, error_code FROM messages WHERE enrollment_id = $1", invalid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((failed.send_state.as_deref(), failed.error_code.as_deref()), (Some("failed"), Some("21211")));
    // A failed step moves the contact on (the node's default); the unsubscribed number is suppressed.
    assert_eq!(engine_state(&app, invalid).await.0, "finished");
    assert_eq!(states(unsub).await, ["failed"]);
    let suppressed: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM suppressions WHERE value_hash = sha256('+12025550703')"#)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(suppressed, 1);

    // Twilio's signed StatusCallback posts reach the status route and are recorded.
    let mut delivered = None;
    for _ in 0..50 {
        delivered = sqlx::query_scalar!("SELECT delivery_status FROM messages WHERE enrollment_id = $1", ok).fetch_one(&app.pool).await.unwrap();
        if delivered.as_deref() == Some("delivered") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(delivered.as_deref(), Some("delivered"));

    // Forged, unsigned and malformed reports.
    let form = [("AccountSid", fake.account_sid.as_str()), ("MessageSid", "SMx"), ("MessageStatus", "failed")];
    let status_url = app.url("/api/twilio/status");
    let res = reqwest::Client::new().post(&status_url).header("X-Twilio-Signature", "bm90IGl0").form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = reqwest::Client::new().post(&status_url).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let params: Vec<(String, String)> = vec![("AccountSid".into(), fake.account_sid.clone()), ("MessageStatus".into(), "sent".into())];
    let sig = turnout::server::webhooks::twilio_signature::signature(&fake.auth_token, &status_url, &params);
    let res = reqwest::Client::new().post(&status_url).header("X-Twilio-Signature", sig).form(&params).send().await.unwrap();
    let (status, body) = json(res).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("missing parameter MessageSid")));
}

#[sqlx::test]
async fn a_send_interrupted_by_a_crash_is_reconciled_never_sent_twice(pool: PgPool) {
    let fake = common::twilio::FakeTwilio::start().await;
    // Twilio dates its messages by its own clock, so this test's clock starts at the real
    // time; the window is all day, every day, so the time of day does not matter.
    let start = Utc::now();
    let clock = Arc::new(ManualClock::at(start));
    let app = spawn_engine(pool, clock.clone(), with_fake(fake.base_url.clone())).await;
    use_fake_twilio(&app, &fake).await;
    let graph = json!({ "nodes": [node("N1", "sms_send", json!({ "body": "Hello, reply STOP to opt out" }))], "edges": [] });
    let k = running(&app, &(start + Duration::days(30)).to_rfc3339(), graph).await;
    sqlx::query!("UPDATE campaigns SET window_start = 0, window_end = 1440, window_days = '{1,2,3,4,5,6,7}' WHERE id = $1", k.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let went = contact(&app, k.id, "Pat Lee", "+12025550801", "pat@example.com", None).await;
    let didnt = contact(&app, k.id, "Sam Roe", "+12025550802", "sam@example.com", None).await;
    let stopped = contact(&app, k.id, "Una Stop", "+12025550803", "una@example.com", None).await;
    app.run_engine().await;
    assert_eq!(fake.total_calls(), 3);

    // As if the process died after Twilio took Pat's text but before the outcome was
    // recorded, and before Sam's request left: both rows `sending`, leases run out.
    sqlx::query!(
        "UPDATE messages SET send_state = 'sending', provider_message_id = NULL, sent_at = NULL WHERE enrollment_id = ANY($1)",
        &[went, didnt, stopped]
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query!(
        "UPDATE enrollments SET engine_state = 'active', current_node = 'N1', step_seq = 1, next_run_at = $2, lease_until = $2
         WHERE id = ANY($1)",
        &[went, didnt, stopped],
        start
    )
    .execute(&app.pool)
    .await
    .unwrap();
    // Sam's and Una's recorded texts differ from anything Twilio has: their requests never
    // left. Una texted STOP meanwhile.
    sqlx::query!("UPDATE messages SET body = 'Ana Ruiz: Hello again' WHERE enrollment_id = ANY($1)", &[didnt, stopped])
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query!(
        "INSERT INTO suppressions (id, kind, value_hash, value, reason, source)
         VALUES ($1, 'phone', sha256(convert_to('+12025550803', 'UTF8')), '+12025550803', 'STOP', 'test')",
        uuid::Uuid::now_v7()
    )
    .execute(&app.pool)
    .await
    .unwrap();

    clock.advance(Duration::minutes(5));
    app.run_engine().await;
    // Pat's text was found at Twilio (no new send); Sam's was not, so it went once.
    assert_eq!(fake.calls_for("+12025550801", "Ana Ruiz: Hello, reply STOP to opt out"), 1);
    assert_eq!(fake.calls_for("+12025550802", "Ana Ruiz: Hello again"), 1);
    // Una's was not found at Twilio either, and is not sent now that she opted out.
    assert_eq!(fake.calls_for("+12025550803", "Ana Ruiz: Hello again"), 0);
    assert_eq!(sent(&app, stopped).await[0].1, "failed");
    for e in [went, didnt] {
        assert_eq!(sent(&app, e).await[0].1, "sent");
        assert_eq!(engine_state(&app, e).await.0, "finished");
    }
}

#[sqlx::test]
async fn two_engines_on_one_database_never_send_twice(pool: PgPool) {
    let fake = common::twilio::FakeTwilio::start().await;
    let clock = Arc::new(ManualClock::at(utc("2027-03-02T15:00:00Z")));
    let a = spawn_engine(pool.clone(), clock.clone(), |s| {
        with_fake(fake.base_url.clone())(s);
        s.engine_batch_size = 25;
    })
    .await;
    let b = common::start_on(pool, a.state.settings.as_ref().clone(), clock.clone()).await;
    use_fake_twilio(&a, &fake).await;
    let graph = json!({
        "nodes": [
            node("N1", "sms_send", json!({ "body": "One, reply STOP to opt out" })),
            node("N2", "sms_send", json!({ "body": "Two" })),
        ],
        "edges": [edge("N1", "N2")]
    });
    let k = running(&a, "2027-03-20T23:00:00Z", graph).await;
    for i in 0..300 {
        contact(&a, k.id, &format!("P{i}"), &format!("+1312555{i:04}"), &format!("p{i}@example.com"), None).await;
    }
    let (x, y) = tokio::join!(a.run_engine(), b.run_engine());
    assert_eq!(x + y, 600);
    assert!(fake.duplicates().is_empty(), "{:?}", fake.duplicates());
    let finished: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM enrollments WHERE engine_state = 'finished'"#)
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(finished, 300);
}

#[sqlx::test]
async fn email_goes_out_through_the_senders_own_smtp_identity_with_unsubscribe_headers(pool: PgPool) {
    let (url, received) = common::smtp::smtp_server();
    let clock = Arc::new(ManualClock::at(utc("2027-03-02T15:00:00Z")));
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    let graph = json!({
        "nodes": [node("N1", "email_send", json!({ "subject": "You're invited, {{contact.first_name}}", "body": "See you at {{event.venue}}.\n\nAna" }))],
        "edges": []
    });
    let k = running(&app, "2027-03-20T23:00:00Z", graph).await;
    // The sender's identity, set as they would in Settings (plain SMTP to a local relay).
    let port = url.rsplit(':').next().unwrap();
    let profile = json!({ "name": "Ana Ruiz", "sms_from_number": "", "vm_caller_id": "", "smtp_host": "127.0.0.1",
                          "smtp_port": port, "smtp_username": "", "smtp_tls": "none", "smtp_from_email": "ana@acme.example" });
    assert_eq!(app.call("PUT", "/api/me/profile", Some(&k.owner.token), Some(profile)).await.status(), StatusCode::OK);
    let pat = contact(&app, k.id, "Pat Lee", "+12025550901", "pat@example.com", None).await;

    assert_eq!(app.run_engine().await, 1);
    let mail = &common::smtp::wait_for_mail(&received, 1).await[0];
    assert_eq!(mail.to, ["pat@example.com"]);
    let data = mail.data.replace("=\r\n", "");
    assert!(data.contains("From: \"Ana Ruiz\" <ana@acme.example>") || data.contains("From: Ana Ruiz <ana@acme.example>"), "{data}");
    assert!(data.contains("Subject: You're invited, Pat"), "{data}");
    assert!(data.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{data}");
    assert!(data.contains("List-Unsubscribe: <http://"), "{data}");
    assert!(data.contains("multipart/alternative"), "a text and an HTML part: {data}");
    assert!(data.contains("Springfield, IL 62701"), "the postal address: {data}");
    let row = sqlx::query!("SELECT send_state, provider, message_id_header FROM messages WHERE enrollment_id = $1", pat)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((row.send_state.as_deref(), row.provider.as_deref()), (Some("sent"), Some("smtp")));
    let message_id = row.message_id_header.unwrap();
    assert!(data.contains(&format!("Message-ID: {message_id}")), "kept for threading: {message_id}");
}

#[sqlx::test]
async fn execute_sms_answers_at_once_and_the_engine_sends_the_one_off(pool: PgPool) {
    // Tuesday 10:00 in New York; windows default; no throttles.
    let clock = Arc::new(ManualClock::at(utc("2027-03-02T15:00:00Z")));
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    let k = running(&app, "2027-03-20T23:00:00Z", invitation()).await;
    let pat = contact(&app, k.id, "Pat Lee", "+12025550951", "pat@example.com", None).await;
    contact(&app, k.id, "Sam Roe", "+12025550952", "sam@example.com", None).await;
    sqlx::query!("UPDATE enrollments SET status = 'Opted Out' WHERE id = $1", pat).execute(&app.pool).await.unwrap();

    let res = app.call("POST", &format!("/api/campaigns/{}/execute-sms", k.id), Some(&k.owner.token), None).await;
    let (status, job) = json(res).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["queued"], 1, "opted-out contacts are left out");
    assert_eq!(app.run_engine().await, 2, "the campaign's own first text to Sam, and the one-off");
    let job_id = uuid::Uuid::parse_str(job["job_id"].as_str().unwrap()).unwrap();
    let bodies: Vec<String> = sqlx::query_scalar!("SELECT body FROM messages WHERE campaign_id = $1", job_id).fetch_all(&app.pool).await.unwrap();
    // The funnel's first SMS; Sam was introduced by the campaign's own run (or by this one).
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].contains("Hi Sam, join us Saturday, March 20 at Hall A?"), "{bodies:?}");
    let (_, detail) = json(app.call("GET", &format!("/api/campaigns/{job_id}"), Some(&k.owner.token), None).await).await;
    assert_eq!(detail["counts"][0]["sent"], 1);
}
