//! Real time across server processes: two app instances share one database; a browser's
//! event stream is open on one while the texts and the engine's sends happen on the other.
mod common;

use common::funnel::{contact, running, tuesday_in_window, two_texts};
use common::phone::Phone;
use common::{TestApp, spawn_engine, start_on, test_settings};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

const ANA: &str = "+12025550001";
const BEN: &str = "+12025550002";
const PAT: &str = "+12025550401";
const LEE: &str = "+12025550402";

/// An open `GET /api/events`, read as a browser's EventSource reads it.
struct Events {
    res: reqwest::Response,
    buf: String,
}

impl Events {
    async fn open(app: &TestApp, token: &str) -> Events {
        let res = reqwest::Client::new().get(app.url("/api/events")).bearer_auth(token).send().await.expect("request");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Events { res, buf: String::new() }
    }

    /// The next event (its name and JSON data), or `None` when none comes within the wait.
    async fn next(&mut self, wait: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).map(String::from);
                // Keep-alive comments carry no event.
                if let (Some(event), Some(data)) = (field("event:"), field("data:")) {
                    return Some((event, serde_json::from_str(&data).expect("JSON data")));
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk()).await.ok()?.expect("stream")?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event of this kind, skipping others.
    async fn next_of(&mut self, kind: &str) -> Option<Value> {
        while let Some((name, data)) = self.next(Duration::from_secs(5)).await {
            if name == "change" && data["kind"] == kind {
                return Some(data);
            }
        }
        None
    }
}


async fn conversation_of(app: &TestApp, address: &str) -> Uuid {
    sqlx::query_scalar!("SELECT id FROM conversations WHERE address = $1", address).fetch_one(&app.pool).await.unwrap()
}

#[sqlx::test]
async fn an_event_published_by_one_server_process_reaches_a_client_connected_to_another(pool: PgPool) {
    let clock = tuesday_in_window();
    // Process A serves the browsers; process B takes Twilio's webhooks and runs the engine.
    let a = spawn_engine(pool.clone(), clock.clone(), |_| {}).await;
    let b = start_on(pool, test_settings(), clock).await;
    let ana = running(&b, "2027-03-20T23:00:00Z", two_texts()).await;
    contact(&b, ana.id, "Pat Lee", PAT, "pat@example.com", None).await;
    let ben = running(&b, "2027-03-20T23:00:00Z", two_texts()).await;
    sqlx::query!("UPDATE users SET sms_from_number = $2 WHERE id = $1", ben.owner.id, BEN).execute(&b.pool).await.unwrap();
    contact(&b, ben.id, "Lee Ray", LEE, "lee@example.com", None).await;
    let anonymous = reqwest::get(a.url("/api/events")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let mut anas = Events::open(&a, &ana.owner.token).await;
    let mut bens = Events::open(&a, &ben.owner.token).await;

    // The engine on B sends the first texts: each owner's open campaign page hears of their own.
    b.run_engine().await;
    assert_eq!(anas.next_of("enrollment").await.map(|e| e["campaign_id"].clone()), Some(json!(ana.id)));
    assert_eq!(bens.next_of("enrollment").await.map(|e| e["campaign_id"].clone()), Some(json!(ben.id)));

    // Pat answers Ana, through B: Ana's inbox on A hears of it within a second.
    let posted = tokio::time::Instant::now();
    Phone::sandbox(&b).text(PAT, ANA, "Is there parking?").await;
    let event = anas.next_of("message_in").await.expect("Ana hears of Pat's reply");
    assert!(posted.elapsed() < Duration::from_secs(1), "took {:?}", posted.elapsed());
    assert_eq!(event["conversation_id"], json!(conversation_of(&b, PAT).await));
    assert_eq!(event["campaign_id"], json!(ana.id));

    // Ben may not see Pat's conversation: the first reply event he gets is Lee's, sent after.
    Phone::sandbox(&b).text(LEE, BEN, "Count me in").await;
    let event = bens.next_of("message_in").await.expect("Ben hears of Lee's reply");
    assert_eq!(event["conversation_id"], json!(conversation_of(&b, LEE).await));
    assert_eq!(anas.next_of("message_in").await, None, "Lee's reply is not Ana's to see");

    // An admin sees everything.
    let admin = a.admin().await;
    let mut admins = Events::open(&a, &admin.token).await;
    Phone::sandbox(&b).text(PAT, ANA, "And can I bring my partner?").await;
    assert_eq!(admins.next_of("message_in").await.map(|e| e["conversation_id"].clone()), Some(json!(conversation_of(&b, PAT).await)));
}
