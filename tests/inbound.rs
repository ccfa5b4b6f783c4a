//! Texts from contacts, posted to the app as Twilio posts them (signed, form-encoded), on a
//! manual clock: who may post, what is stored, and what each kind of reply does. The
//! sandbox's account signs unless a test goes through the Twilio stand-in.
mod common;

use chrono::Duration;
use common::funnel::{Running, contact, edge, node, running, tuesday_in_window, two_texts, way};
use common::phone::{PATH, Phone};
use common::twilio::FakeTwilio;
use common::{TestApp, json, settled, spawn_engine};
use serde_json::{Value, json};
use sqlx::PgPool;
use turnout::domain::reply::STOP_WORDS;
use turnout::server::clock::Clock;
use turnout::server::settings::Settings;
use turnout::server::webhooks::twilio_signature::signature;
use uuid::Uuid;

/// The number every campaign made by `running` sends from.
const ANA: &str = "+12025550001";


fn no_throttles(s: &mut Settings) {
    s.sms_per_second_per_number = 0.0;
    s.email_per_day_per_sender = 0;
}


/// A running campaign whose first text has gone to the contacts given (name, phone).
async fn texted(app: &TestApp, people: &[(&str, &str)]) -> (Running, Vec<Uuid>) {
    let k = running(app, "2027-03-20T23:00:00Z", two_texts()).await;
    let mut enrollments = Vec::new();
    for (i, (name, phone)) in people.iter().enumerate() {
        enrollments.push(contact(app, k.id, name, phone, &format!("c{i}.{}@example.com", Uuid::now_v7().simple()), None).await);
    }
    app.run_engine().await;
    (k, enrollments)
}

async fn inbound_count(app: &TestApp) -> i64 {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM messages WHERE direction = 'in'"#).fetch_one(&app.pool).await.unwrap()
}

/// (status, engine state, why it is held)
async fn enrollment(app: &TestApp, id: Uuid) -> (String, String, Option<String>) {
    let r = sqlx::query!("SELECT status, engine_state, held_reason FROM enrollments WHERE id = $1", id).fetch_one(&app.pool).await.unwrap();
    (r.status, r.engine_state, r.held_reason)
}

async fn suppressed(app: &TestApp, number: &str) -> bool {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM suppressions WHERE kind = 'phone' AND value_hash = sha256(convert_to($1, 'UTF8'))"#, number)
        .fetch_one(&app.pool)
        .await
        .unwrap()
        > 0
}

/// What the sandbox sent to a number: (from, body), oldest first.
async fn outbox(app: &TestApp, to: &str) -> Vec<(String, String)> {
    sqlx::query!("SELECT from_address, body FROM sandbox_messages WHERE to_address = $1 ORDER BY created_at, id", to)
        .fetch_all(&app.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.from_address, r.body))
        .collect()
}

/// The one-off texts recorded to a number (confirmations, HELP answers): (state, body).
async fn one_offs(app: &TestApp, to: &str) -> Vec<(String, String)> {
    sqlx::query!(
        r#"SELECT send_state AS "state!", body FROM messages
           WHERE direction = 'out' AND to_address = $1 AND enrollment_id IS NULL ORDER BY created_at, id"#,
        to
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.state, r.body))
    .collect()
}

async fn audit_actions(app: &TestApp) -> Vec<(String, Value)> {
    sqlx::query!(r#"SELECT action, after AS "after!" FROM audit_log WHERE after IS NOT NULL ORDER BY id"#)
        .fetch_all(&app.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.after))
        .collect()
}

#[sqlx::test]
async fn only_texts_twilio_signed_for_this_url_are_taken(pool: PgPool) {
    let app = spawn_engine(pool, tuesday_in_window(), no_throttles).await;
    let phone = Phone::sandbox(&app);
    let params = phone.params("+12025550180", ANA, "Hi there");

    let forged = phone.post(&params, Some("bm90IGEgc2lnbmF0dXJl".into())).await;
    assert_eq!((forged.status, forged.body.as_str()), (403, r#"{"error":"Invalid Twilio signature"}"#));
    assert_eq!(phone.post(&params, None).await.status, 403, "no signature");
    let other_url = signature(&phone.token, &app.url("/api/twilio/status"), &params);
    assert_eq!(phone.post(&params, Some(other_url)).await.status, 403, "signed for another route");
    let other_query = signature(&phone.token, &app.url(&format!("{PATH}?x=1")), &params);
    assert_eq!(phone.post(&params, Some(other_query)).await.status, 403, "signed for another query");
    let mut tampered = params.clone();
    tampered.iter_mut().filter(|(k, _)| k == "Body").for_each(|(_, v)| *v = "STOP".into());
    let sig = signature(&phone.token, &app.url(PATH), &params);
    assert_eq!(phone.post(&tampered, Some(sig)).await.status, 403, "a changed body");
    let stranger = Phone { app: &app, account: format!("AC{:032x}", 7), token: "whatever".into() };
    assert_eq!(stranger.send(&stranger.params("+12025550180", ANA, "Hi")).await.status, 403, "an account Turnout does not know");
    assert_eq!(inbound_count(&app).await, 0, "nothing refused is stored");

    // Signed, but not a text: 400, nothing stored.
    let no_sid: Vec<(String, String)> = params.iter().filter(|(k, _)| k != "MessageSid").cloned().collect();
    let res = phone.send(&no_sid).await;
    assert_eq!((res.status, res.body.as_str()), (400, r#"{"error":"missing parameter MessageSid"}"#));
    assert_eq!(inbound_count(&app).await, 0);

    let ok = phone.send(&params).await;
    assert_eq!((ok.status, ok.content_type.as_str(), ok.body.as_str()), (200, "text/xml", "<Response></Response>"));
    assert_eq!(inbound_count(&app).await, 1);
}

#[sqlx::test]
async fn a_text_twilio_posts_again_is_stored_once(pool: PgPool) {
    let app = spawn_engine(pool, tuesday_in_window(), no_throttles).await;
    let phone = Phone::sandbox(&app);
    let params = phone.params("+12025550181", ANA, "Is there parking?");
    assert_eq!(phone.send(&params).await.status, 200);
    // Again, and several at once, as retries after a lost answer can come.
    let again = futures_util::future::join_all((0..5).map(|_| phone.send(&params))).await;
    assert!(again.iter().all(|a| a.status == 200 && a.body == "<Response></Response>"));
    assert_eq!(inbound_count(&app).await, 1);
    let conversations: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM conversations"#).fetch_one(&app.pool).await.unwrap();
    assert_eq!(conversations, 1);
}

#[sqlx::test]
async fn unicode_plus_signs_and_ampersands_arrive_as_written(pool: PgPool) {
    let app = spawn_engine(pool, tuesday_in_window(), no_throttles).await;
    let phone = Phone::sandbox(&app);
    let bodies = ["Café ☕ at 5? + my plus-one & 🎉 = 2%", "a+b=c&d=e", "  spaced  out  ", "Привет, 你好, مرحبا"];
    for body in bodies {
        phone.text("+12025550182", ANA, body).await;
    }
    let stored: Vec<String> = sqlx::query_scalar!("SELECT body FROM messages WHERE direction = 'in' ORDER BY created_at, id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, bodies);
}

#[sqlx::test]
async fn a_text_from_an_unknown_number_lands_unassigned_never_dropped(pool: PgPool) {
    let app = spawn_engine(pool, tuesday_in_window(), no_throttles).await;
    let (k, _) = texted(&app, &[("Pat Lee", "+12025550183")]).await;
    let phone = Phone::sandbox(&app);
    phone.text("(202) 555-0999", ANA, "Who is this?").await;
    phone.text("+12025550999", ANA, "Hello?").await;
    phone.text("TWILIO", ANA, "A sender that is no number").await;
    let rows = sqlx::query!(
        r#"SELECT c.address, c.contact_id, count(m.id) AS "n!", bool_and(m.campaign_id IS NULL) AS "unassigned!"
           FROM conversations c JOIN messages m ON m.conversation_id = c.id
           WHERE m.direction = 'in' GROUP BY c.id ORDER BY c.address"#
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let got: Vec<_> = rows.iter().map(|r| (r.address.as_str(), r.contact_id, r.n, r.unassigned)).collect();
    assert_eq!(got, [("+12025550999", None, 2, true), ("TWILIO", None, 1, true)]);

    // Admins and BDRs alike find them in the inbox's Unassigned view, until someone takes them.
    for who in [app.admin().await, k.owner] {
        let (_, unassigned) = json(app.call("GET", "/api/conversations?view=unassigned", Some(&who.token), None).await).await;
        let addresses: Vec<&str> = unassigned.as_array().unwrap().iter().filter_map(|c| c["address"].as_str()).collect();
        assert_eq!(addresses, ["TWILIO", "+12025550999"], "{}", who.email);
    }
}

#[sqlx::test]
async fn contacts_are_matched_by_e164_else_by_ten_digits_only_in_the_default_region(pool: PgPool) {
    let app = spawn_engine(pool, tuesday_in_window(), no_throttles).await;
    let phone = Phone::sandbox(&app);
    // Numbers stored the way an older import wrote them.
    let legacy = |name: &'static str, number: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar!("INSERT INTO contacts (id, name, phone) VALUES ($1, $2, $3) RETURNING id", Uuid::now_v7(), name, number)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let dc = legacy("Dee Cee", "(202) 555-0184").await;
    legacy("Tor Onto", "(416) 555-0185").await;
    let exact = legacy("Ex Act", "+12025550186").await;
    phone.text("+12025550184", ANA, "one").await;
    phone.text("+14165550185", ANA, "two").await;
    phone.text("+12025550186", ANA, "three").await;
    let contact_of = |body: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar!("SELECT c.contact_id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.body = $1", body)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(contact_of("one").await, Some(dc), "a US number, stored another way, by its last ten digits");
    assert_eq!(contact_of("two").await, None, "a Canadian number is outside the default region (US): no digit match");
    assert_eq!(contact_of("three").await, Some(exact));
}

#[sqlx::test]
async fn the_campaign_that_last_texted_from_that_number_gets_the_reply(pool: PgPool) {
    let clock = tuesday_in_window();
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    let pat = "+12025550187";
    let (ana, a) = texted(&app, &[("Pat Lee", pat)]).await;
    // A second campaign, sending from Ben's number, texts Pat an hour later.
    clock.advance(Duration::hours(1));
    let ben = running(&app, "2027-03-20T23:00:00Z", two_texts()).await;
    sqlx::query!("UPDATE users SET sms_from_number = '+12025550002' WHERE id = $1", ben.owner.id).execute(&app.pool).await.unwrap();
    let contact_id = sqlx::query_scalar!("SELECT contact_id FROM enrollments WHERE id = $1", a[0]).fetch_one(&app.pool).await.unwrap();
    let b = turnout::server::campaigns::enroll(&app.pool, ben.id, contact_id, turnout::domain::campaign::EnrollmentStatus::NoActivity, None)
        .await
        .unwrap();
    app.run_engine().await;
    assert_eq!(outbox(&app, pat).await.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(), [ANA, "+12025550002"]);

    // Pat answers Ana's number, though Ben wrote last.
    let phone = Phone::sandbox(&app);
    phone.text(pat, ANA, "Where is it?").await;
    assert_eq!(enrollment(&app, a[0]).await.0, "Needs BDR");
    assert_eq!(enrollment(&app, b).await, ("No Activity".into(), "active".into(), None));
    let answered = sqlx::query_scalar!("SELECT campaign_id FROM messages WHERE direction = 'in'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(answered, Some(ana.id));
    // The reply is in Ana's inbox, not in Ben's.
    let (_, mine) = json(app.call("GET", "/api/conversations", Some(&ana.owner.token), None).await).await;
    assert_eq!(mine[0]["last_body"], "Where is it?");
    let (_, his) = json(app.call("GET", "/api/conversations", Some(&ben.owner.token), None).await).await;
    assert_ne!(his[0]["last_body"], "Where is it?");

    // Then Ben's.
    phone.text(pat, "+12025550002", "And is there parking?").await;
    assert_eq!(enrollment(&app, b).await.0, "Needs BDR");
}

#[sqlx::test]
async fn a_reply_pauses_the_run_flags_the_contact_and_never_lowers_a_status(pool: PgPool) {
    let clock = tuesday_in_window();
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    let pat = "+12025550188";
    let (k, e) = texted(&app, &[("Pat Lee", pat), ("Sam Poe", "+12025550189")]).await;
    let phone = Phone::sandbox(&app);

    phone.text(pat, ANA, "Is there parking?").await;
    assert_eq!(enrollment(&app, e[0]).await, ("Needs BDR".into(), "paused".into(), Some("The contact replied; resume to go on".into())));
    // Three days on, the second text goes to Sam only: Pat's run waits for a person.
    clock.advance(Duration::days(3));
    app.run_engine().await;
    assert_eq!(outbox(&app, pat).await.len(), 1);
    assert_eq!(outbox(&app, "+12025550189").await.len(), 2);

    phone.text(pat, ANA, "OK, count me in!").await;
    assert_eq!(enrollment(&app, e[0]).await.0, "Received RSVP");
    phone.text(pat, ANA, "What time again?").await;
    assert_eq!(enrollment(&app, e[0]).await.0, "Received RSVP", "a later question does not lower an RSVP");
    // Attended is set by hand; no reply moves it.
    let res = app.call("POST", "/api/contacts/bulk-status", Some(&k.owner.token), Some(json!({ "ids": [e[0]], "status": "Attended" }))).await;
    assert_eq!(res.status(), 200);
    phone.text(pat, ANA, "Yes, I'll be there again next year").await;
    phone.text(pat, ANA, "Thanks!").await;
    assert_eq!(enrollment(&app, e[0]).await.0, "Attended");

    // The changes are in the audit log, each with the text that made it.
    let log = audit_actions(&app).await;
    let changes: Vec<(&str, &str, &str)> = log
        .iter()
        .filter(|(a, _)| a.starts_with("enrollment."))
        .map(|(a, v)| (a.as_str(), v["status"].as_str().or(v["engine_state"].as_str()).unwrap_or(""), v["by"]["rule"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        changes,
        [
            ("enrollment.status_changed", "Needs BDR", "reply"),
            ("enrollment.paused_on_reply", "paused", "reply"),
            ("enrollment.status_changed", "Received RSVP", "RSVP phrase \"count me in\""),
        ]
    );
    assert_eq!(log.iter().find(|(a, _)| a == "enrollment.paused_on_reply").unwrap().1["by"]["from"], pat);
}

#[sqlx::test]
async fn rsvp_phrases_are_the_organisations(pool: PgPool) {
    let app = spawn_engine(pool, tuesday_in_window(), no_throttles).await;
    let (_, e) = texted(&app, &[("Ana Sol", "+12025550190"), ("Bo Sol", "+12025550191"), ("Cy Sol", "+12025550192")]).await;
    let admin = app.admin().await;
    let (_, org) = json(app.call("GET", "/api/org", Some(&admin.token), None).await).await;
    assert_eq!(org["rsvp_phrases"], json!(["yes", "count me in", "RSVP", "I'll be there"]));
    let mut edited = org.clone();
    edited["rsvp_phrases"] = json!(["Sí", " ja gerne ", "", "sí"]);
    let (status, saved) = json(app.call("PUT", "/api/org", Some(&admin.token), Some(edited)).await).await;
    assert_eq!((status.as_u16(), &saved["rsvp_phrases"]), (200, &json!(["Sí", "ja gerne"])));
    // Saving without the phrases keeps them.
    let plain = json!({ "name": "Acme Homes", "time_zone": "America/New_York", "postal_address": "1 Main St" });
    let (_, kept) = json(app.call("PUT", "/api/org", Some(&admin.token), Some(plain)).await).await;
    assert_eq!(kept["rsvp_phrases"], json!(["Sí", "ja gerne"]));

    let phone = Phone::sandbox(&app);
    phone.text("+12025550190", ANA, "¡Sí, claro!").await;
    phone.text("+12025550191", ANA, "JA GERNE").await;
    phone.text("+12025550192", ANA, "yes").await;
    let statuses: Vec<String> = futures_util::future::join_all(e.iter().map(|id| enrollment(&app, *id))).await.into_iter().map(|s| s.0).collect();
    assert_eq!(statuses, ["Received RSVP", "Received RSVP", "Needs BDR"]);
}

#[sqlx::test]
async fn without_pause_on_reply_a_reply_takes_the_replied_branch_at_once(pool: PgPool) {
    let clock = tuesday_in_window();
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    let graph = json!({
        "nodes": [
            node("N1", "sms_send", json!({ "body": "Coming on the 20th, {{contact.first_name}}?" })),
            node("N2", "branch", json!({ "rule": "replied", "within_hours": 48 })),
            node("N3", "sms_send", json!({ "body": "Great, see you there!" })),
            node("N4", "sms_send", json!({ "body": "Last call!" })),
        ],
        "edges": [edge("N1", "N2"), way("N2", "N3", "yes"), way("N2", "N4", "no")]
    });
    let k = running(&app, "2027-03-20T23:00:00Z", graph).await;
    let window = json!({ "start": "09:00", "end": "20:00", "days": [1, 2, 3, 4, 5, 6], "opt_out_line": "Reply STOP to opt out", "pause_on_reply": false });
    let (status, detail) = json(app.call("PUT", &format!("/api/campaigns/{}/window", k.id), Some(&k.owner.token), Some(window)).await).await;
    assert_eq!((status.as_u16(), &detail["window"]["pause_on_reply"]), (200, &json!(false)));
    let pat = "+12025550193";
    let e = contact(&app, k.id, "Pat Lee", pat, "pat@example.com", None).await;
    app.run_engine().await;

    let mut listener = sqlx::postgres::PgListener::connect_with(&app.pool).await.unwrap();
    listener.listen("turnout_engine").await.unwrap();
    clock.advance(Duration::hours(2));
    Phone::sandbox(&app).text(pat, ANA, "Sounds good").await;
    let due = sqlx::query!("SELECT engine_state, next_run_at FROM enrollments WHERE id = $1", e).fetch_one(&app.pool).await.unwrap();
    assert_eq!((due.engine_state.as_str(), due.next_run_at), ("active", Some(clock.now())));
    tokio::time::timeout(std::time::Duration::from_secs(2), listener.recv()).await.expect("the engine is woken").unwrap();
    assert_eq!(enrollment(&app, e).await.0, "Needs BDR");
    app.run_engine().await;
    let bodies: Vec<String> = outbox(&app, pat).await.into_iter().map(|o| o.1).collect();
    assert_eq!(bodies.last().map(String::as_str), Some("Great, see you there!"));
}

#[sqlx::test]
async fn every_opt_out_word_suppresses_the_number_stops_its_runs_and_is_confirmed_once(pool: PgPool) {
    let clock = tuesday_in_window();
    let app = spawn_engine(pool, clock.clone(), no_throttles).await;
    let people: Vec<(String, String)> = STOP_WORDS.iter().enumerate().map(|(i, w)| (format!("{w} Person"), format!("+1202555020{i}"))).collect();
    let refs: Vec<(&str, &str)> = people.iter().map(|(n, p)| (n.as_str(), p.as_str())).collect();
    let (_, e) = texted(&app, &refs).await;
    // Another campaign of the first person's goes quiet too: the number is out everywhere.
    let other = running(&app, "2027-03-20T23:00:00Z", two_texts()).await;
    let first_contact = sqlx::query_scalar!("SELECT contact_id FROM enrollments WHERE id = $1", e[0]).fetch_one(&app.pool).await.unwrap();
    let elsewhere = turnout::server::campaigns::enroll(&app.pool, other.id, first_contact, turnout::domain::campaign::EnrollmentStatus::NoActivity, None)
        .await
        .unwrap();

    let phone = Phone::sandbox(&app);
    let confirmation = Settings::default().sms_opt_out_confirmation;
    for (i, word) in STOP_WORDS.iter().enumerate() {
        let number = &people[i].1;
        // Any case, with spaces and punctuation around.
        let written = match i % 3 {
            0 => word.to_string(),
            1 => format!("  {}. ", word.to_lowercase()),
            _ => format!("{}{}!", &word[..1], word[1..].to_lowercase()),
        };
        let answer = phone.text(number, ANA, &written).await;
        assert_eq!(answer.body, "<Response></Response>");
        assert!(suppressed(&app, number).await, "{written}");
        assert_eq!(enrollment(&app, e[i]).await, ("Opted Out".into(), "stopped".into(), Some("The contact opted out".into())), "{written}");
        let want = vec![(ANA.to_string(), confirmation.clone())];
        let sent = settled(want.clone(), || async { outbox(&app, number).await.into_iter().filter(|o| o.1 == confirmation).collect::<Vec<_>>() }).await;
        assert_eq!(sent, want, "one confirmation, from the number texted: {written}");
    }
    assert_eq!(enrollment(&app, elsewhere).await.1, "stopped");

    // A second STOP is stored but not confirmed again.
    phone.text(&people[0].1, ANA, "STOP").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(outbox(&app, &people[0].1).await.len(), 2);
    assert_eq!(one_offs(&app, &people[0].1).await, [("sent".to_string(), confirmation.clone())]);
    // Nothing more goes to any of them.
    clock.advance(Duration::days(4));
    app.run_engine().await;
    for (_, number) in &people {
        assert_eq!(outbox(&app, number).await.len(), 2, "{number}");
    }
    let opted: Vec<Value> = audit_actions(&app).await.into_iter().filter(|(a, _)| a == "contact.opted_out").map(|(_, v)| v).collect();
    assert_eq!(opted.len(), STOP_WORDS.len() + 1);
    assert_eq!((opted[0]["rule"].as_str(), opted[0]["from"].as_str()), (Some("keyword STOP"), Some(people[0].1.as_str())));
}

#[sqlx::test]
async fn start_unstop_and_yes_after_an_opt_out_lift_it_and_nothing_else_counts_meanwhile(pool: PgPool) {
    let app = spawn_engine(pool, tuesday_in_window(), no_throttles).await;
    let (pat, sam, lee) = ("+12025550210", "+12025550211", "+12025550212");
    let (_, e) = texted(&app, &[("Pat Lee", pat), ("Sam Poe", sam), ("Lee Ray", lee)]).await;
    let phone = Phone::sandbox(&app);
    for number in [pat, sam, lee] {
        phone.text(number, ANA, "Stop").await;
    }
    // From an opted-out number only START counts.
    phone.text(pat, ANA, "count me in").await;
    assert_eq!(enrollment(&app, e[0]).await.0, "Opted Out");

    for (i, (number, word)) in [(pat, "YES"), (sam, "start"), (lee, "Unstop!")].into_iter().enumerate() {
        phone.text(number, ANA, word).await;
        assert!(!suppressed(&app, number).await, "{word}");
        assert_eq!(enrollment(&app, e[i]).await, ("Needs BDR".into(), "paused".into(), Some("The contact opted back in; resume to go on".into())), "{word}");
    }
    // Now a yes is an RSVP again.
    phone.text(pat, ANA, "yes").await;
    assert_eq!(enrollment(&app, e[0]).await.0, "Received RSVP");
    assert!(audit_actions(&app).await.iter().any(|(a, v)| a == "contact.opted_in" && v["by"]["rule"] == "keyword YES"));

    // An admin's suppression is theirs to lift: START does not.
    let mut conn = app.pool.acquire().await.unwrap();
    turnout::server::engine::compliance::suppress(&mut conn, turnout::domain::campaign::Channel::Sms, sam, "asked by phone", "admin").await.unwrap();
    phone.text(sam, ANA, "START").await;
    assert!(suppressed(&app, sam).await);
}

#[sqlx::test]
async fn help_is_answered_with_the_configured_text(pool: PgPool) {
    let help = "Acme & Co <events>: reply STOP to opt out";
    let app = spawn_engine(pool, tuesday_in_window(), |s| {
        no_throttles(s);
        s.sms_help_text = help.into();
    })
    .await;
    let pat = "+12025550220";
    let (_, e) = texted(&app, &[("Pat Lee", pat)]).await;
    let answer = Phone::sandbox(&app).text(pat, ANA, " HELP ").await;
    assert_eq!(
        (answer.content_type.as_str(), answer.body.as_str()),
        ("text/xml", "<Response><Message>Acme &amp; Co &lt;events&gt;: reply STOP to opt out</Message></Response>")
    );
    // It is in the conversation; the run goes on.
    assert_eq!(one_offs(&app, pat).await, [("sent".to_string(), help.to_string())]);
    assert_eq!(enrollment(&app, e[0]).await, ("No Activity".into(), "active".into(), None));
}

#[sqlx::test]
async fn twilios_opt_out_type_decides_and_twilio_confirms_it_not_us(pool: PgPool) {
    let fake = FakeTwilio::start().await;
    let base = fake.base_url.clone();
    let app = spawn_engine(pool, tuesday_in_window(), move |s| {
        no_throttles(s);
        s.twilio_api_base = base;
    })
    .await;
    let mut conn = app.pool.acquire().await.unwrap();
    turnout::server::providers::save_account(&mut conn, &app.state.keys, "twilio", None, Some((&fake.account_sid, &fake.auth_token))).await.unwrap();
    let (pat, sam, lee) = ("+12025550230", "+12025550231", "+12025550232");
    let (_, e) = texted(&app, &[("Pat Lee", pat), ("Sam Poe", sam), ("Lee Ray", lee)]).await;
    assert_eq!(fake.messages().len(), 3);
    let phone = Phone::twilio(&app, &fake);

    // Twilio's Advanced Opt-Out says STOP: the words do not matter, and Twilio has confirmed.
    let mut stop = phone.params(pat, ANA, "please no more of these");
    stop.push(("OptOutType".into(), "STOP".into()));
    assert_eq!(phone.send(&stop).await.status, 200);
    assert!(suppressed(&app, pat).await);
    assert_eq!(enrollment(&app, e[0]).await.0, "Opted Out");
    let mut help = phone.params(sam, ANA, "HELP");
    help.push(("OptOutType".into(), "HELP".into()));
    assert_eq!(phone.send(&help).await.body, "<Response></Response>", "Twilio has answered HELP");
    let mut start = phone.params(pat, ANA, "start");
    start.push(("OptOutType".into(), "START".into()));
    phone.send(&start).await;
    assert!(!suppressed(&app, pat).await);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.messages().len(), 3, "nothing sent of our own");

    // Our own keyword: the confirmation goes through the account and number texted.
    let confirmation = Settings::default().sms_opt_out_confirmation;
    phone.text(sam, ANA, "STOP").await;
    let sent = settled(1, || async { fake.calls_for(sam, &confirmation) }).await;
    assert_eq!(sent, 1);
    assert!(fake.messages().iter().any(|m| m.to == sam && m.from == ANA && m.body == confirmation));
    let row = settled(Some("sent".to_string()), || async { one_offs(&app, sam).await.first().map(|r| r.0.clone()) }).await;
    assert_eq!(row.as_deref(), Some("sent"));

    // A confirmation the provider refuses leaves the text stored and answered all the same.
    fake.fail_recipient(lee, 21211);
    assert_eq!(phone.text(lee, ANA, "quit").await.body, "<Response></Response>");
    assert!(suppressed(&app, lee).await);
    let failed = settled(Some("failed".to_string()), || async { one_offs(&app, lee).await.first().map(|r| r.0.clone()) }).await;
    assert_eq!(failed.as_deref(), Some("failed"));
}

#[sqlx::test]
async fn a_text_that_cannot_be_stored_is_a_server_error_so_twilio_retries(pool: PgPool) {
    let app = spawn_engine(pool, tuesday_in_window(), no_throttles).await;
    let phone = Phone::sandbox(&app);
    let params = phone.params("+12025550240", ANA, "Hello?");
    app.pool.close().await;
    let answer = phone.send(&params).await;
    assert!((500..600).contains(&answer.status), "{} {}", answer.status, answer.body);
}
