//! A fake of Bonzo on loopback: `POST /v3/prospects/create-or-update-and-message` with a
//! bearer token, and Bonzo's event hooks posted to the app. It speaks the format Turnout
//! implements, which is guessed where Bonzo's documentation is silent (see the "Guessed"
//! section of `src/server/providers/bonzo.rs`); the prospect object is the one of
//! <https://docs.getbonzo.com/event-hooks/available-events>.
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// One create-or-update-and-message request, as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub authorization: Option<String>,
    pub body: Value,
    /// The message id answered, for an accepted request.
    pub message_id: Option<u64>,
}

pub struct FakeBonzo {
    /// E.g. `http://127.0.0.1:41234`: the app's `bonzo_api_base`.
    pub base_url: String,
    pub token: String,
    shared: Arc<Shared>,
}

struct Shared {
    token: String,
    state: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Request>,
    /// Prospect ids by phone: created once, updated after.
    prospects: HashMap<String, u64>,
    next_id: u64,
    /// Statuses to answer the next requests with, in order (e.g. 429, 500, 422).
    answers: Vec<u16>,
}

impl FakeBonzo {
    pub async fn start() -> FakeBonzo {
        let token = format!("bz_{:032x}", rand::random::<u128>());
        let shared = Arc::new(Shared { token: token.clone(), state: Mutex::new(Inner { next_id: 1000, ..Inner::default() }) });
        let app = Router::new().route("/v3/prospects/create-or-update-and-message", post(create)).with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake Bonzo");
        let base_url = format!("http://{}", listener.local_addr().expect("fake Bonzo address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake Bonzo server") });
        FakeBonzo { base_url, token, shared }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.state.lock().expect("fake Bonzo state")
    }

    /// The next requests are answered with these statuses, one each, then success again.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.state().answers = statuses.to_vec();
    }

    /// Every request received, the refused ones too.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// The texts sent to a phone (accepted requests only).
    pub fn texts_to(&self, phone: &str) -> Vec<String> {
        let s = self.state();
        s.requests.iter().filter(|r| r.body["phone"] == phone && r.message_id.is_some()).map(|r| r.body["message"].as_str().unwrap_or_default().to_string()).collect()
    }
}

async fn create(State(shared): State<Arc<Shared>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut s = shared.state.lock().expect("fake Bonzo state");
    let mut request = Request { authorization: authorization.clone(), body: body.clone(), message_id: None };
    let forced = (!s.answers.is_empty()).then(|| s.answers.remove(0));
    let refused = |request: Request, s: &mut Inner, status: u16, answer: Value| {
        s.requests.push(request);
        let mut res = (StatusCode::from_u16(status).expect("status"), Json(answer)).into_response();
        if status == 429 {
            res.headers_mut().insert(header::RETRY_AFTER, "1".parse().expect("header"));
        }
        res
    };
    if authorization.as_deref() != Some(&format!("Bearer {}", shared.token)) || forced == Some(401) {
        return refused(request, &mut s, 401, json!({ "message": "Unauthenticated." }));
    }
    match forced {
        Some(422) => return refused(request, &mut s, 422, json!({ "message": "The given data was invalid.", "errors": { "phone": ["The phone must be a valid phone number."] } })),
        Some(429) => return refused(request, &mut s, 429, json!({ "message": "Too Many Attempts." })),
        Some(status) => return refused(request, &mut s, status, json!({ "message": "Server Error" })),
        None => {}
    }
    let phone = body["phone"].as_str().unwrap_or_default().to_string();
    let next = s.next_id + 1;
    let prospect = *s.prospects.entry(phone.clone()).or_insert(next);
    s.next_id = next + 1;
    let message = s.next_id;
    request.message_id = Some(message);
    s.requests.push(request);
    let answer = json!({
        "prospect": {
            "id": prospect, "first_name": body["first_name"], "last_name": body["last_name"],
            "full_name": format!("{} {}", body["first_name"].as_str().unwrap_or_default(), body["last_name"].as_str().unwrap_or_default()),
            "email": body["email"], "phone": phone, "status": "active", "dnc": false,
        },
        "message": { "id": message, "status": "queued" },
    });
    (StatusCode::OK, Json(answer)).into_response()
}

/// Bonzo's event hook posts, to the URL an admin pasted into Bonzo.
pub fn received(id: u64, from: &str, to: &str, text: &str) -> Value {
    json!({
        "event": "messages.received",
        "prospect": { "id": 63, "first_name": "Pat", "last_name": "Lee", "full_name": "Pat Lee", "phone": from, "dnc": false },
        "additional": null,
        "resource": { "id": id, "content": text, "direction": "inbound", "from": from, "to": to },
    })
}

pub fn status(id: &str, status: &str) -> Value {
    json!({ "event": format!("messages.{status}"), "prospect": null, "resource": { "id": id, "status": status } })
}

/// Posts an event to the app's webhook URL; returns the status.
pub async fn post_event(url: &str, event: &Value) -> u16 {
    reqwest::Client::new().post(url).json(event).send().await.expect("post event").status().as_u16()
}
