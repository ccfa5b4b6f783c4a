//! The Twilio provider against a fake of Twilio's Messages API on loopback. No database.
mod common;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Form, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration as ChronoDuration, Utc};
use common::twilio::FakeTwilio;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use turnout::server::providers::twilio::TwilioClient;
use turnout::server::providers::{Outgoing, Provider, Reconciled, SendError};
use turnout::server::webhooks::twilio_signature::verify;
use uuid::Uuid;

const FROM: &str = "+15017122661";

fn outgoing(to: &str, body: &str) -> Outgoing {
    Outgoing {
        voice: None,
        id: Uuid::now_v7(),
        to: to.into(),
        from: FROM.into(),
        body: body.into(),
        subject: None,
        html: None,
        headers: vec![],
        created_at: Utc::now(),
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn a_send_posts_the_form_with_basic_auth_and_returns_the_sid() {
    let fake = FakeTwilio::start().await;
    let m = outgoing("+15558675310", "Doors open at 6 — see you there!");
    let accepted = fake.client(None).send(&m).await.expect("sent");

    assert!(accepted.provider_id.starts_with("SM") && accepted.provider_id.len() == 34, "{}", accepted.provider_id);
    assert_eq!(accepted.status.as_deref(), Some("queued"));
    let seen = fake.last_request().expect("a request");
    assert_eq!(seen.params, pairs(&[("To", "+15558675310"), ("From", FROM), ("Body", "Doors open at 6 — see you there!")]));
    let expected_auth = format!("Basic {}", STANDARD.encode(format!("{}:{}", fake.account_sid, fake.auth_token)));
    assert_eq!(seen.authorization.as_deref(), Some(expected_auth.as_str()));
    assert_eq!(fake.calls_for("+15558675310", "Doors open at 6 — see you there!"), 1);
    let stored = fake.messages();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].sid, accepted.provider_id);
    assert!(fake.duplicates().is_empty());
}

#[tokio::test]
async fn an_invalid_number_is_permanent_with_twilios_words() {
    let fake = FakeTwilio::start().await;
    let err = fake.client(None).send(&outgoing("+1555", "Hi")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            message: "Twilio 21211: The 'To' number +1555 is not a valid phone number.".into(),
            code: Some("21211".into()),
            suppress: false,
        }
    );
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn an_unsubscribed_recipient_is_permanent_and_suppressed() {
    let fake = FakeTwilio::start().await;
    fake.fail_recipient("+15558675311", 21610);
    let err = fake.client(None).send(&outgoing("+15558675311", "Hi")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            message: "Twilio 21610: Attempt to send to unsubscribed recipient".into(),
            code: Some("21610".into()),
            suppress: true,
        }
    );
    // Other recipients still go through.
    fake.client(None).send(&outgoing("+15558675312", "Hi")).await.expect("sent");
}

#[tokio::test]
async fn a_rate_limit_is_transient_with_twilios_retry_after() {
    let fake = FakeTwilio::start().await;
    fake.throttle_next(1);
    let client = fake.client(None);
    let m = outgoing("+15558675313", "Hi");
    let err = client.send(&m).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Transient { message: "Twilio 20429: Too Many Requests".into(), retry_after: Some(Duration::from_secs(1)) }
    );
    client.send(&m).await.expect("the retry goes through");
    assert_eq!(fake.total_calls(), 2);
    assert_eq!(fake.calls_for("+15558675313", "Hi"), 1, "the refused request sent nothing");
}

#[tokio::test]
async fn a_server_error_is_transient() {
    let fake = FakeTwilio::start().await;
    fake.fail_next(1);
    let err = fake.client(None).send(&outgoing("+15558675314", "Hi")).await.unwrap_err();
    assert!(matches!(err, SendError::Transient { retry_after: None, .. }), "{err:?}");
    assert!(err.message().starts_with("Twilio 20500"), "{}", err.message());
}

#[tokio::test]
async fn wrong_credentials_are_permanent() {
    let fake = FakeTwilio::start().await;
    let client = TwilioClient::new(reqwest::Client::new(), &fake.base_url, &fake.account_sid, "not-the-token", None);
    let err = client.send(&outgoing("+15558675315", "Hi")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            message: "Twilio rejected the credentials: check the account SID and auth token".into(),
            code: Some("20003".into()),
            suppress: false,
        }
    );
    assert!(matches!(client.reconcile(&outgoing("+15558675315", "Hi")).await, Reconciled::Unknown(_)));
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    // A port that was free a moment ago and has nothing listening now.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let client = TwilioClient::new(reqwest::Client::new(), format!("http://127.0.0.1:{port}"), "AC1", "token", None);
    let err = client.send(&outgoing("+15558675316", "Hi")).await.unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    assert!(err.message().starts_with("Twilio could not be reached"), "{}", err.message());
}

#[tokio::test]
async fn a_timeout_after_the_request_went_out_is_ambiguous() {
    // Takes the connection and the request, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let http = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let client = TwilioClient::new(http, format!("http://{addr}"), "AC1", "token", None);
    let err = client.send(&outgoing("+15558675317", "Hi")).await.unwrap_err();
    assert!(matches!(err, SendError::Ambiguous { .. }), "{err:?}");
    assert_eq!(err.message(), "Twilio did not answer in time; the message may have been sent");
}

#[tokio::test]
async fn reconcile_finds_a_sent_message_and_not_an_unsent_one() {
    let fake = FakeTwilio::start().await;
    let client = fake.client(None);
    let m = outgoing("+15558675318", "Your seat is saved");
    let accepted = client.send(&m).await.expect("sent");

    match client.reconcile(&m).await {
        Reconciled::Sent(found) => {
            assert_eq!(found.provider_id, accepted.provider_id);
            assert_eq!(found.status.as_deref(), Some("sent"));
        }
        other => panic!("expected Sent, got {other:?}"),
    }
    assert_eq!(client.reconcile(&outgoing("+15558675318", "Another text")).await, Reconciled::NotSent);
    assert_eq!(client.reconcile(&outgoing("+15558675319", "Your seat is saved")).await, Reconciled::NotSent);
    // The same text sent well before this row was written belongs to an earlier step.
    let later = Outgoing { created_at: Utc::now() + ChronoDuration::hours(1), ..m.clone() };
    assert_eq!(client.reconcile(&later).await, Reconciled::NotSent);
}

#[tokio::test]
async fn reconcile_follows_the_next_page() {
    let fake = FakeTwilio::start().await;
    let client = fake.client(None);
    let first = outgoing("+15558675320", "Message 0");
    let accepted = client.send(&first).await.expect("sent");
    // Newer messages to the same number push the first one past the first page of 100.
    for i in 1..=120 {
        client.send(&outgoing("+15558675320", &format!("Message {i}"))).await.expect("sent");
    }
    assert_eq!(
        client.reconcile(&first).await,
        Reconciled::Sent(turnout::server::providers::Accepted { provider_id: accepted.provider_id, status: Some("sent".into()) })
    );
}

#[tokio::test]
async fn reconcile_finds_a_message_still_in_twilios_queue() {
    let fake = FakeTwilio::start().await;
    fake.hold_in_queue(true);
    let client = fake.client(None);
    let m = outgoing("+15558675321", "Queued behind a busy sender");
    let accepted = client.send(&m).await.expect("sent");
    assert_eq!(fake.messages()[0].date_sent, None);
    match client.reconcile(&m).await {
        Reconciled::Sent(found) => {
            assert_eq!(found.provider_id, accepted.provider_id);
            assert_eq!(found.status.as_deref(), Some("queued"));
        }
        other => panic!("expected Sent, got {other:?}"),
    }
}

type Received = (HeaderMap, Vec<(String, String)>);

async fn receive(State(tx): State<mpsc::UnboundedSender<Received>>, headers: HeaderMap, Form(params): Form<Vec<(String, String)>>) {
    let _ = tx.send((headers, params));
}

#[tokio::test]
async fn status_callbacks_are_signed_with_the_auth_token() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/twilio/status?campaign=7", listener.local_addr().unwrap());
    let app = Router::new().route("/twilio/status", post(receive)).with_state(tx);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let fake = FakeTwilio::start().await;
    fake.send_status_callbacks(true);
    let message = outgoing("+15558675322", "Hi");
    // Each message's callback names it, so a report that beats the send's bookkeeping lands.
    let url = turnout::server::providers::status_callback_url(&base, message.id);
    assert!(url.ends_with(&format!("?campaign=7&m={}", message.id)));
    let accepted = fake.client(Some(base.clone())).send(&message).await.expect("sent");
    let seen = fake.last_request().unwrap();
    assert!(seen.params.contains(&("StatusCallback".into(), url.clone())), "{:?}", seen.params);

    for expected in ["sent", "delivered"] {
        let (headers, params) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        let header = headers.get("x-twilio-signature").unwrap().to_str().unwrap();
        assert!(verify(&fake.auth_token, &url, &params, header), "{expected}: {params:?}");
        assert!(!verify("another-token", &url, &params, header));
        assert!(!verify(&fake.auth_token, &url.replace("campaign=7", "campaign=8"), &params, header));
        let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(get("MessageStatus"), Some(expected));
        assert_eq!(get("SmsStatus"), Some(expected));
        assert_eq!(get("MessageSid"), Some(accepted.provider_id.as_str()));
        assert_eq!(get("AccountSid"), Some(fake.account_sid.as_str()));
        assert_eq!(get("To"), Some("+15558675322"));
        assert_eq!(get("From"), Some(FROM));
    }
}
