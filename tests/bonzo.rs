//! Texting through Bonzo, on a manual clock against a loopback Bonzo: a BDR (or the whole
//! organisation) chooses Bonzo in Settings, funnel texts go out through it with the
//! prospect made from the contact, and Bonzo's event hooks bring replies and delivery
//! reports in, acted on like Twilio's.
mod common;

use chrono::Duration;
use common::bonzo::{FakeBonzo, post_event, received, status};
use common::funnel::{Running, contact, edge, node, running, tuesday_in_window, two_texts};
use common::{Actor, TestApp, json, settled, spawn_engine};
use serde_json::{Value, json};
use sqlx::PgPool;
use turnout::server::settings::Settings;
use uuid::Uuid;

/// The number every campaign made by `running` sends from.
const ANA: &str = "+12025550001";

fn with_bonzo(base: &str) -> impl FnOnce(&mut Settings) {
    let base = base.to_string();
    move |s| {
        s.sms_per_second_per_number = 0.0;
        s.email_per_day_per_sender = 0;
        s.bonzo_api_base = base;
    }
}

/// Saves a Bonzo token as the user (or with `org` the organisation's, as an admin) through
/// Settings' server function.
async fn save_token(app: &TestApp, who: &Actor, org: bool, token: &str) -> Value {
    let input = json!({ "input": { "label": "Ana at Bonzo", "api_token": token }, "org": org }).to_string();
    let (status, view) = json(app.server_fn("set_bonzo_account", Some(&who.token), &input).await).await;
    assert_eq!(status, 200, "{view}");
    view
}

async fn choose(app: &TestApp, who: &Actor, org: bool, choice: &str) -> (u16, Value) {
    let (status, view) = json(app.server_fn("set_sms_provider", Some(&who.token), &json!({ "choice": choice, "org": org }).to_string()).await).await;
    (status.as_u16(), view)
}

/// The admin's view of the webhook URL to paste into Bonzo.
async fn webhook_url(app: &TestApp) -> String {
    let admin = app.admin().await;
    let (_, view) = json(app.server_fn("get_bonzo", Some(&admin.token), "").await).await;
    view["webhook_url"].as_str().expect("admins see the webhook URL").to_string()
}

/// A running campaign of a BDR who texts through Bonzo with their own token.
async fn through_bonzo(app: &TestApp, fake: &FakeBonzo) -> Running {
    let k = running(app, "2027-03-20T23:00:00Z", two_texts()).await;
    save_token(app, &k.owner, false, &fake.token).await;
    let (status, view) = choose(app, &k.owner, false, "bonzo").await;
    assert_eq!((status, view["effective"].as_str()), (200, Some("bonzo")), "{view}");
    k
}

/// The outbound messages to a number: (provider, state, provider id, error).
async fn outbound(app: &TestApp, to: &str) -> Vec<(String, String, Option<String>, Option<String>)> {
    sqlx::query!(
        r#"SELECT provider AS "provider!", send_state AS "state!", provider_message_id, error FROM messages
           WHERE direction = 'out' AND to_address = $1 ORDER BY created_at, id"#,
        to
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.provider, r.state, r.provider_message_id, r.error))
    .collect()
}

async fn enrollment(app: &TestApp, id: Uuid) -> (String, String) {
    let r = sqlx::query!("SELECT status, engine_state FROM enrollments WHERE id = $1", id).fetch_one(&app.pool).await.unwrap();
    (r.status, r.engine_state)
}

async fn inbound(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    sqlx::query!(
        r#"SELECT m.body, m.provider AS "provider!", c.address AS "address?" FROM messages m JOIN conversations c ON c.id = m.conversation_id
           WHERE m.direction = 'in' ORDER BY m.created_at, m.id"#
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.body, r.provider, r.address))
    .collect()
}

#[sqlx::test]
async fn a_bdr_who_chose_bonzo_texts_through_it_retrying_a_429(pool: PgPool) {
    let fake = FakeBonzo::start().await;
    let clock = tuesday_in_window();
    let app = spawn_engine(pool, clock.clone(), with_bonzo(&fake.base_url)).await;
    let k = through_bonzo(&app, &fake).await;
    let pat = contact(&app, k.id, "Pat Van Lee", "+12025550701", "pat@example.com", None).await;
    fake.answer_next(&[429]);

    app.run_engine().await;
    // The 429 came with Retry-After: 1; a second later the step goes again.
    clock.advance(Duration::seconds(1));
    app.run_engine().await;

    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one refused, one taken");
    for r in &requests {
        assert_eq!(r.authorization.as_deref(), Some(format!("Bearer {}", fake.token).as_str()));
    }
    let body = &requests[1].body;
    assert_eq!(
        (&body["first_name"], &body["last_name"], &body["email"], &body["phone"]),
        (&json!("Pat"), &json!("Van Lee"), &json!("pat@example.com"), &json!("+12025550701"))
    );
    assert!(body["message"].as_str().unwrap().contains("Hi Pat, join us on the 20th?"), "{body}");
    let id = requests[1].message_id.unwrap().to_string();
    assert_eq!(outbound(&app, "+12025550701").await, [("bonzo".into(), "sent".into(), Some(id.clone()), None)]);
    let from: String = sqlx::query_scalar!("SELECT from_address FROM messages WHERE provider_message_id = $1", id).fetch_one(&app.pool).await.unwrap().unwrap();
    assert_eq!(from, ANA, "recorded as from the BDR's number, which replies are matched on");
    assert_eq!(enrollment(&app, pat).await.1, "active");

    // Bonzo's delivery report lands on the message; a stale "sent" after it changes nothing.
    let url = webhook_url(&app).await;
    assert_eq!(post_event(&url, &status(&id, "delivered")).await, 200);
    assert_eq!(post_event(&url, &status(&id, "sent")).await, 200);
    let delivery: Option<String> = sqlx::query_scalar!("SELECT delivery_status FROM messages WHERE provider_message_id = $1", id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(delivery.as_deref(), Some("delivered"));
    assert_eq!(post_event(&url, &status("999999", "failed")).await, 200, "a report on someone else's text is acknowledged");
}

#[sqlx::test]
async fn a_refused_token_or_no_token_fails_the_text_with_a_clear_reason(pool: PgPool) {
    let fake = FakeBonzo::start().await;
    let app = spawn_engine(pool, tuesday_in_window(), with_bonzo(&fake.base_url)).await;
    let k = through_bonzo(&app, &fake).await;
    contact(&app, k.id, "Pat Lee", "+12025550702", "pat@example.com", None).await;
    fake.answer_next(&[401]);
    app.run_engine().await;
    let sent = outbound(&app, "+12025550702").await;
    assert_eq!((sent.len(), sent[0].0.as_str(), sent[0].1.as_str()), (1, "bonzo", "failed"));
    let error = sent[0].3.clone().unwrap();
    assert!(error.starts_with("Bonzo rejected the API token: check it in Settings › Bonzo"), "{error}");
    assert_eq!(fake.requests().len(), 1, "never retried");

    // Bonzo as the organisation's choice, with no token anywhere: nothing is sent, and why
    // is in the campaign's events.
    let admin = app.admin().await;
    let (status, view) = choose(&app, &admin, true, "bonzo").await;
    assert_eq!((status, view["error"].as_str()), (422, Some("Add a Bonzo API token before choosing Bonzo")));
    let other = running(&app, "2027-03-20T23:00:00Z", two_texts()).await;
    sqlx::query!("UPDATE org_settings SET sms_provider = 'bonzo'").execute(&app.pool).await.unwrap();
    let e = contact(&app, other.id, "Lou Nobody", "+12025550703", "lou@example.com", None).await;
    app.run_engine().await;
    assert_eq!(fake.requests().len(), 1);
    let why: Vec<String> = sqlx::query_scalar!("SELECT detail FROM engine_events WHERE enrollment_id = $1 AND kind = 'failed'", e)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(why, ["Ana Ruiz texts through Bonzo, but no Bonzo API token is set (Settings › Bonzo)"]);
}

#[sqlx::test]
async fn the_organisations_choice_applies_to_users_who_made_none(pool: PgPool) {
    let fake = FakeBonzo::start().await;
    let app = spawn_engine(pool, tuesday_in_window(), with_bonzo(&fake.base_url)).await;
    let admin = app.admin().await;
    save_token(&app, &admin, true, &fake.token).await;
    let (status, view) = choose(&app, &admin, true, "bonzo").await;
    assert_eq!((status, view["org_default"].as_str()), (200, Some("bonzo")));

    // One BDR follows the organisation (Bonzo, its token); another chose Twilio, which
    // without a Twilio account is the sandbox.
    let follows = running(&app, "2027-03-20T23:00:00Z", two_texts()).await;
    let chose = running(&app, "2027-03-20T23:00:00Z", two_texts()).await;
    let (status, view) = choose(&app, &chose.owner, false, "twilio").await;
    assert_eq!((status, view["choice"].as_str(), view["effective"].as_str()), (200, Some("twilio"), Some("twilio")));
    let (_, view) = json(app.server_fn("get_bonzo", Some(&follows.owner.token), "").await).await;
    assert_eq!(view["choice"], Value::Null);
    assert_eq!((view["effective"].as_str(), view["own"].as_bool()), (Some("bonzo"), Some(false)));
    assert_eq!(view["webhook_url"], Value::Null, "only admins see the secret URL");

    contact(&app, follows.id, "Pat Lee", "+12025550711", "p@example.com", None).await;
    contact(&app, chose.id, "Sam Lee", "+12025550712", "s@example.com", None).await;
    app.run_engine().await;
    assert_eq!(outbound(&app, "+12025550711").await[0].0, "bonzo");
    assert_eq!(outbound(&app, "+12025550712").await[0].0, "sandbox");
    assert_eq!(fake.requests().len(), 1);

    // Back to following the organisation.
    let (_, view) = choose(&app, &chose.owner, false, "").await;
    assert_eq!((view["choice"].clone(), view["effective"].as_str()), (Value::Null, Some("bonzo")));
}

#[sqlx::test]
async fn bonzo_replies_land_in_the_conversation_and_act_like_twilios(pool: PgPool) {
    let fake = FakeBonzo::start().await;
    let app = spawn_engine(pool, tuesday_in_window(), with_bonzo(&fake.base_url)).await;
    let k = through_bonzo(&app, &fake).await;
    let yes = contact(&app, k.id, "Yan Yes", "+12025550721", "y@example.com", None).await;
    let asks = contact(&app, k.id, "Quin Ask", "+12025550722", "q@example.com", None).await;
    let stop = contact(&app, k.id, "Stu Stop", "+12025550723", "s@example.com", None).await;
    app.run_engine().await;
    assert_eq!(fake.requests().len(), 3);
    let url = webhook_url(&app).await;

    assert_eq!(post_event(&url, &received(5001, "+12025550721", ANA, "YES")).await, 200);
    assert_eq!(post_event(&url, &received(5002, "+12025550722", ANA, "Is there parking?")).await, 200);
    assert_eq!(post_event(&url, &received(5003, "+12025550723", ANA, "STOP")).await, 200);
    // Delivered again (and once more at the same time): stored once.
    let stop_again = received(5003, "+12025550723", ANA, "STOP");
    let again = futures_util::future::join_all((0..3).map(|_| post_event(&url, &stop_again))).await;
    assert!(again.iter().all(|s| *s == 200));

    assert_eq!(enrollment(&app, yes).await, ("Received RSVP".into(), "paused".into()));
    assert_eq!(enrollment(&app, asks).await, ("Needs BDR".into(), "paused".into()));
    assert_eq!(enrollment(&app, stop).await.0, "Opted Out");
    let stored = inbound(&app).await;
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert!(stored.iter().all(|(_, provider, _)| provider == "bonzo"));
    // In each contact's own conversation, which the inbox shows its owner.
    let (_, list) = json(app.call("GET", "/api/conversations?view=needs_reply", Some(&k.owner.token), None).await).await;
    let mut addresses: Vec<&str> = list.as_array().unwrap().iter().filter_map(|c| c["address"].as_str()).collect();
    addresses.sort();
    assert_eq!(addresses, ["+12025550721", "+12025550722", "+12025550723"]);

    // STOP suppresses the number and is confirmed once, back through Bonzo.
    let suppressed: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM suppressions WHERE value_hash = sha256('+12025550723')"#)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(suppressed, 1);
    let confirmation = app.state.settings.sms_opt_out_confirmation.clone();
    settled(2, || async { fake.texts_to("+12025550723").len() }).await;
    // The funnel's first text, then the confirmation.
    let texts = fake.texts_to("+12025550723");
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert_eq!(texts[1], confirmation);
    let one_offs = settled(2, || async {
        outbound(&app, "+12025550723").await.iter().filter(|m| m.0 == "bonzo" && m.1 == "sent").count()
    })
    .await;
    assert_eq!(one_offs, 2, "the funnel text and the confirmation, both sent through Bonzo");

    // HELP has no webhook answer to ride on with Bonzo: it is sent back through Bonzo too.
    assert_eq!(post_event(&url, &received(5004, "+12025550722", ANA, "HELP")).await, 200);
    let help = app.state.settings.sms_help_text.clone();
    let texts = settled(true, || async { fake.texts_to("+12025550722").contains(&help) }).await;
    assert!(texts, "{:?}", fake.texts_to("+12025550722"));
}

#[sqlx::test]
async fn only_posts_to_the_secret_url_that_are_events_are_taken(pool: PgPool) {
    let fake = FakeBonzo::start().await;
    let app = spawn_engine(pool, tuesday_in_window(), with_bonzo(&fake.base_url)).await;
    let url = webhook_url(&app).await;
    let event = received(6001, "+12025550731", ANA, "Hello?");

    let wrong = app.url("/api/bonzo/webhook/bm90LWl0.c2VjcmV0");
    assert_eq!(post_event(&wrong, &event).await, 404);
    // A link this app signed, but for something else.
    let other = app.url(&format!("/api/bonzo/webhook/{}", app.state.keys.sign_link("vm-dispo:x")));
    assert_eq!(post_event(&other, &event).await, 404);
    assert!(inbound(&app).await.is_empty(), "nothing refused is stored");

    let res = reqwest::Client::new().post(&url).header("content-type", "application/json").body("{not json").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(post_event(&url, &json!({ "event": "messages.received", "resource": { "content": "no id" } })).await, 400);
    // Events Turnout does not act on are acknowledged.
    assert_eq!(post_event(&url, &json!({ "event": "prospects.created", "prospect": { "id": 63 }, "resource": null })).await, 200);
    assert!(inbound(&app).await.is_empty());

    // A number nobody has lands unassigned, never dropped.
    assert_eq!(post_event(&url, &event).await, 200);
    assert_eq!(inbound(&app).await, [("Hello?".to_string(), "bonzo".to_string(), Some("+12025550731".to_string()))]);
}

/// A text then a stage: the graph of `two_texts` is enough for the other tests; this one
/// shows a one-text funnel's prospect for a contact with one name.
#[sqlx::test]
async fn a_contact_with_one_name_is_a_prospect_without_a_last_name(pool: PgPool) {
    let fake = FakeBonzo::start().await;
    let app = spawn_engine(pool, tuesday_in_window(), with_bonzo(&fake.base_url)).await;
    let graph = json!({
        "nodes": [node("N1", "sms_send", json!({ "body": "Hi {{contact.first_name}}" })), node("N2", "stage", json!({ "stage_key": "texted" }))],
        "edges": [edge("N1", "N2")]
    });
    let k = running(&app, "2027-03-20T23:00:00Z", graph).await;
    save_token(&app, &k.owner, false, &fake.token).await;
    choose(&app, &k.owner, false, "bonzo").await;
    contact(&app, k.id, "Cher", "+12025550741", "cher@example.com", None).await;
    app.run_engine().await;
    let body = &fake.requests()[0].body;
    assert_eq!((&body["first_name"], &body["last_name"]), (&json!("Cher"), &json!("")));
}
