//! Ringless voicemail: a funnel's `voicemail_drop` step speaks its script for each contact
//! (ElevenLabs with the organisation's key, else the local voice), serves the audio at an
//! unguessable public URL and asks Slybroadcast to drop it (else the sandbox keeps it). The
//! engine runs on a manual clock; ElevenLabs and Slybroadcast are loopback fakes speaking
//! their documented formats (tests/common/elevenlabs.rs, tests/common/slybroadcast.rs), so
//! every request the app makes can be read back, and every failure can be staged.
mod common;

use chrono::{DateTime, Duration, Utc};
use common::elevenlabs::{ADAM, FakeElevenLabs, RACHEL, mp3_for};
use common::funnel::{Running, contact, edge, node, running, tuesday_in_window, utc};
use common::slybroadcast::{Dropped, FakeSlybroadcast};
use common::{TestApp, json, settled, spawn_engine};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::Arc;
use turnout::domain::Role;
use turnout::server::clock::{Clock, ManualClock};
use turnout::server::settings::Settings;
use uuid::Uuid;

/// The seminar the campaigns invite to: Saturday 20 March 2027, 19:00 in New York.
const EVENT: &str = "2027-03-20T23:00:00Z";
/// The sending BDR's voicemail caller id, and as Slybroadcast takes it (10 digits).
const CALLER_ID: &str = "+12025550001";
const CALLER_ID_DIGITS: &str = "2025550001";
const SCRIPT: &str = "Hi {{contact.first_name}}, it's Ana from Acme Homes. We'd love to see you at our seminar on Saturday the 20th. Call me back any time!";

/// The script as a contact called `first` hears it.
fn said(first: &str) -> String {
    SCRIPT.replace("{{contact.first_name}}", first)
}

/// A funnel of one voicemail step, in the given voice (else the organisation's default).
fn one_drop(body: &str, voice: Option<&str>) -> Value {
    let mut config = json!({ "body": body });
    if let Some(v) = voice {
        config["voice_id"] = json!(v);
    }
    json!({ "nodes": [node("N1", "voicemail_drop", config)], "edges": [] })
}

/// The app on the in-window Tuesday, pointed at both fakes, throttles off.
struct World {
    app: TestApp,
    clock: Arc<ManualClock>,
    tts: FakeElevenLabs,
    sly: FakeSlybroadcast,
}

async fn world(pool: PgPool, tweak: impl FnOnce(&mut Settings)) -> World {
    let tts = FakeElevenLabs::start().await;
    let sly = FakeSlybroadcast::start().await;
    let clock = tuesday_in_window();
    let (tts_base, sly_base) = (tts.base_url.clone(), sly.base_url.clone());
    let app = spawn_engine(pool, clock.clone(), move |s| {
        s.elevenlabs_api_base = tts_base;
        s.slybroadcast_api_base = sly_base;
        s.elevenlabs_default_voice_id = RACHEL.into();
        s.voicemail_per_second_per_number = 0.0;
        s.sms_per_second_per_number = 0.0;
        tweak(s);
    })
    .await;
    World { app, clock, tts, sly }
}

/// A message of a voicemail step, as stored.
#[derive(Debug, sqlx::FromRow)]
struct Voicemail {
    id: Uuid,
    conversation_id: Uuid,
    node_key: Option<String>,
    send_state: Option<String>,
    provider: Option<String>,
    provider_message_id: Option<String>,
    delivery_status: Option<String>,
    error: Option<String>,
    body: String,
}

impl World {
    /// The organisation's ElevenLabs key and Slybroadcast login, as the admin sets them.
    async fn connect(&self) {
        self.set_key(&self.tts.api_key).await;
        self.set_login(&self.sly.uid, &self.sly.password).await;
    }

    async fn admin_fn(&self, name: &str, input: Value) -> Value {
        let admin = self.app.admin().await;
        let (status, body) = json(self.app.server_fn(name, Some(&admin.token), &input.to_string()).await).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        body
    }

    async fn set_key(&self, key: &str) {
        let view = self.admin_fn("set_elevenlabs_key", json!({ "api_key": key })).await;
        assert_eq!(view["elevenlabs"], true, "{view}");
    }

    async fn set_login(&self, uid: &str, password: &str) {
        let view = self.admin_fn("set_slybroadcast_account", json!({ "input": { "uid": uid, "password": password }, "org": true })).await;
        assert_eq!(view["slybroadcast_uid"], uid, "{view}");
    }

    /// A running campaign with this funnel, sent by a BDR who has a voicemail caller id.
    async fn campaign(&self, graph: Value) -> Running {
        let k = running(&self.app, EVENT, graph).await;
        sqlx::query("UPDATE users SET vm_caller_id = $2 WHERE id = $1").bind(k.owner.id).bind(CALLER_ID).execute(&self.app.pool).await.unwrap();
        k
    }

    /// The enrollment's voicemail messages, oldest first.
    async fn voicemails(&self, enrollment: Uuid) -> Vec<Voicemail> {
        sqlx::query_as::<_, Voicemail>(
            "SELECT m.id, m.conversation_id, m.node_key, m.send_state, m.provider, m.provider_message_id, m.delivery_status, m.error, m.body
             FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.enrollment_id = $1 AND c.channel = 'voicemail' ORDER BY m.created_at, m.id",
        )
        .bind(enrollment)
        .fetch_all(&self.app.pool)
        .await
        .unwrap()
    }

    async fn only_voicemail(&self, enrollment: Uuid) -> Voicemail {
        let mut all = self.voicemails(enrollment).await;
        assert_eq!(all.len(), 1, "one message for the step: {all:#?}");
        all.remove(0)
    }

    /// (engine_state, next_run_at, held_reason)
    async fn engine_state(&self, enrollment: Uuid) -> (String, Option<DateTime<Utc>>, Option<String>) {
        sqlx::query_as("SELECT engine_state, next_run_at, held_reason FROM enrollments WHERE id = $1")
            .bind(enrollment)
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }

    /// When the engine may next take the enrollment: its due time, or its lease's end if later.
    async fn due(&self, enrollment: Uuid) -> DateTime<Utc> {
        let at: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT GREATEST(next_run_at, lease_until) FROM enrollments WHERE id = $1")
            .bind(enrollment)
            .fetch_one(&self.app.pool)
            .await
            .unwrap();
        at.expect("the enrollment has a next run")
    }

    /// Moves the clock to when the enrollment is due and runs the engine.
    async fn run_when_due(&self, enrollment: Uuid) -> usize {
        let at = self.due(enrollment).await;
        assert!(at > self.clock.now(), "not waiting for anything: due {at}");
        self.clock.set(at);
        self.app.run_engine().await
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql).fetch_one(&self.app.pool).await.unwrap()
    }

    /// The drop Slybroadcast took for a 10-digit number.
    fn drop_to(&self, phone: &str) -> Dropped {
        let drops = self.sly.drops();
        drops.iter().find(|d| d.phone == phone).cloned().unwrap_or_else(|| panic!("no drop to {phone}: {drops:#?}"))
    }
}

fn is_mp3(bytes: &[u8]) -> bool {
    bytes.starts_with(b"ID3") || (bytes.len() > 1 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
}

// ElevenLabs

#[sqlx::test]
async fn elevenlabs_is_asked_in_its_format_in_the_steps_voice_or_the_default(pool: PgPool) {
    // Settings other than the defaults, to see they are the ones sent.
    let w = world(pool, |s| {
        s.elevenlabs_model_id = "eleven_turbo_v2_5".into();
        s.elevenlabs_stability = 0.35;
        s.elevenlabs_similarity_boost = 0.9;
        s.elevenlabs_output_format = "mp3_44100_128".into();
    })
    .await;
    w.connect().await;
    let graph = json!({
        "nodes": [
            node("N1", "voicemail_drop", json!({ "body": "Hi {{contact.first_name}}, it's Ana from Acme Homes about Saturday's seminar. We'd love to see you there.", "voice_id": ADAM })),
            node("N2", "voicemail_drop", json!({ "body": "Last call, {{contact.first_name}}: doors open at six on Saturday, and we saved you a seat near the front." })),
        ],
        "edges": [edge("N1", "N2")]
    });
    let k = w.campaign(graph).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;

    w.app.run_engine().await;
    let asked = w.tts.requests();
    assert_eq!(asked.len(), 2, "{asked:#?}");
    for r in &asked {
        assert_eq!(r.api_key.as_deref(), Some(w.tts.api_key.as_str()), "the key goes in xi-api-key");
        assert_eq!(r.model_id.as_deref(), Some("eleven_turbo_v2_5"));
        assert_eq!((r.stability, r.similarity_boost), (Some(0.35), Some(0.9)), "{}", r.body);
        assert_eq!(r.output_format.as_deref(), Some("mp3_44100_128"));
    }
    // The first step's own voice; the second has none, so the organisation's default speaks.
    assert_eq!((asked[0].voice_id.as_str(), asked[0].text.as_deref()), (ADAM, Some("Hi Pat, it's Ana from Acme Homes about Saturday's seminar. We'd love to see you there.")));
    assert_eq!((asked[1].voice_id.as_str(), asked[1].text.as_deref()), (RACHEL, Some("Last call, Pat: doors open at six on Saturday, and we saved you a seat near the front.")));
    // What was spoken is what the conversation shows.
    let sent: Vec<(Option<String>, Option<String>, String)> =
        w.voicemails(pat).await.into_iter().map(|m| (m.node_key, m.send_state, m.body)).collect();
    assert_eq!(sent, [
        (Some("N1".to_string()), Some("sent".to_string()), asked[0].text.clone().unwrap()),
        (Some("N2".to_string()), Some("sent".to_string()), asked[1].text.clone().unwrap()),
    ]);

    // With the key set, the builder offers ElevenLabs' voices.
    let (status, voices) = json(w.app.server_fn("list_voices", Some(&k.owner.token), "").await).await;
    assert_eq!(status, StatusCode::OK, "{voices}");
    assert_eq!((voices["engine"].as_str(), voices["default_voice"].as_str()), (Some("elevenlabs"), Some(RACHEL)), "{voices}");
    assert!(voices["voices"].as_array().unwrap().iter().any(|v| v["id"] == ADAM && v["name"] == "Adam"), "{voices}");
}

#[sqlx::test]
async fn a_refused_elevenlabs_key_fails_the_step_with_the_reason_and_drops_nothing(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.set_key("sk_not_the_account_key").await;
    w.set_login(&w.sly.uid, &w.sly.password).await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;

    w.app.run_engine().await;
    let m = w.only_voicemail(pat).await;
    assert_eq!(m.send_state.as_deref(), Some("failed"));
    // Whoever reads it learns it is the ElevenLabs key to fix, not the contact.
    let error = m.error.unwrap_or_default().to_lowercase();
    assert!(error.contains("elevenlabs") && error.contains("key"), "{error}");
    assert_eq!(w.sly.total_calls(), 0, "nothing to drop");
    // A wrong key is not retried: a day later nothing more was asked.
    w.clock.advance(Duration::days(1));
    w.app.run_engine().await;
    assert_eq!(w.tts.total_calls(), 1);
    assert_eq!(w.engine_state(pat).await.0, "finished", "a failed step moves the contact on (the node's default)");
}

#[sqlx::test]
async fn a_script_elevenlabs_rejects_fails_the_step(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    w.tts.reject_next(1);

    w.app.run_engine().await;
    let m = w.only_voicemail(pat).await;
    assert_eq!(m.send_state.as_deref(), Some("failed"));
    // ElevenLabs' own words about what it could not take.
    assert!(m.error.as_deref().unwrap_or_default().contains("Field required"), "{:?}", m.error);
    assert_eq!(w.sly.total_calls(), 0);
    w.clock.advance(Duration::days(1));
    w.app.run_engine().await;
    assert_eq!(w.tts.total_calls(), 1, "a 422 is not retried");
}

#[sqlx::test]
async fn speech_too_short_for_slybroadcast_fails_the_step_before_any_drop(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    // About two seconds spoken: Slybroadcast takes only audio longer than five.
    let k = w.campaign(one_drop("See you Saturday, {{contact.first_name}}!", None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;

    w.app.run_engine().await;
    let m = w.only_voicemail(pat).await;
    assert_eq!(m.send_state.as_deref(), Some("failed"));
    assert!(m.error.as_deref().unwrap_or_default().contains("lengthen the script"), "{:?}", m.error);
    assert_eq!(w.sly.total_calls(), 0);
}

#[sqlx::test]
async fn elevenlabs_too_busy_is_retried_after_the_backoff_and_dropped_once(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    w.tts.throttle_next(1, true);

    w.app.run_engine().await;
    assert_eq!(w.sly.total_calls(), 0, "nothing to drop yet");
    let (state, _, reason) = w.engine_state(pat).await;
    assert_eq!(state, "active");
    assert!(reason.as_deref().unwrap_or_default().starts_with("Retrying"), "{reason:?}");
    assert!(w.voicemails(pat).await.iter().all(|m| m.send_state.as_deref() != Some("sent")));

    // Only once the backoff has passed is it asked again.
    w.app.run_engine().await;
    assert_eq!(w.tts.total_calls(), 1);
    w.run_when_due(pat).await;
    assert_eq!(w.tts.calls_for(RACHEL, &said("Pat")), 2);
    assert_eq!(w.tts.renders_for(RACHEL, &said("Pat")), 1);
    assert_eq!(w.sly.drops_for("2025550101"), 1);
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("sent"));
}

#[sqlx::test]
async fn a_script_said_the_same_way_is_rendered_once_and_each_different_one_is_rendered(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    // Two Pats hear the same words; Sam hears his own name. All three are in one batch, so
    // the two Pats' renders may run at the same moment.
    let lee = contact(&w.app, k.id, "Pat Lee", "+12025550101", "lee@example.com", None).await;
    let kim = contact(&w.app, k.id, "Pat Kim", "+12025550102", "kim@example.com", None).await;
    let sam = contact(&w.app, k.id, "Sam Roe", "+12025550103", "sam@example.com", None).await;

    w.app.run_engine().await;
    assert_eq!(w.tts.calls_for(RACHEL, &said("Pat")), 1, "{:#?}", w.tts.requests());
    assert_eq!(w.tts.calls_for(RACHEL, &said("Sam")), 1);
    assert_eq!(w.tts.total_calls(), 2);
    assert_eq!(w.count("SELECT count(*) FROM voice_audio").await, 2);
    for e in [lee, kim, sam] {
        assert_eq!(w.only_voicemail(e).await.send_state.as_deref(), Some("sent"));
    }
    // Each drop has its own URL, serving the audio of its own words.
    let (a, b, c) = (w.drop_to("2025550101"), w.drop_to("2025550102"), w.drop_to("2025550103"));
    assert_ne!(a.url, b.url);
    assert_eq!(a.fetched.unwrap().body, mp3_for(RACHEL, &said("Pat")));
    assert_eq!(b.fetched.unwrap().body, mp3_for(RACHEL, &said("Pat")));
    assert_eq!(c.fetched.unwrap().body, mp3_for(RACHEL, &said("Sam")));
}

// Slybroadcast

#[sqlx::test]
async fn slybroadcast_gets_the_documented_fields_and_can_fetch_the_audio(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;

    w.app.run_engine().await;
    let asked = w.sly.requests();
    assert_eq!(asked.len(), 1, "{asked:#?}");
    let r = &asked[0];
    assert_eq!((r.param("c_uid"), r.param("c_password")), (Some(w.sly.uid.as_str()), Some(w.sly.password.as_str())));
    assert!(r.param("c_audio").is_some_and(|a| a.eq_ignore_ascii_case("mp3")), "{:?}", r.param("c_audio"));
    assert_eq!(r.param("c_phone"), Some("2025550101"), "10 digits for a US number");
    assert_eq!(r.param("c_callerID"), Some(CALLER_ID_DIGITS), "the sender's voicemail caller id");
    // Now, or the clock's time in Eastern Time (10:00 in New York).
    assert!(matches!(r.param("c_date"), Some("now" | "2027-03-02 10:00:00")), "{:?}", r.param("c_date"));
    let url = r.param("c_url").unwrap_or_default();
    assert!(url.starts_with(&format!("{}/media/vm/", w.app.base)) && url.ends_with(".mp3"), "{url}");
    assert!(r.param("c_dispo_url").unwrap_or_default().starts_with(&w.app.base), "{:?}", r.param("c_dispo_url"));

    // Slybroadcast fetched the audio ElevenLabs rendered, as an MP3.
    let d = w.drop_to("2025550101");
    let fetched = d.fetched.clone().unwrap();
    let audio = mp3_for(RACHEL, &said("Pat"));
    assert_eq!((fetched.status, fetched.content_type.as_deref()), (200, Some("audio/mpeg")));
    assert_eq!(fetched.content_length, Some(audio.len() as u64));
    assert!(fetched.body == audio, "the served audio is not what ElevenLabs rendered");

    // The drop is recorded with Slybroadcast's session id.
    let m = w.only_voicemail(pat).await;
    assert_eq!((m.send_state.as_deref(), m.provider.as_deref()), (Some("sent"), Some("slybroadcast")));
    assert_eq!(m.provider_message_id.as_deref(), Some(d.session_id.as_str()));
    assert_eq!(m.body, said("Pat"));
    assert_eq!(w.engine_state(pat).await.0, "finished");
}

#[sqlx::test]
async fn a_slybroadcast_error_fails_the_step_with_its_words(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.set_key(&w.tts.api_key).await;
    w.set_login(&w.sly.uid, "not-the-password").await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;

    w.app.run_engine().await;
    let m = w.only_voicemail(pat).await;
    assert_eq!(m.send_state.as_deref(), Some("failed"));
    assert!(m.error.as_deref().unwrap_or_default().contains("Invalid user or password"), "{:?}", m.error);
    // An ERROR answer is final: a day later nothing more was asked.
    w.clock.advance(Duration::days(1));
    w.app.run_engine().await;
    assert_eq!(w.sly.total_calls(), 1);
    assert_eq!(w.sly.drops_for("2025550101"), 0);
}

#[sqlx::test]
async fn a_real_drop_needs_the_senders_caller_id(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    sqlx::query("UPDATE users SET vm_caller_id = NULL WHERE id = $1").bind(k.owner.id).execute(&w.app.pool).await.unwrap();
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;

    w.app.run_engine().await;
    let m = w.voicemails(pat).await;
    assert_eq!(w.sly.total_calls(), 0);
    // Failed with a reason naming what to set (or never recorded, but then the contact
    // was stopped with that reason): either way the reason says "caller id".
    let reason = match m.first() {
        Some(m) => {
            assert_eq!(m.send_state.as_deref(), Some("failed"));
            m.error.clone().unwrap_or_default()
        }
        None => sqlx::query_scalar::<_, String>("SELECT detail FROM engine_events WHERE enrollment_id = $1 AND kind = 'failed'")
            .bind(pat)
            .fetch_one(&w.app.pool)
            .await
            .unwrap(),
    };
    assert!(reason.to_lowercase().contains("caller id"), "{reason}");
}

#[sqlx::test]
async fn slybroadcast_unavailable_is_retried_and_dropped_once(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    // 503: the gateway in front of Slybroadcast turned the request away.
    w.sly.fail_next(1, 503);

    w.app.run_engine().await;
    assert_eq!(w.sly.drops_for("2025550101"), 0);
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("queued"));
    w.run_when_due(pat).await;
    assert_eq!(w.sly.total_calls(), 2);
    assert_eq!(w.sly.drops_for("2025550101"), 1);
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("sent"));
    assert_eq!(w.tts.total_calls(), 1, "the retry drops the audio already rendered");
}

#[sqlx::test]
async fn a_slybroadcast_internal_error_may_have_dropped_so_it_is_held_as_unknown(pool: PgPool) {
    let w = world(pool, |s| s.engine_lease_s = 5).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    // 500: the application itself failed, perhaps after taking the drop.
    w.sly.fail_next(1, 500);

    w.app.run_engine().await;
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("sending"), "it may have gone out");
    w.run_when_due(pat).await;
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("unknown"));
    assert_eq!(w.engine_state(pat).await.0, "held");
    assert_eq!(w.sly.total_calls(), 1, "never asked twice");
}

#[sqlx::test]
async fn delivery_reports_mark_drops_delivered_or_failed_and_a_forged_report_changes_nothing(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    let sam = contact(&w.app, k.id, "Sam Roe", "+12025550102", "sam@example.com", None).await;
    w.app.run_engine().await;
    let (to_pat, to_sam) = (w.drop_to("2025550101"), w.drop_to("2025550102"));

    // Slybroadcast posts each call's outcome and wants "OK" back.
    assert_eq!(w.sly.report(&to_pat, "OK", "").await, (200, "OK".to_string()));
    assert_eq!(w.sly.report(&to_sam, "FAILURE", "Number not in service").await, (200, "OK".to_string()));
    let delivery = |e: Uuid| {
        let w = &w;
        async move { w.only_voicemail(e).await.delivery_status }
    };
    assert_eq!(settled(Some("delivered".to_string()), || delivery(pat)).await.as_deref(), Some("delivered"));
    assert_eq!(settled(Some("failed".to_string()), || delivery(sam)).await.as_deref(), Some("failed"));
    let why = w.only_voicemail(sam).await.error.unwrap_or_default();
    assert!(why.contains("Number not in service"), "the carrier's reason is kept: {why}");

    // The report URL is a secret: a guess at it is refused and changes nothing.
    let real = to_pat.dispo_url.clone().unwrap();
    let at = real.rfind('/').unwrap() + 1;
    let swapped = if real[at..].starts_with('a') { "b" } else { "a" };
    let forged = format!("{}{swapped}{}", &real[..at], &real[at + 1..]);
    let (code, _) = w.sly.report_to(&forged, &to_pat, "FAILURE", "forged").await;
    assert_eq!(code, 404);
    let m = w.only_voicemail(pat).await;
    assert_eq!((m.delivery_status.as_deref(), m.error), (Some("delivered"), None));
}

// The audio's public URL

#[sqlx::test]
async fn the_drop_audio_url_serves_ranges_and_revalidation_until_it_expires(pool: PgPool) {
    let w = world(pool, |s| s.voicemail_audio_ttl_hours = 2).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    w.app.run_engine().await;
    let url = w.drop_to("2025550101").url;
    let audio = mp3_for(RACHEL, &said("Pat"));
    let len = audio.len();
    let http = reqwest::Client::new();
    let get = |range: Option<&str>, etag: Option<&str>| {
        let mut req = http.get(&url);
        if let Some(r) = range {
            req = req.header("Range", r);
        }
        if let Some(e) = etag {
            req = req.header("If-None-Match", e);
        }
        req.send()
    };
    let header = |res: &reqwest::Response, name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);

    // The whole file, with what a player or a fetcher needs to resume or revalidate.
    let res = get(None, None).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "content-type").as_deref(), Some("audio/mpeg"));
    assert_eq!(header(&res, "content-length"), Some(len.to_string()));
    assert_eq!(header(&res, "accept-ranges").as_deref(), Some("bytes"));
    assert!(header(&res, "cache-control").is_some());
    let etag = header(&res, "etag").expect("an ETag");
    assert!(res.bytes().await.unwrap() == audio);

    // The first 100 bytes, and the last 100.
    let res = get(Some("bytes=0-99"), None).await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&res, "content-range"), Some(format!("bytes 0-99/{len}")));
    assert!(res.bytes().await.unwrap() == audio[..100]);
    let res = get(Some("bytes=-100"), None).await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&res, "content-range"), Some(format!("bytes {}-{}/{len}", len - 100, len - 1)));
    assert!(res.bytes().await.unwrap() == audio[len - 100..]);
    // A range past the end cannot be satisfied; the answer says how long the file is (RFC 9110 §15.5.17).
    let res = get(Some(&format!("bytes={len}-")), None).await.unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&res, "content-range"), Some(format!("bytes */{len}")));
    // Revalidation with the ETag: not modified.
    let res = get(None, Some(&etag)).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert!(res.bytes().await.unwrap().is_empty());

    // An unknown token is nothing; an expired one is gone for good.
    let unknown = http.get(w.app.url(&format!("/media/vm/{}.mp3", Uuid::new_v4().simple()))).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    w.clock.advance(Duration::hours(2) + Duration::minutes(1));
    assert_eq!(get(None, None).await.unwrap().status(), StatusCode::GONE);
}

// Rules the engine applies to every send

#[sqlx::test]
async fn a_drop_outside_the_send_window_waits_for_it(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    // Monday 22:00 in New York: the window (09:00–20:00) opens Tuesday at 09:00.
    w.clock.set(utc("2027-03-02T03:00:00Z"));
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;

    w.app.run_engine().await;
    assert_eq!(w.sly.total_calls(), 0, "no voicemail at night");
    let (state, next, reason) = w.engine_state(pat).await;
    assert_eq!((state.as_str(), next), ("active", Some(utc("2027-03-02T14:00:00Z"))));
    assert!(reason.as_deref().unwrap_or_default().starts_with("Outside the send window"), "{reason:?}");

    w.clock.set(utc("2027-03-02T14:00:00Z"));
    w.app.run_engine().await;
    assert_eq!(w.sly.drops_for("2025550101"), 1);
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("sent"));
}

#[sqlx::test]
async fn a_suppressed_number_gets_no_speech_and_no_drop(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    let sam = contact(&w.app, k.id, "Sam Roe", "+12025550102", "sam@example.com", None).await;
    sqlx::query(
        "INSERT INTO suppressions (id, kind, value_hash, value, reason, source)
         VALUES ($1, 'phone', sha256(convert_to('+12025550101', 'UTF8')), '•••0101', 'STOP', 'test')",
    )
    .bind(Uuid::now_v7())
    .execute(&w.app.pool)
    .await
    .unwrap();

    w.app.run_engine().await;
    // Pat's script is never sent to ElevenLabs, nor dropped; Sam's goes out.
    assert_eq!(w.tts.calls_for(RACHEL, &said("Pat")), 0);
    assert_eq!(w.sly.drops_for("2025550101"), 0);
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("cancelled"));
    assert_eq!(w.sly.drops_for("2025550102"), 1);
    assert_eq!(w.only_voicemail(sam).await.send_state.as_deref(), Some("sent"));
}

// Crashes and lost answers: a voicemail is never dropped twice

#[sqlx::test]
async fn slybroadcast_unreachable_requeues_and_the_retry_reuses_the_audio(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    // Connection refused: the request surely never reached Slybroadcast.
    w.sly.stop_listening().await;

    w.app.run_engine().await;
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("queued"));
    assert_eq!(w.tts.renders_for(RACHEL, &said("Pat")), 1);

    w.sly.listen().await;
    w.run_when_due(pat).await;
    assert_eq!(w.sly.drops_for("2025550101"), 1);
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("sent"));
    assert_eq!(w.tts.calls_for(RACHEL, &said("Pat")), 1, "the retry found the audio rendered");
}

#[sqlx::test]
async fn a_drop_whose_answer_never_came_is_held_as_unknown_never_dropped_twice(pool: PgPool) {
    // ElevenLabs shares the timeout: 2 s leaves its fast answer room on a loaded machine.
    let w = world(pool, |s| {
        s.provider_timeout_s = 2;
        s.engine_lease_s = 5;
    })
    .await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    // Slybroadcast takes the drop and its answer is lost: the app's request times out.
    w.sly.hang_next(1);

    w.app.run_engine().await;
    assert_eq!(w.sly.drops_for("2025550101"), 1);
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("sending"), "it may have gone out");

    // The next run cannot ask Slybroadcast whether it went; a person decides.
    w.run_when_due(pat).await;
    let m = w.only_voicemail(pat).await;
    assert_eq!(m.send_state.as_deref(), Some("unknown"));
    let (state, _, reason) = w.engine_state(pat).await;
    assert_eq!(state, "held");
    assert!(reason.is_some());
    w.clock.advance(Duration::days(1));
    w.app.run_engine().await;
    assert_eq!(w.sly.total_calls(), 1, "never asked again");
    assert_eq!(w.sly.drops_for("2025550101"), 1);
}

#[sqlx::test]
async fn a_worker_killed_while_the_speech_renders_drops_once_after_the_lease(pool: PgPool) {
    // The provider timeout (30 s) is longer than the test waits: the worker dies first.
    let w = world(pool, |s| {
        s.provider_timeout_s = 30;
        s.engine_lease_s = 5;
    })
    .await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    w.tts.hang_next(1);

    // The batch is dropped mid-call, as when the process dies.
    let cut = tokio::time::timeout(std::time::Duration::from_secs(2), w.app.run_engine()).await;
    assert!(cut.is_err(), "the batch should still have been waiting for ElevenLabs");
    assert_eq!(w.tts.total_calls(), 1);
    assert_eq!(w.sly.total_calls(), 0);

    // Past the lease, another run takes the step up again with ElevenLabs answering.
    let at = w.due(pat).await.max(w.clock.now());
    w.clock.set(at);
    w.app.run_engine().await;
    assert_eq!(w.tts.renders_for(RACHEL, &said("Pat")), 1);
    assert_eq!(w.sly.drops_for("2025550101"), 1);
    assert_eq!(w.only_voicemail(pat).await.send_state.as_deref(), Some("sent"));
    assert_eq!(w.count("SELECT count(*) FROM voice_audio").await, 1);
}

// Without any account

#[sqlx::test]
async fn without_accounts_the_local_voice_speaks_and_the_sandbox_keeps_the_drop(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;

    w.app.run_engine().await;
    assert_eq!((w.tts.total_calls(), w.sly.total_calls()), (0, 0), "no account, no outside call");
    let m = w.only_voicemail(pat).await;
    assert_eq!((m.send_state.as_deref(), m.provider.as_deref()), (Some("sent"), Some("sandbox")));
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM sandbox_messages WHERE channel = 'voicemail' AND to_address = '+12025550101'")
        .fetch_one(&w.app.pool)
        .await
        .unwrap();
    assert_eq!(kept, 1);

    // The voicemail is in the contact's conversation, with its audio to play.
    let (status, detail) = json(w.app.call("GET", &format!("/api/conversations/{}", m.conversation_id), Some(&k.owner.token), None).await).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let shown = detail["history"].as_array().unwrap().iter().find(|h| h["id"] == m.id.to_string()).cloned().expect("the voicemail");
    assert_eq!(shown["body"], said("Pat"));
    let audio = shown["media"].as_array().unwrap().iter().find(|a| a["content_type"] == "audio/mpeg").cloned().expect("its audio");
    let path = audio["url"].as_str().unwrap().to_string();
    assert!(path.starts_with("/api/media/"), "{path}");

    let res = w.app.call("GET", &path, Some(&k.owner.token), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "audio/mpeg");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.len() > 1000 && is_mp3(&bytes), "{} bytes starting {:02x?}", bytes.len(), &bytes[..bytes.len().min(4)]);
    // Only those who may see the conversation hear it; and it does not expire like the drop URL.
    let ben = w.app.user("ben@turnout.test", Role::Bdr).await;
    assert_eq!(w.app.call("GET", &path, Some(&ben.token), None).await.status(), StatusCode::NOT_FOUND);
    w.clock.advance(Duration::days(30));
    assert_eq!(w.app.call("GET", &path, Some(&k.owner.token), None).await.status(), StatusCode::OK);

    // Without a key the builder offers the local engine's voices.
    let (_, voices) = json(w.app.server_fn("list_voices", Some(&k.owner.token), "").await).await;
    assert_eq!(voices["engine"], "local", "{voices}");
}

// The builder's preview

#[sqlx::test]
async fn a_bdr_hears_a_preview_for_one_of_her_contacts_and_nobody_else_can_play_it(pool: PgPool) {
    let w = world(pool, |_| {}).await;
    w.connect().await;
    let k = w.campaign(one_drop(SCRIPT, None)).await;
    let pat = contact(&w.app, k.id, "Pat Lee", "+12025550101", "pat@example.com", None).await;
    let contact_id: Uuid = sqlx::query_scalar("SELECT contact_id FROM enrollments WHERE id = $1").bind(pat).fetch_one(&w.app.pool).await.unwrap();

    let input = json!({ "input": { "script": SCRIPT, "voice_id": ADAM, "campaign_id": k.id, "contact_id": contact_id } });
    let (status, preview) = json(w.app.server_fn("preview_voicemail", Some(&k.owner.token), &input.to_string()).await).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["text"], said("Pat"));
    assert_eq!(preview["problem"], Value::Null);
    assert_eq!(w.tts.renders_for(ADAM, &said("Pat")), 1);
    let url = preview["audio_url"].as_str().unwrap().to_string();

    let res = w.app.call("GET", &url, Some(&k.owner.token), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "audio/mpeg");
    assert_eq!(res.bytes().await.unwrap().to_vec(), mp3_for(ADAM, &said("Pat")));
    // The audio speaks her contact's name: its link is hers alone.
    let ben = w.app.user("ben@turnout.test", Role::Bdr).await;
    assert_eq!(w.app.call("GET", &url, Some(&ben.token), None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(w.app.call("GET", &url, None, None).await.status(), StatusCode::UNAUTHORIZED);

    // Hearing it again, or dropping it to Pat later, renders nothing new.
    json(w.app.server_fn("preview_voicemail", Some(&k.owner.token), &input.to_string()).await).await;
    assert_eq!(w.tts.calls_for(ADAM, &said("Pat")), 1);

    // A script too short for Slybroadcast is said so before it is ever dropped.
    let short = json!({ "input": { "script": "See you Saturday!", "campaign_id": k.id } });
    let (_, preview) = json(w.app.server_fn("preview_voicemail", Some(&k.owner.token), &short.to_string()).await).await;
    assert!(preview["problem"].as_str().unwrap_or_default().contains("more than 5 s"), "{preview}");
    assert!(preview["audio_url"].is_string(), "it can still be heard: {preview}");
}
