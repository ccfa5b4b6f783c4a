//! The sandbox's simulated contacts: with `SANDBOX_REPLY_RATE` on, their answers to a
//! campaign's texts arrive as signed posts to the app's own inbound route and are handled as
//! any contact's reply would be.
mod common;

use common::funnel::{contact, edge, node, running};
use common::spawn_engine;
use serde_json::json;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use turnout::server::clock::ManualClock;
use turnout::server::providers::sandbox::demo_reply;
use uuid::Uuid;

#[sqlx::test]
async fn demo_contacts_answer_through_the_inbound_route(pool: PgPool) {
    // Tuesday 10:00 in New York: inside the send window.
    let clock = Arc::new(ManualClock::at("2027-03-02T15:00:00Z".parse().unwrap()));
    let app = spawn_engine(pool, clock, |s| {
        s.sms_per_second_per_number = 0.0;
        s.sandbox_reply_rate = 1.0;
        // Long enough for the test to read the outbox before the first answer (and the
        // opt-out confirmation it may bring) arrives.
        s.sandbox_reply_delay_ms = 300;
    })
    .await;
    let graph = json!({
        "nodes": [
            node("N1", "sms_send", json!({ "body": "Hi {{contact.first_name}}, join us on the 20th?" })),
            node("N2", "wait", json!({ "mode": "duration", "minutes": 4320 })),
            node("N3", "sms_send", json!({ "body": "Last call, {{contact.first_name}}!" })),
        ],
        "edges": [edge("N1", "N2"), edge("N2", "N3")]
    });
    let k = running(&app, "2027-03-20T23:00:00Z", graph).await;
    let names: Vec<String> = (0..32).map(|i| format!("Guest{i}")).collect();
    let mut enrollments = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let phone = format!("+1202555{:04}", 300 + i);
        let id = contact(&app, k.id, name, &phone, &format!("{name}.{}@example.com", Uuid::now_v7().simple()), None).await;
        enrollments.insert(phone, id);
    }
    app.run_engine().await;

    // What each contact will answer, from the text the sandbox sent them.
    let sent = sqlx::query!("SELECT to_address, body FROM sandbox_messages").fetch_all(&app.pool).await.unwrap();
    assert_eq!(sent.len(), names.len());
    let expected: HashMap<String, &str> = sent.iter().map(|m| (m.to_address.clone(), demo_reply(&m.to_address, &m.body, 1.0).unwrap())).collect();
    assert!(expected.values().any(|r| *r == "Yes, count me in!"), "some contact RSVPs: {expected:?}");
    assert!(expected.values().any(|r| r.ends_with('?')), "some contact asks a question: {expected:?}");
    assert!(expected.values().any(|r| *r == "STOP"), "some contact opts out: {expected:?}");

    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = sqlx::query!(
            r#"SELECT from_address AS "from!", body, provider, campaign_id FROM messages WHERE direction = 'in'"#
        )
        .fetch_all(&app.pool)
        .await
        .unwrap();
        if stored.len() >= names.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored.len(), names.len(), "one answer per text");
    for m in &stored {
        assert_eq!(m.body, expected[&m.from], "{} answered as drawn", m.from);
        assert_eq!((m.provider.as_deref(), m.campaign_id), (Some("sandbox"), Some(k.id)));
    }

    for (phone, reply) in &expected {
        let status = sqlx::query_scalar!("SELECT status FROM enrollments WHERE id = $1", enrollments[phone]).fetch_one(&app.pool).await.unwrap();
        let want = match *reply {
            "Yes, count me in!" => "Received RSVP",
            "STOP" => "Opted Out",
            _ => "Needs BDR",
        };
        assert_eq!(status, want, "{phone} answered {reply:?}");
    }

    // A STOP's confirmation goes out through the sandbox too, but it is no funnel text:
    // nobody answers it.
    let mut confirmations = 0;
    for _ in 0..50 {
        confirmations = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM sandbox_messages WHERE body LIKE 'You are unsubscribed%'"#)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if confirmations > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(confirmations, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answers: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM messages WHERE direction = 'in'"#).fetch_one(&app.pool).await.unwrap();
    assert_eq!(answers as usize, names.len());
}

#[test]
fn answers_repeat_and_follow_the_rate() {
    let texts: Vec<String> = (0..1000).map(|i| format!("Hi {i}, join us?")).collect();
    let answered = texts.iter().filter(|t| demo_reply("+12025550300", t, 0.3).is_some()).count();
    assert!((250..350).contains(&answered), "about 30 % answered: {answered}");
    assert!(texts.iter().all(|t| demo_reply("+12025550300", t, 0.0).is_none()), "0 is off");
    assert_eq!(demo_reply("+12025550300", &texts[0], 1.0), demo_reply("+12025550300", &texts[0], 1.0));
}
