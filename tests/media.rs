//! Pictures sent by text (MMS): Twilio's media URLs stand in on loopback (basic auth with the
//! account's SID and token, then a redirect to a file host, as Twilio answers), the inbound
//! webhook is signed, and the files land in the media store under the test's data folder,
//! served only to those who may see the conversation.
mod common;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use common::{TestApp, spawn_with, test_settings};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use turnout::domain::{E164Phone, EmailAddress, Role};
use turnout::server::contacts::{self, NewContact};
use turnout::server::webhooks::twilio_signature::signature;
use uuid::Uuid;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n pretend picture";
const PATH: &str = "/api/twilio/inbound-sms";

/// Twilio's media URLs and the file host they redirect to.
struct MediaHost {
    api: String,
    account_sid: String,
    auth_token: String,
    /// Authorization headers the file host saw: the account's credentials must not reach it.
    leaked: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Shared {
    credentials: String,
    files: String,
    leaked: Arc<Mutex<Vec<String>>>,
}

async fn twilio_media(State(s): State<Shared>, Path((_account, _message, media)): Path<(String, String, String)>, headers: HeaderMap) -> Response {
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(&s.credentials));
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, "authenticate").into_response();
    }
    if media == "MEgone" {
        return (StatusCode::NOT_FOUND, "no such media").into_response();
    }
    // Twilio answers a media URL with a temporary redirect to where the file is kept.
    Redirect::temporary(&format!("{}/files/{media}", s.files)).into_response()
}

async fn file(State(s): State<Shared>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        s.leaked.lock().expect("leaks").push(auth.to_string());
    }
    let body = if name == "MEbig" { vec![0u8; 4096] } else { PNG.to_vec() };
    ([(header::CONTENT_TYPE, "image/png")], body).into_response()
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("media host") });
    base
}

impl MediaHost {
    async fn start() -> MediaHost {
        let account_sid = format!("AC{:032x}", rand::random::<u128>());
        let auth_token = format!("{:032x}", rand::random::<u128>());
        let leaked = Arc::new(Mutex::new(Vec::new()));
        // The file host is another server (another port): a different origin from the API.
        let mut shared = Shared { credentials: format!("{account_sid}:{auth_token}"), files: String::new(), leaked: leaked.clone() };
        shared.files = serve(Router::new().route("/files/{name}", get(file)).with_state(shared.clone())).await;
        let api = serve(
            Router::new()
                .route("/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media}", get(twilio_media))
                .with_state(shared),
        )
        .await;
        MediaHost { api, account_sid, auth_token, leaked }
    }

    fn url(&self, media: &str) -> String {
        format!("{}/2010-04-01/Accounts/{}/Messages/MM1/Media/{media}", self.api, self.account_sid)
    }
}

/// The app with the Twilio account of the media host as the organisation's, and Ana (a BDR
/// the contact's conversation is assigned to) and Ben (another BDR).
async fn setup(pool: PgPool, tweak: impl FnOnce(&mut turnout::server::settings::Settings)) -> (TestApp, MediaHost) {
    let host = MediaHost::start().await;
    let mut settings = test_settings();
    settings.twilio_api_base = host.api.clone();
    tweak(&mut settings);
    let app = spawn_with(pool, settings).await;
    let mut conn = app.pool.acquire().await.unwrap();
    turnout::server::providers::save_account(&mut conn, &app.state.keys, "twilio", None, Some((&host.account_sid, &host.auth_token))).await.unwrap();
    let phone = E164Phone::parse("+12025550142", "US").unwrap();
    let email = EmailAddress::parse("pat@example.com").unwrap();
    contacts::insert(&app.pool, &NewContact { name: "Pat Doe", phone: Some(&phone), email: Some(&email), company: None, time_zone: None, consent_source: "test" })
        .await
        .unwrap();
    (app, host)
}

/// Posts an MMS from Pat, signed with the account's token; the message's id.
async fn mms(app: &TestApp, host: &MediaHost, body: &str, media: &[&str]) -> Uuid {
    let sid = format!("MM{}", Uuid::new_v4().simple());
    let mut params: Vec<(String, String)> = [
        ("MessageSid", sid.as_str()), ("AccountSid", host.account_sid.as_str()), ("From", "+12025550142"), ("To", "+12025550001"),
        ("Body", body),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    params.push(("NumMedia".into(), media.len().to_string()));
    for (i, m) in media.iter().enumerate() {
        params.push((format!("MediaUrl{i}"), host.url(m)));
        params.push((format!("MediaContentType{i}"), "image/png".into()));
    }
    let sig = signature(&host.auth_token, &app.url(PATH), &params);
    let res = reqwest::Client::new()
        .post(app.url(PATH))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", sig)
        .body(form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    sqlx::query_scalar!("SELECT id FROM messages WHERE provider_message_id = $1", sid).fetch_one(&app.pool).await.unwrap()
}

/// The message's files once none is pending: (id, state, error), in order.
async fn settled(app: &TestApp, message: Uuid) -> Vec<(Uuid, String, Option<String>)> {
    for _ in 0..100 {
        let rows = sqlx::query!("SELECT id, state, error FROM message_media WHERE message_id = $1 ORDER BY position", message)
            .fetch_all(&app.pool)
            .await
            .unwrap();
        if rows.iter().all(|r| r.state != "pending") {
            return rows.into_iter().map(|r| (r.id, r.state, r.error)).collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("media still pending");
}

#[sqlx::test]
async fn mms_media_are_stored_and_served_only_to_those_who_see_the_conversation(pool: PgPool) {
    let (app, host) = setup(pool, |_| {}).await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let ben = app.user("ben@turnout.test", Role::Bdr).await;
    let message = mms(&app, &host, "Here is my ticket", &["ME1", "ME2"]).await;
    let media = settled(&app, message).await;
    assert_eq!(media.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(), ["stored", "stored"]);
    for (id, _, _) in &media {
        let stored = std::fs::read(app.data_dir.join("media").join(id.to_string())).expect("file in the media folder");
        assert_eq!(stored, PNG);
    }
    assert!(host.leaked.lock().unwrap().is_empty(), "the file host was sent the account's credentials");

    sqlx::query!("UPDATE conversations SET assigned_to = $1 WHERE id = (SELECT conversation_id FROM messages WHERE id = $2)", ana.id, message)
        .execute(&app.pool)
        .await
        .unwrap();
    let path = format!("/api/media/{}", media[0].0);
    let res = app.call("GET", &path, Some(&ana.token), None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
    assert_eq!(app.call("GET", &path, Some(&ben.token), None).await.status(), 404);
    assert_eq!(app.call("GET", &path, None, None).await.status(), 401);
    assert_eq!(app.call("GET", &format!("/api/media/{}", Uuid::now_v7()), Some(&ana.token), None).await.status(), 404);

    // The conversation lists the files for the view to show.
    let conversation: Uuid = sqlx::query_scalar!("SELECT conversation_id FROM messages WHERE id = $1", message).fetch_one(&app.pool).await.unwrap();
    let (_, detail) = common::json(app.call("GET", &format!("/api/conversations/{conversation}"), Some(&ana.token), None).await).await;
    let shown = detail["history"].as_array().unwrap().iter().find(|m| m["id"] == message.to_string()).expect("the message");
    let listed = &shown["media"];
    assert_eq!(listed[0]["url"], path);
    assert_eq!(listed[1]["state"], "stored");
}

#[sqlx::test]
async fn a_failed_media_fetch_keeps_the_text_and_is_recorded(pool: PgPool) {
    let (app, host) = setup(pool, |s| s.media_max_bytes = 1024).await;
    let message = mms(&app, &host, "Photo attached", &["ME1", "MEgone", "MEbig"]).await;
    let media = settled(&app, message).await;
    let body: String = sqlx::query_scalar!("SELECT body FROM messages WHERE id = $1", message).fetch_one(&app.pool).await.unwrap();
    assert_eq!(body, "Photo attached");
    assert_eq!(media[0].1, "stored");
    assert_eq!(media[1].1, "failed");
    assert!(media[1].2.as_deref().unwrap_or_default().contains("404"), "{:?}", media[1].2);
    assert_eq!(media[2].1, "failed");
    assert!(media[2].2.as_deref().unwrap_or_default().contains("larger than 1024 bytes"), "{:?}", media[2].2);
    assert!(!app.data_dir.join("media").join(media[2].0.to_string()).exists());
}
