//! A fake of Google on loopback, for the Gmail tests: one server that is both Google's OAuth
//! 2.0 authorization server (authorize, token, revoke) and the Gmail API of one mailbox.
//!
//! It speaks the documented formats:
//! - OAuth 2.0 for web server applications
//!   (<https://developers.google.com/identity/protocols/oauth2/web-server>): the authorization
//!   request's parameters (`client_id`, `redirect_uri`, `response_type=code`, `scope`,
//!   `state`, `code_challenge`, `code_challenge_method`, `access_type=offline`, `prompt`), the
//!   redirect back with `code` and `state`; the code exchange (form POST to the token
//!   endpoint: `code`, `client_id`, `client_secret`, `redirect_uri`,
//!   `grant_type=authorization_code`, `code_verifier`) answered with `access_token`,
//!   `expires_in` (3599), `refresh_token` (only with `access_type=offline`), `scope`,
//!   `token_type` (`Bearer`); the refresh (`grant_type=refresh_token`, answered without a new
//!   refresh token); the revocation (`POST /revoke`, `token=` in the query or the form body,
//!   200 on success); a refused grant is 400 `{"error": "invalid_grant"}`. PKCE's S256 is
//!   RFC 7636: `BASE64URL(SHA256(code_verifier)) == code_challenge`;
//! - the client's authentication at the token endpoint: HTTP Basic (RFC 6749 §2.3.1, the id
//!   and secret form-urlencoded first) or `client_id`/`client_secret` in the form; both taken;
//! - Gmail: `users.getProfile` (`emailAddress`, `messagesTotal`, `threadsTotal`,
//!   `historyId`), <https://developers.google.com/gmail/api/reference/rest/v1/users/getProfile>;
//!   `users.messages.send` (`{"raw": base64url RFC 2822, "threadId"?}` → the Message resource
//!   `id`, `threadId`, `labelIds: ["SENT"]`),
//!   <https://developers.google.com/gmail/api/reference/rest/v1/users.messages/send>;
//!   `users.history.list` (`startHistoryId`, `historyTypes`, `pageToken`, `maxResults` →
//!   `history[]` of `{id, messages, messagesAdded: [{message}]}`, `nextPageToken`,
//!   `historyId`; a `startHistoryId` out of date is 404, then a full sync is needed),
//!   <https://developers.google.com/gmail/api/reference/rest/v1/users.history/list>;
//!   `users.messages.list` (`q`, `pageToken`, `maxResults` → `messages[]` of `{id, threadId}`,
//!   `nextPageToken`, `resultSizeEstimate`),
//!   <https://developers.google.com/gmail/api/reference/rest/v1/users.messages/list>;
//!   `users.messages.get?format=raw` (`id`, `threadId`, `labelIds`, `snippet`, `historyId`,
//!   `internalDate` (epoch ms, a string), `sizeEstimate`, `raw`),
//!   <https://developers.google.com/gmail/api/reference/rest/v1/users.messages/get>;
//! - Google's JSON error body `{"error": {"code", "message", "status"}}`
//!   (<https://cloud.google.com/apis/design/errors>).
//!
//! Marked "guessed" below: details the documentation did not show, written from memory of
//! Google's answers (exact wordings, the shape of message and thread ids, by how much the
//! history id moves, page-token formats, that empty lists leave their field out, the padding
//! of `raw`). The fake is stricter than Google in one way on purpose: its authorization step
//! requires PKCE (S256), so a connection that works here proves the app sends it.
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use turnout::server::settings::Settings;

/// The scopes the app must ask for.
pub const SCOPES: &str = "https://www.googleapis.com/auth/gmail.send https://www.googleapis.com/auth/gmail.readonly";

/// A message in the mailbox (received, or sent through the API).
#[derive(Debug, Clone)]
pub struct Mail {
    pub id: String,
    pub thread_id: String,
    pub label_ids: Vec<String>,
    /// The history record that added it.
    pub history_id: u64,
    /// Epoch milliseconds.
    pub internal_date: i64,
    pub raw: Vec<u8>,
}

/// A message the app sent through `users.messages.send`, decoded and its headers read.
#[derive(Debug, Clone, Default)]
pub struct SentMail {
    pub id: String,
    pub thread_id: String,
    /// The `threadId` of the request, if any.
    pub requested_thread_id: Option<String>,
    /// The decoded RFC 5322 text.
    pub raw: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub subject: Option<String>,
    /// With its angle brackets, as in the header.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    pub list_unsubscribe: Option<String>,
    pub list_unsubscribe_post: Option<String>,
    /// The decoded text/plain body.
    pub text: String,
    pub authorization: Option<String>,
}

/// One request to the token endpoint, as received, with the status answered.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub params: Vec<(String, String)>,
    /// `Authorization: Basic` decoded to (client id, secret).
    pub basic: Option<(String, String)>,
    pub status: u16,
}

impl TokenRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    offline: bool,
    used: bool,
}

#[derive(Default)]
struct Inner {
    authorize_requests: Vec<Vec<(String, String)>>,
    grants: HashMap<String, Grant>,
    token_requests: Vec<TokenRequest>,
    /// Access token → expired?
    access: HashMap<String, bool>,
    /// Refresh token → revoked?
    refresh: HashMap<String, bool>,
    revocations: Vec<String>,
    mailbox: Vec<Mail>,
    /// (history id, index into `mailbox`): one `messageAdded` record each.
    history: Vec<(u64, usize)>,
    /// History ids at or below this are gone: listing from them is 404.
    history_floor: u64,
    current_history: u64,
    next_id: u64,
    sent: Vec<SentMail>,
    send_requests: usize,
    unauthorized: usize,
    calls: HashMap<&'static str, usize>,
    page_size: usize,
    fail_sends: usize,
}

struct Shared {
    client_id: String,
    client_secret: String,
    email: String,
    state: Mutex<Inner>,
}

pub struct FakeGoogle {
    /// E.g. `http://127.0.0.1:41234`: the app's `gmail_api_base`; `/authorize`, `/token` and
    /// `/revoke` under it are the OAuth endpoints.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// The connected mailbox's address.
    pub email: String,
    shared: Arc<Shared>,
}

impl FakeGoogle {
    pub async fn start() -> FakeGoogle {
        Self::start_for("ana.ruiz.events@gmail.com").await
    }

    pub async fn start_for(email: &str) -> FakeGoogle {
        let client_id = format!("{}-fake.apps.googleusercontent.com", rand::random::<u32>());
        let client_secret = format!("GOCSPX-{:024x}", rand::random::<u128>() >> 32);
        let shared = Arc::new(Shared {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            email: email.to_string(),
            state: Mutex::new(Inner {
                // Guessed: a real mailbox's history ids are large and move by irregular steps.
                current_history: 1_234_000,
                next_id: 0x18e4_a7c0_0000_0000,
                page_size: 100,
                ..Inner::default()
            }),
        });
        let app = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/gmail/v1/users/{user}/profile", get(profile))
            .route("/gmail/v1/users/{user}/messages/send", post(send))
            .route("/gmail/v1/users/{user}/messages", get(list))
            .route("/gmail/v1/users/{user}/messages/{id}", get(get_message))
            .route("/gmail/v1/users/{user}/history", get(history))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake Google");
        let base_url = format!("http://{}", listener.local_addr().expect("fake Google address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake Google server") });
        FakeGoogle { base_url, client_id, client_secret, email: email.to_string(), shared }
    }

    /// Points the app's Google settings at this fake.
    pub fn configure(&self, s: &mut Settings) {
        s.google_client_id = self.client_id.clone();
        s.google_client_secret = self.client_secret.clone();
        s.google_auth_url = format!("{}/authorize", self.base_url);
        s.google_token_url = format!("{}/token", self.base_url);
        s.google_revoke_url = format!("{}/revoke", self.base_url);
        s.gmail_api_base = self.base_url.clone();
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.state.lock().expect("fake Google state")
    }

    // --- tokens -------------------------------------------------------------------------

    /// Every access token issued so far stops working (as after its hour): Gmail answers 401.
    pub fn expire_access_tokens(&self) {
        self.state().access.values_mut().for_each(|expired| *expired = true);
    }

    /// Every refresh token is revoked (the user removed the app's access, or changed their
    /// password): refreshing is `invalid_grant`, and the access tokens stop working too.
    pub fn revoke_refresh_tokens(&self) {
        let mut s = self.state();
        s.refresh.values_mut().for_each(|revoked| *revoked = true);
        s.access.values_mut().for_each(|expired| *expired = true);
    }

    /// The plain tokens issued so far: (access tokens, refresh tokens).
    pub fn issued_tokens(&self) -> (Vec<String>, Vec<String>) {
        let s = self.state();
        (s.access.keys().cloned().collect(), s.refresh.keys().cloned().collect())
    }

    pub fn authorize_requests(&self) -> Vec<Vec<(String, String)>> {
        self.state().authorize_requests.clone()
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.state().token_requests.clone()
    }

    /// Token requests with this `grant_type` (`authorization_code`, `refresh_token`).
    pub fn token_requests_of(&self, grant_type: &str) -> Vec<TokenRequest> {
        self.token_requests().into_iter().filter(|r| r.param("grant_type") == Some(grant_type)).collect()
    }

    /// Tokens posted to `/revoke`, in order.
    pub fn revocations(&self) -> Vec<String> {
        self.state().revocations.clone()
    }

    // --- the mailbox --------------------------------------------------------------------

    /// Mail arrives: `raw` is the RFC 5322 text (LF or CRLF line ends), `thread` the Gmail
    /// thread it joins (None: Gmail's own threading, which here means the thread of a message
    /// it answers by `In-Reply-To`/`References`, else a new one). Returns its Gmail id.
    pub fn deliver(&self, raw: &str, thread: Option<&str>) -> String {
        let raw = crlf(raw);
        let mut s = self.state();
        let thread = thread.map(str::to_string).or_else(|| thread_answered(&s.mailbox, raw.as_bytes()));
        add_mail(&mut s, raw.into_bytes(), thread, vec!["INBOX".into(), "CATEGORY_PERSONAL".into(), "UNREAD".into()])
    }

    /// History at or before the current point is forgotten (Gmail keeps about a week): an
    /// incremental sync from a stored id gets 404 and must start over.
    pub fn forget_history(&self) {
        let mut s = self.state();
        s.history_floor = s.current_history;
    }

    /// How many results a page of `history.list` and `messages.list` holds (Gmail: 100).
    pub fn page_size(&self, n: usize) {
        self.state().page_size = n.max(1);
    }

    /// The next `n` sends get 500 (nothing sent).
    pub fn fail_sends(&self, n: usize) {
        self.state().fail_sends = n;
    }

    pub fn mailbox(&self) -> Vec<Mail> {
        self.state().mailbox.clone()
    }

    /// What the app sent, in order.
    pub fn sent(&self) -> Vec<SentMail> {
        self.state().sent.clone()
    }

    /// Send requests received, including those answered 401 or 500.
    pub fn send_requests(&self) -> usize {
        self.state().send_requests
    }

    /// Gmail API requests answered 401.
    pub fn unauthorized(&self) -> usize {
        self.state().unauthorized
    }

    /// Gmail API calls by method: `profile`, `send`, `history`, `list`, `get`.
    pub fn calls(&self, method: &str) -> usize {
        self.state().calls.get(method).copied().unwrap_or(0)
    }

    /// The current history id, as the profile says it.
    pub fn history_id(&self) -> u64 {
        self.state().current_history
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn crlf(raw: &str) -> String {
    raw.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// A header's unfolded value in the raw text's header block.
fn header_of(raw: &[u8], name: &str) -> Option<String> {
    let m = mail_parser::MessageParser::default().parse(raw)?;
    m.header_raw(name).map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The thread of a mailbox message that `raw` answers (its `In-Reply-To`/`References` name
/// that message's `Message-ID`).
fn thread_answered(mailbox: &[Mail], raw: &[u8]) -> Option<String> {
    let refs = [header_of(raw, "In-Reply-To"), header_of(raw, "References")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    if refs.is_empty() {
        return None;
    }
    mailbox.iter().rev().find_map(|m| {
        let id = header_of(&m.raw, "Message-ID")?;
        refs.contains(id.trim()).then(|| m.thread_id.clone())
    })
}

/// Adds a message and its history record; returns its id.
fn add_mail(s: &mut Inner, raw: Vec<u8>, thread: Option<String>, label_ids: Vec<String>) -> String {
    // Guessed: Gmail ids are 16 hex digits; a thread's id is its first message's id.
    s.next_id += 1 + u64::from(rand::random::<u8>());
    let id = format!("{:016x}", s.next_id);
    // Guessed: history ids move by more than one per change.
    s.current_history += 3 + u64::from(rand::random::<u8>() % 5);
    let history_id = s.current_history;
    let thread_id = thread.unwrap_or_else(|| id.clone());
    let index = s.mailbox.len();
    s.mailbox.push(Mail { id: id.clone(), thread_id, label_ids, history_id, internal_date: chrono::Utc::now().timestamp_millis(), raw });
    s.history.push((history_id, index));
    id
}

/// Google's JSON error body.
fn api_error(status: StatusCode, message: &str, reason: &str) -> Response {
    let body = json!({
        "error": {
            "code": status.as_u16(),
            "message": message,
            // Guessed: the legacy `errors` list Google still sends alongside.
            "errors": [{ "message": message, "domain": "global", "reason": reason }],
            "status": match status {
                StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
                StatusCode::NOT_FOUND => "NOT_FOUND",
                StatusCode::BAD_REQUEST => "INVALID_ARGUMENT",
                StatusCode::FORBIDDEN => "PERMISSION_DENIED",
                _ => "INTERNAL",
            },
        }
    });
    (status, Json(body)).into_response()
}

/// The OAuth error body of the token and revoke endpoints.
fn oauth_error(error: &str, description: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error, "error_description": description }))).into_response()
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

// --- OAuth --------------------------------------------------------------------------------

/// GET /authorize: the consent screen, consented at once. Redirects (302) to `redirect_uri`
/// with `code` and `state`. Invalid requests get Google's error page (400; wording guessed).
async fn authorize(State(shared): State<Arc<Shared>>, Query(params): Query<Vec<(String, String)>>) -> Response {
    let mut s = shared.state.lock().expect("fake Google state");
    s.authorize_requests.push(params.clone());
    let p = |n: &str| param(&params, n).unwrap_or_default().to_string();
    let refuse = |why: &str| (StatusCode::BAD_REQUEST, format!("Error 400: invalid_request\n{why}")).into_response();
    if p("client_id") != shared.client_id {
        return (StatusCode::UNAUTHORIZED, "Error 401: invalid_client\nThe OAuth client was not found.").into_response();
    }
    if p("response_type") != "code" {
        return refuse("Invalid response_type");
    }
    let redirect_uri = p("redirect_uri");
    if !redirect_uri.starts_with("http") {
        return refuse("Missing required parameter: redirect_uri");
    }
    let scope = p("scope");
    if scope.is_empty() {
        return refuse("Missing required parameter: scope");
    }
    // Stricter than Google: the app must use PKCE, with S256.
    if p("code_challenge_method") != "S256" || p("code_challenge").len() < 43 {
        return refuse("code_challenge and code_challenge_method=S256 are required");
    }
    let code = random_token("4/0A");
    s.grants.insert(code.clone(), Grant {
        client_id: p("client_id"),
        redirect_uri: redirect_uri.clone(),
        challenge: p("code_challenge"),
        scope,
        offline: p("access_type") == "offline",
        used: false,
    });
    let mut to = reqwest::Url::parse(&redirect_uri).expect("redirect_uri is a URL");
    to.query_pairs_mut().append_pair("state", &p("state")).append_pair("code", &code).append_pair("scope", &p("scope"));
    // Google answers the consent with a 302.
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

/// The client's credentials: Basic (form-urlencoded id and secret) or form fields.
fn client_of(headers: &HeaderMap, params: &[(String, String)]) -> (Option<(String, String)>, Option<(String, String)>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|d| {
            let (id, secret) = d.split_once(':')?;
            let dec = |v: &str| form_urlencoded::parse(format!("v={v}").as_bytes()).next().map(|(_, v)| v.into_owned());
            Some((dec(id)?, dec(secret)?))
        });
    let form = match (param(params, "client_id"), param(params, "client_secret")) {
        (Some(id), Some(secret)) => Some((id.to_string(), secret.to_string())),
        _ => None,
    };
    (basic, form)
}

/// POST /token: the code exchange and the refresh.
async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let params: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let (basic, form) = client_of(&headers, &params);
    let answer = token_answer(&shared, &params, basic.as_ref().or(form.as_ref()));
    let mut s = shared.state.lock().expect("fake Google state");
    s.token_requests.push(TokenRequest { params, basic, status: answer.status().as_u16() });
    answer
}

fn token_answer(shared: &Shared, params: &[(String, String)], client: Option<&(String, String)>) -> Response {
    if client != Some(&(shared.client_id.clone(), shared.client_secret.clone())) {
        // Google's answer to a wrong or missing client secret.
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_client", "error_description": "Unauthorized" }))).into_response();
    }
    let mut s = shared.state.lock().expect("fake Google state");
    match param(params, "grant_type") {
        Some("authorization_code") => {
            let code = param(params, "code").unwrap_or_default();
            let verifier = param(params, "code_verifier").unwrap_or_default();
            let Some(grant) = s.grants.get_mut(code) else {
                return oauth_error("invalid_grant", "Malformed auth code.");
            };
            if grant.used {
                return oauth_error("invalid_grant", "Bad Request");
            }
            grant.used = true;
            if grant.client_id != shared.client_id || param(params, "redirect_uri") != Some(grant.redirect_uri.as_str()) {
                return oauth_error("redirect_uri_mismatch", "Bad Request");
            }
            // RFC 7636 §4.6: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge.
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !(43..=128).contains(&verifier.len()) || computed != grant.challenge {
                return oauth_error("invalid_grant", "Invalid code verifier.");
            }
            let (scope, offline) = (grant.scope.clone(), grant.offline);
            let access = random_token("ya29.a0");
            s.access.insert(access.clone(), false);
            let mut body = json!({ "access_token": access, "expires_in": 3599, "scope": scope, "token_type": "Bearer" });
            if offline {
                let refresh = random_token("1//0g");
                s.refresh.insert(refresh.clone(), false);
                body["refresh_token"] = refresh.into();
            }
            (StatusCode::OK, Json(body)).into_response()
        }
        Some("refresh_token") => {
            let refresh = param(params, "refresh_token").unwrap_or_default();
            match s.refresh.get(refresh) {
                Some(false) => {
                    let access = random_token("ya29.a0");
                    s.access.insert(access.clone(), false);
                    // Google does not send a new refresh token with a refresh.
                    let body = json!({ "access_token": access, "expires_in": 3599, "scope": SCOPES, "token_type": "Bearer" });
                    (StatusCode::OK, Json(body)).into_response()
                }
                _ => oauth_error("invalid_grant", "Token has been expired or revoked."),
            }
        }
        _ => oauth_error("unsupported_grant_type", "Invalid grant_type"),
    }
}

/// POST /revoke: `token` in the query or the form body. Revoking a refresh token ends its
/// access tokens too (here: all of them).
async fn revoke(State(shared): State<Arc<Shared>>, Query(query): Query<Vec<(String, String)>>, body: String) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let Some(token) = param(&form, "token").or(param(&query, "token")).map(str::to_string) else {
        return oauth_error("invalid_request", "Missing required parameter: token");
    };
    let mut s = shared.state.lock().expect("fake Google state");
    s.revocations.push(token.clone());
    let known = s.access.contains_key(&token) || s.refresh.contains_key(&token);
    if let Some(revoked) = s.refresh.get_mut(&token) {
        *revoked = true;
        s.access.values_mut().for_each(|expired| *expired = true);
    }
    if let Some(expired) = s.access.get_mut(&token) {
        *expired = true;
    }
    if !known {
        // Guessed wording.
        return oauth_error("invalid_token", "Token expired or revoked");
    }
    (StatusCode::OK, Json(json!({}))).into_response()
}

// --- Gmail --------------------------------------------------------------------------------

/// The refusal unless the request carries a live access token for `me` (or the address).
fn refusal(shared: &Shared, s: &mut Inner, headers: &HeaderMap, user: &str, method: &'static str) -> Option<Response> {
    *s.calls.entry(method).or_default() += 1;
    let token = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer "));
    if token.and_then(|t| s.access.get(t.trim())) != Some(&false) {
        s.unauthorized += 1;
        let mut res = api_error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "authError",
        );
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""),
        );
        return Some(res);
    }
    (user != "me" && user != shared.email)
        .then(|| api_error(StatusCode::FORBIDDEN, "Delegation denied for the requested user", "forbidden"))
}

/// GET users/me/profile.
async fn profile(State(shared): State<Arc<Shared>>, Path(user): Path<String>, headers: HeaderMap) -> Response {
    let mut s = shared.state.lock().expect("fake Google state");
    if let Some(res) = refusal(&shared, &mut s, &headers, &user, "profile") {
        return res;
    }
    let threads: std::collections::HashSet<&str> = s.mailbox.iter().map(|m| m.thread_id.as_str()).collect();
    let body = json!({
        "emailAddress": shared.email,
        "messagesTotal": s.mailbox.len(),
        "threadsTotal": threads.len(),
        "historyId": s.current_history.to_string(),
    });
    (StatusCode::OK, Json(body)).into_response()
}

fn decode_raw(raw: &str) -> Option<Vec<u8>> {
    let t = raw.trim();
    URL_SAFE.decode(t).or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('='))).ok()
}

/// POST users/me/messages/send, JSON `{"raw", "threadId"?}`.
async fn send(State(shared): State<Arc<Shared>>, Path(user): Path<String>, headers: HeaderMap, body: String) -> Response {
    let mut s = shared.state.lock().expect("fake Google state");
    s.send_requests += 1;
    if let Some(res) = refusal(&shared, &mut s, &headers, &user, "send") {
        return res;
    }
    if s.fail_sends > 0 {
        s.fail_sends -= 1;
        return api_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error encountered.", "backendError");
    }
    let request: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, &format!("Invalid JSON payload received. {e}"), "parseError"),
    };
    let Some(bytes) = request["raw"].as_str().and_then(decode_raw) else {
        // Guessed wording.
        return api_error(StatusCode::BAD_REQUEST, "'raw' RFC822 payload message string or uploading message via /upload/* URL required", "invalidArgument");
    };
    let Some(parsed) = mail_parser::MessageParser::default().parse(&bytes) else {
        return api_error(StatusCode::BAD_REQUEST, "Invalid RFC822 payload", "invalidArgument");
    };
    let to = parsed.to().and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_string);
    if to.is_none() {
        return api_error(StatusCode::BAD_REQUEST, "Recipient address required", "invalidArgument");
    }
    let requested = request["threadId"].as_str().map(str::to_string);
    if let Some(t) = &requested {
        if !s.mailbox.iter().any(|m| &m.thread_id == t) {
            return api_error(StatusCode::NOT_FOUND, "Requested entity was not found.", "notFound");
        }
    }
    let h = |name: &str| parsed.header_raw(name).map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "));
    let mut sent = SentMail {
        requested_thread_id: requested.clone(),
        raw: String::from_utf8_lossy(&bytes).into_owned(),
        from: h("From"),
        to: h("To"),
        subject: parsed.subject().map(str::to_string),
        message_id: h("Message-ID"),
        in_reply_to: h("In-Reply-To"),
        references: h("References"),
        list_unsubscribe: h("List-Unsubscribe"),
        list_unsubscribe_post: h("List-Unsubscribe-Post"),
        text: parsed.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        authorization: headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string),
        ..SentMail::default()
    };
    // Gmail threads an API send only when told the thread (and the subject matches; not checked).
    let id = add_mail(&mut s, bytes.clone(), requested, vec!["SENT".into()]);
    let thread_id = s.mailbox.last().map(|m| m.thread_id.clone()).unwrap_or_default();
    sent.id = id.clone();
    sent.thread_id = thread_id.clone();
    s.sent.push(sent);
    (StatusCode::OK, Json(json!({ "id": id, "threadId": thread_id, "labelIds": ["SENT"] }))).into_response()
}

/// A page of `items` from `pageToken` (guessed: Google's tokens are opaque; an offset here).
fn page<T: Clone>(items: &[T], q: &HashMap<String, String>, default_size: usize) -> (Vec<T>, Option<String>) {
    let start: usize = q.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let size: usize = q.get("maxResults").and_then(|m| m.parse().ok()).unwrap_or(default_size).clamp(1, 500);
    let slice: Vec<T> = items.iter().skip(start).take(size).cloned().collect();
    let next = (start + size < items.len()).then(|| (start + size).to_string());
    (slice, next)
}

/// GET users/me/history?startHistoryId=&historyTypes=messageAdded&pageToken=.
async fn history(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = shared.state.lock().expect("fake Google state");
    if let Some(res) = refusal(&shared, &mut s, &headers, &user, "history") {
        return res;
    }
    let Some(start) = q.get("startHistoryId").and_then(|h| h.parse::<u64>().ok()) else {
        return api_error(StatusCode::BAD_REQUEST, "Invalid startHistoryId", "invalidArgument");
    };
    if start < s.history_floor {
        return api_error(StatusCode::NOT_FOUND, "Requested entity was not found.", "notFound");
    }
    let records: Vec<(u64, usize)> = s.history.iter().filter(|(h, _)| *h > start).copied().collect();
    let (records, next) = page(&records, &q, s.page_size);
    let history: Vec<Value> = records
        .iter()
        .map(|&(h, i)| {
            let m = &s.mailbox[i];
            json!({
                "id": h.to_string(),
                "messages": [{ "id": m.id, "threadId": m.thread_id }],
                "messagesAdded": [{ "message": { "id": m.id, "threadId": m.thread_id, "labelIds": m.label_ids } }],
            })
        })
        .collect();
    let mut body = json!({ "historyId": s.current_history.to_string() });
    // Guessed: an empty list is left out, as Google leaves out empty repeated fields.
    if !history.is_empty() {
        body["history"] = history.into();
    }
    if let Some(n) = next {
        body["nextPageToken"] = n.into();
    }
    (StatusCode::OK, Json(body)).into_response()
}

/// Whether a message matches a Gmail search: `newer_than:Nd`, `in:sent`, `in:inbox`,
/// `rfc822msgid:<id>`, `from:<address>`; other terms are not understood and match everything.
fn matches(m: &Mail, q: &str) -> bool {
    q.split_whitespace().all(|term| match term.split_once(':') {
        Some(("newer_than", n)) => {
            let days: i64 = n.trim_end_matches('d').parse().unwrap_or(0);
            m.internal_date >= chrono::Utc::now().timestamp_millis() - days * 86_400_000
        }
        Some(("in", "sent")) => m.label_ids.iter().any(|l| l == "SENT"),
        Some(("in", "inbox")) => m.label_ids.iter().any(|l| l == "INBOX"),
        Some(("rfc822msgid", id)) => {
            header_of(&m.raw, "Message-ID").is_some_and(|h| h.trim_matches(['<', '>']) == id.trim_matches(['<', '>']))
        }
        Some(("from", who)) => header_of(&m.raw, "From").is_some_and(|f| f.to_lowercase().contains(&who.to_lowercase())),
        _ => true,
    })
}

/// GET users/me/messages?q=&pageToken=: newest first.
async fn list(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = shared.state.lock().expect("fake Google state");
    if let Some(res) = refusal(&shared, &mut s, &headers, &user, "list") {
        return res;
    }
    let search = q.get("q").cloned().unwrap_or_default();
    let found: Vec<(String, String)> =
        s.mailbox.iter().rev().filter(|m| matches(m, &search)).map(|m| (m.id.clone(), m.thread_id.clone())).collect();
    let (rows, next) = page(&found, &q, s.page_size);
    let mut body = json!({ "resultSizeEstimate": found.len() });
    if !rows.is_empty() {
        body["messages"] = rows.iter().map(|(id, t)| json!({ "id": id, "threadId": t })).collect::<Vec<_>>().into();
    }
    if let Some(n) = next {
        body["nextPageToken"] = n.into();
    }
    (StatusCode::OK, Json(body)).into_response()
}

/// GET users/me/messages/{id}?format=raw.
async fn get_message(
    State(shared): State<Arc<Shared>>,
    Path((user, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = shared.state.lock().expect("fake Google state");
    if let Some(res) = refusal(&shared, &mut s, &headers, &user, "get") {
        return res;
    }
    let Some(m) = s.mailbox.iter().find(|m| m.id == id) else {
        return api_error(StatusCode::NOT_FOUND, "Requested entity was not found.", "notFound");
    };
    if q.get("format").map(String::as_str) != Some("raw") {
        // Only what the app asks for is spoken here.
        return api_error(StatusCode::BAD_REQUEST, "the fake serves format=raw only", "invalidArgument");
    }
    let snippet: String = mail_parser::MessageParser::default()
        .parse(&m.raw)
        .and_then(|p| p.body_preview(100).map(|t| t.into_owned()))
        .unwrap_or_default();
    let body = json!({
        "id": m.id,
        "threadId": m.thread_id,
        "labelIds": m.label_ids,
        "snippet": snippet,
        "sizeEstimate": m.raw.len(),
        "historyId": m.history_id.to_string(),
        "internalDate": m.internal_date.to_string(),
        // Guessed: padded base64url (the app must take either).
        "raw": URL_SAFE.encode(&m.raw),
    });
    (StatusCode::OK, Json(body)).into_response()
}
