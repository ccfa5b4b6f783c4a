//! A fake of Twilio's Messages API on loopback, for the Twilio tests and the sending benchmark.
//!
//! It speaks the documented formats:
//! - the Message resource, its create (form POST, 201) and list (`To`, `From`, `DateSent`,
//!   `PageSize` filters): <https://www.twilio.com/docs/messaging/api/message-resource>;
//! - error bodies `{"code", "message", "more_info", "status"}` and list paging (`page`,
//!   `page_size`, `next_page_uri`...): <https://www.twilio.com/docs/usage/twilios-response>;
//! - the error codes, <https://www.twilio.com/docs/api/errors> (20003, 20429, 21211, 21602, 21610);
//! - signed status callbacks: <https://www.twilio.com/docs/usage/webhooks/webhooks-security>.
//!
//! Marked "guessed" below: details the stored documentation did not show, written from memory of
//! Twilio's answers (exact error wording, `subresource_uris`, list order, how paging URIs look).
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use turnout::server::providers::twilio::TwilioClient;
use turnout::server::webhooks::twilio_signature::signature;

const API_VERSION: &str = "2010-04-01";

/// A message the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMessage {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    /// `queued` while held in the queue, else `sent` (then `delivered` once its callbacks went).
    pub status: String,
    pub date_created: DateTime<Utc>,
    /// Set when the message leaves the queue, as Twilio does.
    pub date_sent: Option<DateTime<Utc>>,
    pub status_callback: Option<String>,
}

/// The last create request, as received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub params: Vec<(String, String)>,
    pub authorization: Option<String>,
}

pub struct FakeTwilio {
    /// E.g. `http://127.0.0.1:41234`: pass it to `TwilioClient::new` as the base URL.
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: String,
    shared: Arc<Shared>,
}

struct Shared {
    account_sid: String,
    auth_token: String,
    /// `sid:token`, what a Basic `Authorization` header must decode to.
    credentials: String,
    /// Posts the status callbacks.
    http: reqwest::Client,
    state: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    messages: Vec<FakeMessage>,
    /// Indexes into `messages` by recipient, for the list filter.
    by_to: HashMap<String, Vec<usize>>,
    /// Messages created per (to, body).
    sends: HashMap<(String, String), usize>,
    total_calls: usize,
    last: Option<RecordedRequest>,
    fail_recipients: HashMap<String, u32>,
    throttle_next: usize,
    error_next: usize,
    callbacks: bool,
    hold: bool,
}

impl FakeTwilio {
    pub async fn start() -> FakeTwilio {
        let account_sid = format!("AC{:032x}", rand::random::<u128>());
        let auth_token = format!("{:032x}", rand::random::<u128>());
        let shared = Arc::new(Shared {
            account_sid: account_sid.clone(),
            auth_token: auth_token.clone(),
            credentials: format!("{account_sid}:{auth_token}"),
            http: reqwest::Client::new(),
            state: Mutex::new(Inner::default()),
        });
        let app = Router::new()
            .route("/2010-04-01/Accounts/{account}/Messages.json", get(list).post(create))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake Twilio");
        let base_url = format!("http://{}", listener.local_addr().expect("fake Twilio address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake Twilio server") });
        FakeTwilio { base_url, account_sid, auth_token, shared }
    }

    /// A client with this fake's address and credentials.
    pub fn client(&self, status_callback: Option<String>) -> TwilioClient {
        TwilioClient::new(reqwest::Client::new(), &self.base_url, &self.account_sid, &self.auth_token, status_callback)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.state.lock().expect("fake Twilio state")
    }

    /// Every send to `to` fails with this Twilio error code (e.g. 21610, 21211), HTTP 400.
    pub fn fail_recipient(&self, to: &str, code: u32) {
        self.state().fail_recipients.insert(to.to_string(), code);
    }

    /// The next `n` requests get 429 with `Retry-After: 1` (code 20429).
    pub fn throttle_next(&self, n: usize) {
        self.state().throttle_next = n;
    }

    /// The next `n` requests get 500 (code 20500).
    pub fn fail_next(&self, n: usize) {
        self.state().error_next = n;
    }

    /// Whether to post signed `sent` then `delivered` callbacks to each message's `StatusCallback`.
    pub fn send_status_callbacks(&self, on: bool) {
        self.state().callbacks = on;
    }

    /// Whether new messages stay `queued` (no `date_sent`), as under a busy sender's rate limit.
    pub fn hold_in_queue(&self, on: bool) {
        self.state().hold = on;
    }

    /// Messages created for (to, body): more than one is a duplicate send.
    pub fn calls_for(&self, to: &str, body: &str) -> usize {
        self.state().sends.get(&(to.to_string(), body.to_string())).copied().unwrap_or(0)
    }

    /// Every create request received, including the refused and failed ones.
    pub fn total_calls(&self) -> usize {
        self.state().total_calls
    }

    /// (to, body, count) for every pair created more than once.
    pub fn duplicates(&self) -> Vec<(String, String, usize)> {
        let state = self.state();
        state.sends.iter().filter(|(_, n)| **n > 1).map(|((to, body), n)| (to.clone(), body.clone(), *n)).collect()
    }

    pub fn messages(&self) -> Vec<FakeMessage> {
        self.state().messages.clone()
    }

    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.state().last.clone()
    }
}

/// Twilio's REST error body. `more_info` links the code's page of the error dictionary.
fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

/// The refusal, unless the request has Basic auth with this account's SID and token and the
/// same account in its path.
fn refusal(shared: &Shared, headers: &HeaderMap, account: &str) -> Option<Response> {
    let decoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok());
    if decoded.as_deref() != Some(shared.credentials.as_bytes()) {
        // Wording guessed from Twilio's answer to bad credentials.
        let mut res = error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Twilio API\""));
        return Some(res);
    }
    (account != shared.account_sid).then(|| error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found"))
}

/// E.164: `+`, then up to 15 digits, the first not 0. Fewer than 7 is no real number.
fn e164_like(n: &str) -> bool {
    n.strip_prefix('+').is_some_and(|d| {
        (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// GSM-7 bodies take 160 characters a segment (153 when split), others 70 (67): an
/// approximation that counts non-ASCII as UCS-2 and ignores GSM-7's escaped characters.
fn segments(body: &str) -> usize {
    let (single, multi, len) =
        if body.is_ascii() { (160, 153, body.len()) } else { (70, 67, body.encode_utf16().count()) };
    if len <= single { 1 } else { len.div_ceil(multi) }
}

fn messages_uri(account: &str) -> String {
    format!("/{API_VERSION}/Accounts/{account}/Messages.json")
}

/// The Message resource as Twilio renders it (JSON, dates in RFC 2822).
fn resource(m: &FakeMessage, account: &str, status: &str, date_sent: Option<DateTime<Utc>>) -> Value {
    let uri = format!("/{API_VERSION}/Accounts/{account}/Messages/{}.json", m.sid);
    json!({
        "account_sid": account,
        "api_version": API_VERSION,
        "body": m.body,
        "date_created": m.date_created.to_rfc2822(),
        "date_sent": date_sent.map(|d| d.to_rfc2822()),
        "date_updated": date_sent.unwrap_or(m.date_created).to_rfc2822(),
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": m.from,
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": segments(&m.body).to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": m.sid,
        "status": status,
        // Guessed: the sub-resources' links.
        "subresource_uris": {
            "media": format!("/{API_VERSION}/Accounts/{account}/Messages/{}/Media.json", m.sid),
            "feedback": format!("/{API_VERSION}/Accounts/{account}/Messages/{}/Feedback.json", m.sid),
        },
        "to": m.to,
        "uri": uri,
    })
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// POST Messages.json: sends a message.
async fn create(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).map(str::to_string);
    let mut state = shared.state.lock().expect("fake Twilio state");
    state.total_calls += 1;
    let to = param(&params, "To").unwrap_or_default().to_string();
    let from = param(&params, "From").unwrap_or_default().to_string();
    let body = param(&params, "Body").map(str::to_string);
    let status_callback = param(&params, "StatusCallback").map(str::to_string);
    state.last = Some(RecordedRequest { params, authorization });
    if let Some(res) = refusal(&shared, &headers, &account) {
        return res;
    }
    if state.error_next > 0 {
        state.error_next -= 1;
        return error(StatusCode::INTERNAL_SERVER_ERROR, 20500, "An internal server error has occurred");
    }
    if state.throttle_next > 0 {
        state.throttle_next -= 1;
        let mut res = error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return res;
    }
    // Wording of 21604, 21603 and 21602 guessed; 21211's is Twilio's.
    if to.is_empty() {
        return error(StatusCode::BAD_REQUEST, 21604, "A 'To' phone number is required.");
    }
    if from.is_empty() {
        return error(StatusCode::BAD_REQUEST, 21603, "A 'From' phone number is required.");
    }
    if !e164_like(&to) {
        return error(StatusCode::BAD_REQUEST, 21211, &format!("The 'To' number {to} is not a valid phone number."));
    }
    let Some(body) = body.filter(|b| !b.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    };
    if let Some(&code) = state.fail_recipients.get(&to) {
        let message = match code {
            21610 => "Attempt to send to unsubscribed recipient".to_string(),
            21211 => format!("The 'To' number {to} is not a valid phone number."),
            21614 => format!("'To' number {to} is not a valid mobile number"),
            _ => format!("Message to {to} refused"),
        };
        return error(StatusCode::BAD_REQUEST, code, &message);
    }

    let now = Utc::now();
    let held = state.hold;
    let message = FakeMessage {
        sid: format!("SM{:032x}", rand::random::<u128>()),
        to,
        from,
        body,
        status: if held { "queued" } else { "sent" }.to_string(),
        date_created: now,
        date_sent: (!held).then_some(now),
        status_callback,
    };
    // Twilio answers a create before the message leaves its queue: `queued`, no `date_sent`.
    let answer = resource(&message, &shared.account_sid, "queued", None);
    let index = state.messages.len();
    *state.sends.entry((message.to.clone(), message.body.clone())).or_default() += 1;
    state.by_to.entry(message.to.clone()).or_default().push(index);
    let callback = message.status_callback.clone().filter(|_| state.callbacks && !held);
    if let Some(url) = callback {
        tokio::spawn(post_callbacks(shared.clone(), index, url, message.clone()));
    }
    // The callback task waits for the lock, so it sees the message stored.
    state.messages.push(message);
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// Posts `sent` then `delivered` for one message, signed as Twilio signs them. The fields are
/// those Twilio documents for a message status callback.
async fn post_callbacks(shared: Arc<Shared>, index: usize, url: String, m: FakeMessage) {
    for status in ["sent", "delivered"] {
        let params: Vec<(String, String)> = [
            ("AccountSid", shared.account_sid.as_str()),
            ("ApiVersion", API_VERSION),
            ("From", m.from.as_str()),
            ("MessageSid", m.sid.as_str()),
            ("MessageStatus", status),
            ("SmsSid", m.sid.as_str()),
            ("SmsStatus", status),
            ("To", m.to.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signed = signature(&shared.auth_token, &url, &params);
        shared.state.lock().expect("fake Twilio state").messages[index].status = status.to_string();
        // Twilio does not retry a failed status callback either.
        let _ = shared.http.post(&url).header("X-Twilio-Signature", signed).form(&params).send().await;
    }
}

/// GET Messages.json: newest first (guessed), filtered, one page. The paging URIs carry the
/// filters with `Page` and `PageSize` (Twilio's also carry a `PageToken`: guessed away).
async fn list(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(res) = refusal(&shared, &headers, &account) {
        return res;
    }
    let date_sent = match q.get("DateSent").map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d")) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, 20001, "Invalid DateSent"),
    };
    let page: usize = q.get("Page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let page_size: usize = q.get("PageSize").and_then(|p| p.parse().ok()).unwrap_or(50).clamp(1, 1000);
    let to = q.get("To");
    let from = q.get("From");

    let state = shared.state.lock().expect("fake Twilio state");
    let keep = |m: &&FakeMessage| {
        from.is_none_or(|f| &m.from == f)
            && date_sent.is_none_or(|d| m.date_sent.is_some_and(|s| s.date_naive() == d))
    };
    let candidates: Box<dyn Iterator<Item = &FakeMessage>> = match to {
        Some(to) => Box::new(state.by_to.get(to).into_iter().flatten().rev().map(|&i| &state.messages[i])),
        None => Box::new(state.messages.iter().rev()),
    };
    let mut rows: Vec<&FakeMessage> = candidates.filter(keep).skip(page * page_size).take(page_size + 1).collect();
    let more = rows.len() > page_size;
    rows.truncate(page_size);
    let messages: Vec<Value> = rows.iter().map(|m| resource(m, &account, &m.status, m.date_sent)).collect();

    let mut filters: Vec<(&str, &str)> = Vec::new();
    for name in ["To", "From", "DateSent"] {
        if let Some(v) = q.get(name) {
            filters.push((name, v));
        }
    }
    let uri = |p: usize| page_uri(&account, &filters, p, page_size);
    let start = page * page_size;
    let body = json!({
        "end": start + rows.len().saturating_sub(1),
        "first_page_uri": uri(0),
        "messages": messages,
        "next_page_uri": more.then(|| uri(page + 1)),
        "page": page,
        "page_size": page_size,
        "previous_page_uri": (page > 0).then(|| uri(page - 1)),
        "start": start,
        "uri": uri(page),
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// A list URI relative to the API's base, query form-encoded.
fn page_uri(account: &str, filters: &[(&str, &str)], page: usize, page_size: usize) -> String {
    let mut url = reqwest::Url::parse("http://fake.invalid").expect("a fixed URL");
    url.set_path(&messages_uri(account));
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in filters {
            q.append_pair(k, v);
        }
        q.append_pair("PageSize", &page_size.to_string());
        q.append_pair("Page", &page.to_string());
    }
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}
