//! The inbox as BDRs work it, through HTTP: replies arrive as signed texts, each BDR sees
//! their own, filters and search narrow the list, replies go out once (even clicked twice),
//! later ones when the clock reaches them, conversations are assigned and marked done.
mod common;

use chrono::Duration;
use common::funnel::{Running, contact, running, tuesday_in_window, two_texts};
use common::phone::Phone;
use common::twilio::FakeTwilio;
use common::{Actor, TestApp, json, settled, spawn_engine};
use serde_json::{Value, json};
use sqlx::PgPool;
use turnout::server::clock::Clock;
use turnout::server::outbound::{self, Delivery, OneOff};
use turnout::server::settings::Settings;
use uuid::Uuid;

/// Ana's number (every campaign `running` makes sends from it) and Ben's.
const ANA: &str = "+12025550001";
const BEN: &str = "+12025550002";
const PAT: &str = "+12025550301";
const SAM: &str = "+12025550302";
const LEE: &str = "+12025550303";
const STRANGER: &str = "+12025550399";


fn quick(s: &mut Settings) {
    s.sms_per_second_per_number = 0.0;
    s.email_per_day_per_sender = 0;
    // The scheduled-reply worker looks for due replies this often.
    s.engine_poll_ms = 100;
}


/// Ana's campaign has texted Pat and Sam; Ben's (from his own number) has texted Lee.
struct World {
    ana: Running,
    ben: Running,
}

async fn world(app: &TestApp) -> World {
    let ana = running(app, "2027-03-20T23:00:00Z", two_texts()).await;
    contact(app, ana.id, "Pat Lee", PAT, "pat@example.com", None).await;
    contact(app, ana.id, "Sam Poe", SAM, "sam@example.com", None).await;
    let ben = running(app, "2027-03-20T23:00:00Z", two_texts()).await;
    sqlx::query!("UPDATE users SET name = 'Ben Okafor', sms_from_number = $2 WHERE id = $1", ben.owner.id, BEN).execute(&app.pool).await.unwrap();
    contact(app, ben.id, "Lee Ray", LEE, "lee@example.com", None).await;
    app.run_engine().await;
    World { ana, ben }
}

async fn get(app: &TestApp, who: &Actor, path: &str) -> (u16, Value) {
    let (status, body) = json(app.call("GET", path, Some(&who.token), None).await).await;
    (status.as_u16(), body)
}

/// The conversations a user's inbox lists for a query string, by contact name or address.
async fn inbox(app: &TestApp, who: &Actor, query: &str) -> Vec<String> {
    let (status, list) = get(app, who, &format!("/api/conversations?{query}")).await;
    assert_eq!(status, 200, "{list}");
    let mut names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["contact_name"].as_str().or(c["address"].as_str()).unwrap().to_string())
        .collect();
    names.sort();
    names
}

async fn conversation_of(app: &TestApp, address: &str) -> Uuid {
    sqlx::query_scalar!("SELECT id FROM conversations WHERE address = $1", address).fetch_one(&app.pool).await.unwrap()
}

async fn counts(app: &TestApp, who: &Actor) -> (i64, i64) {
    let (_, c) = get(app, who, "/api/inbox/counts").await;
    (c["unread"].as_i64().unwrap(), c["needs_reply"].as_i64().unwrap())
}

async fn reply(app: &TestApp, who: &Actor, conversation: Uuid, body: Value) -> (u16, Value) {
    let (status, v) = json(app.call("POST", &format!("/api/conversations/{conversation}/replies"), Some(&who.token), Some(body)).await).await;
    (status.as_u16(), v)
}

#[sqlx::test]
async fn each_bdr_works_their_own_replies_with_filters_search_and_unread_counts(pool: PgPool) {
    let clock = tuesday_in_window();
    let app = spawn_engine(pool, clock.clone(), quick).await;
    let w = world(&app).await;
    let (ana, ben) = (&w.ana.owner, &w.ben.owner);
    let admin = app.admin().await;
    let phone = Phone::sandbox(&app);
    phone.text(PAT, ANA, "Is there parking at the venue?").await;
    phone.text(LEE, BEN, "Count me in").await;
    phone.text(STRANGER, ANA, "who is this?").await;

    // Each BDR sees their campaigns' conversations and the unknown sender nobody has taken.
    assert_eq!(inbox(&app, ana, "").await, ["+12025550399", "Pat Lee", "Sam Poe"]);
    assert_eq!(inbox(&app, ben, "").await, ["+12025550399", "Lee Ray"]);
    assert_eq!(inbox(&app, &admin, "").await, ["+12025550399", "Lee Ray", "Pat Lee", "Sam Poe"]);
    let lee = conversation_of(&app, LEE).await;
    assert_eq!(get(&app, ana, &format!("/api/conversations/{lee}")).await.0, 404, "Ben's contact is not Ana's to read");

    // Filters and full-text search ("parked" finds "parking": words, not substrings).
    assert_eq!(inbox(&app, ana, "view=needs_reply").await, ["+12025550399", "Pat Lee"]);
    assert_eq!(inbox(&app, ana, "view=unassigned").await, ["+12025550399"]);
    assert_eq!(inbox(&app, ana, "view=mine").await, Vec::<String>::new());
    assert_eq!(inbox(&app, ana, "channel=email").await, Vec::<String>::new());
    assert_eq!(inbox(&app, ana, "channel=sms&status=Needs%20BDR").await, ["Pat Lee"]);
    assert_eq!(inbox(&app, ana, &format!("campaign_id={}", w.ana.id)).await, ["Pat Lee", "Sam Poe"]);
    assert_eq!(inbox(&app, ana, "q=parked").await, ["Pat Lee"]);
    assert_eq!(inbox(&app, ana, "q=venue%20parking").await, ["Pat Lee"]);
    assert_eq!(inbox(&app, ben, "q=parking").await, Vec::<String>::new(), "search covers only what the user may see");
    assert_eq!(inbox(&app, &admin, "q=%22count%20me%22").await, ["Lee Ray"]);

    // Unread until opened; opening shows the contact's history with delivery states.
    assert_eq!(counts(&app, ana).await, (2, 2));
    let pat = conversation_of(&app, PAT).await;
    let (status, view) = get(&app, ana, &format!("/api/conversations/{pat}")).await;
    assert_eq!(status, 200, "{view}");
    let history: Vec<(&str, &str)> =
        view["history"].as_array().unwrap().iter().map(|m| (m["direction"].as_str().unwrap(), m["body"].as_str().unwrap())).collect();
    assert_eq!(history, [("out", "Ana Ruiz: Hi Pat, join us on the 20th?\nReply STOP to opt out"), ("in", "Is there parking at the venue?")]);
    assert_eq!(view["funnel"][0]["status"], "Needs BDR");
    assert_eq!(view["funnel"][0]["engine_state"], "paused", "the reply paused Pat's run");
    assert_eq!(counts(&app, ana).await, (1, 2));

    // The stranger's text is assigned to Ana: hers now, and no longer Ben's to see.
    let stranger = conversation_of(&app, STRANGER).await;
    let res = app.call("PUT", &format!("/api/conversations/{stranger}/assignee"), Some(&ana.token), Some(json!({ "user_id": ana.id }))).await;
    assert_eq!(res.status(), 204);
    assert_eq!(inbox(&app, ana, "view=mine").await, ["+12025550399"]);
    assert_eq!(inbox(&app, ana, "view=unassigned").await, Vec::<String>::new());
    assert_eq!(inbox(&app, ben, "").await, ["Lee Ray"]);

    // Both marked done at once: nothing needs a reply until Pat writes again.
    let (status, done) = json(app.call("POST", "/api/conversations/done", Some(&ana.token), Some(json!({ "ids": [pat, stranger, lee] }))).await).await;
    assert_eq!((status.as_u16(), done["done"].as_i64()), (200, Some(2)), "Lee's is not Ana's to mark");
    assert_eq!(inbox(&app, ana, "view=needs_reply").await, Vec::<String>::new());
    assert_eq!(inbox(&app, ben, "view=needs_reply").await, ["Lee Ray"]);
    clock.advance(Duration::minutes(5));
    phone.text(PAT, ANA, "Also, can I bring my partner?").await;
    assert_eq!(inbox(&app, ana, "view=needs_reply").await, ["Pat Lee"]);
    assert_eq!(counts(&app, ana).await, (2, 1));
}

#[sqlx::test]
async fn a_reply_goes_out_once_from_the_number_that_last_wrote_even_clicked_twice(pool: PgPool) {
    let fake = FakeTwilio::start().await;
    let base = fake.base_url.clone();
    let app = spawn_engine(pool, tuesday_in_window(), move |s| {
        quick(s);
        s.twilio_api_base = base;
    })
    .await;
    fake.send_status_callbacks(true);
    let mut conn = app.pool.acquire().await.unwrap();
    turnout::server::providers::save_account(&mut conn, &app.state.keys, "twilio", None, Some((&fake.account_sid, &fake.auth_token))).await.unwrap();
    let w = world(&app).await;
    let ana = &w.ana.owner;
    let phone = Phone::twilio(&app, &fake);
    phone.text(PAT, ANA, "Is there parking?").await;
    let pat = conversation_of(&app, PAT).await;

    // A double-click: the same key twice, at once. One text, from Ana's number, merge tags filled in.
    let body = json!({ "key": Uuid::new_v4(), "body": "Yes {{contact.first_name}}, free parking in lot B." });
    let (a, b) = tokio::join!(reply(&app, ana, pat, body.clone()), reply(&app, ana, pat, body.clone()));
    assert_eq!((a.0, b.0), (201, 201), "{} {}", a.1, b.1);
    assert_eq!(a.1["message_id"], b.1["message_id"]);
    let text = "Yes Pat, free parking in lot B.";
    assert_eq!(settled(1, || async { fake.calls_for(PAT, text) }).await, 1);
    let sent = fake.messages().into_iter().find(|m| m.body == text).unwrap();
    assert_eq!(sent.from, ANA);
    // Again later (a retried request): still once.
    assert_eq!(reply(&app, ana, pat, body).await.0, 201);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.calls_for(PAT, text), 1);

    // It is in the conversation, by Ana, with Twilio's delivery report; answered, it needs no reply.
    let delivered = settled(Some("delivered".to_string()), || async {
        let (_, view) = get(&app, ana, &format!("/api/conversations/{pat}")).await;
        view["history"].as_array().unwrap().last().unwrap()["delivery_status"].as_str().map(String::from)
    })
    .await;
    assert_eq!(delivered.as_deref(), Some("delivered"));
    let (_, view) = get(&app, ana, &format!("/api/conversations/{pat}")).await;
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["body"].as_str(), last["sent_by"].as_str()), (Some(text), Some("Ana Ruiz")));
    assert_eq!(view["item"]["needs_reply"], false);

    // Ben may not answer Ana's contact; nobody may text someone who opted out; a blank reply is refused.
    assert_eq!(reply(&app, &w.ben.owner, pat, json!({ "key": Uuid::new_v4(), "body": "Hi" })).await.0, 404);
    phone.text(SAM, ANA, "STOP").await;
    let sam = conversation_of(&app, SAM).await;
    let (status, err) = reply(&app, ana, sam, json!({ "key": Uuid::new_v4(), "body": "Sorry to see you go" })).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(reply(&app, ana, pat, json!({ "key": Uuid::new_v4(), "body": "   " })).await.0, 422);
    assert_eq!(reply(&app, ana, pat, json!({ "key": Uuid::new_v4(), "body": "Hi {{contact.nickname}}" })).await.0, 422);
}

#[sqlx::test]
async fn a_scheduled_reply_goes_out_when_the_clock_reaches_it(pool: PgPool) {
    let clock = tuesday_in_window();
    let app = spawn_engine(pool, clock.clone(), quick).await;
    let w = world(&app).await;
    let ana = &w.ana.owner;
    Phone::sandbox(&app).text(PAT, ANA, "Can you remind me tomorrow?").await;
    let pat = conversation_of(&app, PAT).await;
    let outbox = || {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar!("SELECT count(*) AS \"n!\" FROM sandbox_messages WHERE to_address = $1 AND body LIKE 'Reminder%'", PAT)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    let at = clock.now() + Duration::hours(20);
    let body = json!({ "key": Uuid::new_v4(), "body": "Reminder, {{contact.first_name}}: see you on the 20th!", "send_at": at });
    let (status, scheduled) = reply(&app, ana, pat, body.clone()).await;
    assert_eq!(status, 201, "{scheduled}");
    assert!(scheduled["scheduled_id"].is_string() && scheduled["message_id"].is_null());
    assert_eq!(reply(&app, ana, pat, body).await.1, scheduled, "the same key schedules it once");
    let (_, view) = get(&app, ana, &format!("/api/conversations/{pat}")).await;
    assert_eq!(view["scheduled"][0]["body"], "Reminder, {{contact.first_name}}: see you on the 20th!");

    // Nothing before its time.
    clock.advance(Duration::hours(19));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(outbox().await, 0);
    // Then once, through the worker, rendered for Pat.
    clock.advance(Duration::hours(2));
    assert_eq!(settled(1, outbox).await, 1);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(outbox().await, 1);
    let (_, view) = get(&app, ana, &format!("/api/conversations/{pat}")).await;
    assert_eq!(view["scheduled"], json!([]));
    assert_eq!(view["history"].as_array().unwrap().last().unwrap()["body"], "Reminder, Pat: see you on the 20th!");
}

#[sqlx::test]
async fn snippets_are_each_users_own(pool: PgPool) {
    let app = spawn_engine(pool, tuesday_in_window(), quick).await;
    let ana = app.user("ana@turnout.test", turnout::domain::Role::Bdr).await;
    let ben = app.user("ben@turnout.test", turnout::domain::Role::Bdr).await;
    let (status, s) = json(app.call("POST", "/api/snippets", Some(&ana.token), Some(json!({ "name": "Parking", "body": "Free parking in lot B." }))).await).await;
    assert_eq!(status.as_u16(), 201);
    let id = s["id"].as_str().unwrap();
    let path = format!("/api/snippets/{id}");
    let edit = json!({ "name": "Parking", "body": "Free parking in lot C, {{contact.first_name}}." });
    assert_eq!(app.call("PUT", &path, Some(&ben.token), Some(edit.clone())).await.status(), 404);
    assert_eq!(app.call("PUT", &path, Some(&ana.token), Some(edit)).await.status(), 200);
    assert_eq!(app.call("POST", "/api/snippets", Some(&ana.token), Some(json!({ "name": "", "body": "x" }))).await.status(), 422);
    let (_, mine) = get(&app, &ana, "/api/snippets").await;
    assert_eq!(mine, json!([{ "id": id, "name": "Parking", "body": "Free parking in lot C, {{contact.first_name}}." }]));
    assert_eq!(get(&app, &ben, "/api/snippets").await.1, json!([]));
    assert_eq!(app.call("DELETE", &path, Some(&ben.token), None).await.status(), 404);
    assert_eq!(app.call("DELETE", &path, Some(&ana.token), None).await.status(), 204);
    assert_eq!(get(&app, &ana, "/api/snippets").await.1, json!([]));
}

#[sqlx::test]
async fn texts_a_stopped_server_left_behind_go_out_once_or_are_flagged(pool: PgPool) {
    let fake = FakeTwilio::start().await;
    let base = fake.base_url.clone();
    let clock = tuesday_in_window();
    let app = spawn_engine(pool, clock.clone(), move |s| {
        quick(s);
        s.twilio_api_base = base;
    })
    .await;
    let mut conn = app.pool.acquire().await.unwrap();
    turnout::server::providers::save_account(&mut conn, &app.state.keys, "twilio", None, Some((&fake.account_sid, &fake.auth_token))).await.unwrap();
    drop(conn);
    let w = world(&app).await;
    Phone::twilio(&app, &fake).text(PAT, ANA, "Is there parking?").await;
    let pat = conversation_of(&app, PAT).await;

    // Two replies recorded as the server stopped: one before its provider call, one during it.
    let ana = w.ana.owner.id;
    let mut tx = app.pool.begin().await.unwrap();
    let now = clock.now();
    let one_off = |key: &str, body: &'static str| OneOff {
        key: key.to_string(),
        conversation_id: pat,
        campaign_id: Some(w.ana.id),
        to: PAT,
        from: ANA,
        body,
        subject: None,
        provider: "twilio",
        sent_by: Some(ana),
    };
    let queued = outbound::record(&mut tx, &one_off("stranded-1", "Lot B is free."), Delivery::Queued, now).await.unwrap().unwrap();
    let cut = outbound::record(&mut tx, &one_off("stranded-2", "Doors open at 6."), Delivery::Queued, now).await.unwrap().unwrap();
    sqlx::query!("UPDATE messages SET send_state = 'sending' WHERE id = $1", cut).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();

    // Just recorded, they are still their own task's to send.
    assert_eq!(outbound::resume_stranded(&app.state).await.unwrap(), 0);
    clock.advance(Duration::minutes(11));
    assert_eq!(outbound::resume_stranded(&app.state).await.unwrap(), 2);
    let state_of = |id: Uuid| {
        let pool = app.pool.clone();
        async move {
            sqlx::query!("SELECT send_state, error FROM messages WHERE id = $1", id).fetch_one(&pool).await.map(|r| (r.send_state, r.error)).unwrap()
        }
    };
    assert_eq!(state_of(queued).await.0.as_deref(), Some("sent"));
    assert_eq!(fake.calls_for(PAT, "Lot B is free."), 1);
    // The one cut short may have gone out: flagged for a person, not sent again.
    let (state, error) = state_of(cut).await;
    assert_eq!(state.as_deref(), Some("unknown"));
    assert!(error.unwrap_or_default().contains("check with the contact"));
    assert_eq!(fake.calls_for(PAT, "Doors open at 6."), 0);
    // Nothing is left for a second sweep.
    assert_eq!(outbound::resume_stranded(&app.state).await.unwrap(), 0);
    assert_eq!(fake.calls_for(PAT, "Lot B is free."), 1);
}
