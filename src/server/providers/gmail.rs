//! The Gmail API, as a BDR's connected Google account: sending their campaign email and
//! replies (`users.messages.send`, the RFC 5322 message base64url-encoded), and reading
//! their mailbox for the sync (`users.getProfile`, `users.history.list`,
//! `users.messages.list`, `users.messages.get?format=raw`).
//! <https://developers.google.com/gmail/api/reference/rest/v1/users.messages/send>,
//! <https://developers.google.com/gmail/api/reference/rest/v1/users.history/list>.
//! Errors are JSON `{"error": {"code", "message", "status"}}`; a `startHistoryId` too old to
//! list from is a 404.
use super::{Accepted, Outgoing, Reconciled, SendError, request_error, retry_after, root_cause};
use crate::server::gmail::{GoogleAuth, TokenError};
use crate::server::{conversations, providers::smtp};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

/// One mailbox, with a valid access token.
pub struct Mailbox<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a str,
    pub token: &'a str,
}

/// Why a mailbox call failed.
#[derive(Debug)]
pub enum ApiError {
    /// 401: the access token is no longer good.
    Unauthorized,
    /// 404: e.g. a history id too old to list from.
    NotFound,
    /// 429, 5xx, the network: try again later.
    Transient(String),
    Other(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unauthorized => f.write_str("Gmail refused the access token"),
            ApiError::NotFound => f.write_str("Gmail found nothing there"),
            ApiError::Transient(m) | ApiError::Other(m) => f.write_str(m),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub email_address: String,
    pub history_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRef {
    pub id: String,
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub label_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    #[serde(default)]
    pub history: Vec<HistoryRecord>,
    pub history_id: Option<String>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRecord {
    #[serde(default)]
    pub messages_added: Vec<Added>,
}

#[derive(Debug, Deserialize)]
pub struct Added {
    pub message: MessageRef,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPage {
    #[serde(default)]
    pub messages: Vec<MessageRef>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawMessage {
    pub id: String,
    pub thread_id: String,
    #[serde(default)]
    pub label_ids: Vec<String>,
    pub raw: String,
}

impl RawMessage {
    /// The RFC 5322 bytes (Gmail pads its base64url; accept either).
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        URL_SAFE.decode(self.raw.trim()).or_else(|_| URL_SAFE_NO_PAD.decode(self.raw.trim().trim_end_matches('='))).map_err(|e| format!("message {}: {e}", self.id))
    }
}

impl Mailbox<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}/gmail/v1/users/me/{path}", self.base)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, ApiError> {
        let res = self.http.get(self.url(path)).bearer_auth(self.token).query(query).send().await;
        let res = res.map_err(|e| ApiError::Transient(format!("Gmail could not be reached: {}", root_cause(&e))))?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| ApiError::Transient(format!("Gmail's answer was cut off: {}", root_cause(&e))))?;
        match status {
            s if s.is_success() => serde_json::from_slice(&body).map_err(|e| ApiError::Other(format!("Gmail's answer was not understood: {e}"))),
            StatusCode::UNAUTHORIZED => Err(ApiError::Unauthorized),
            StatusCode::NOT_FOUND => Err(ApiError::NotFound),
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => Err(ApiError::Transient(describe(s, &body))),
            s => Err(ApiError::Other(describe(s, &body))),
        }
    }

    pub async fn profile(&self) -> Result<Profile, ApiError> {
        self.get("profile", &[]).await
    }

    pub async fn history(&self, start: &str, page: Option<&str>) -> Result<HistoryPage, ApiError> {
        let mut q = vec![("startHistoryId", start), ("historyTypes", "messageAdded")];
        q.extend(page.map(|p| ("pageToken", p)));
        self.get("history", &q).await
    }

    pub async fn list(&self, search: &str, page: Option<&str>) -> Result<ListPage, ApiError> {
        let mut q = vec![("q", search)];
        q.extend(page.map(|p| ("pageToken", p)));
        self.get("messages", &q).await
    }

    pub async fn raw(&self, id: &str) -> Result<RawMessage, ApiError> {
        self.get(&format!("messages/{id}"), &[("format", "raw")]).await
    }
}

/// Gmail's `{"error": {"code", "message", "status"}}` as one line.
fn describe(status: StatusCode, body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let e = &v["error"];
    match (e["message"].as_str(), e["status"].as_str()) {
        (Some(m), Some(s)) => format!("Gmail (HTTP {}, {s}): {m}", status.as_u16()),
        (Some(m), None) => format!("Gmail (HTTP {}): {m}", status.as_u16()),
        _ => format!("Gmail answered HTTP {}", status.as_u16()),
    }
}

/// Campaign email and replies through a user's Google account.
pub struct GmailSender {
    pub auth: Arc<GoogleAuth>,
    pub user_id: Uuid,
}

impl GmailSender {
    pub fn name(&self) -> &'static str {
        "gmail"
    }

    pub async fn send(&self, m: &Outgoing) -> Result<Accepted, SendError> {
        let pool = self.auth.pool();
        // A reply goes on in the thread of the contact's last email, answering it.
        let answering = conversations::email_answered(pool, m.id).await.map_err(|e| SendError::Transient { message: e.error, retry_after: None })?;
        let mut headers = m.headers.clone();
        if let Some(a) = &answering {
            if let Some(id) = &a.message_id_header {
                headers.push(("In-Reply-To".into(), id.clone()));
                headers.push(("References".into(), id.clone()));
            }
        }
        let message = smtp::build(&Outgoing { headers, ..m.clone() })?;
        let raw = URL_SAFE_NO_PAD.encode(message.formatted());
        let mut body = serde_json::json!({ "raw": raw });
        if let Some(thread) = answering.and_then(|a| a.thread_id) {
            body["threadId"] = thread.into();
        }
        let sent: MessageRef = self.call_with_refresh(|token| {
            let body = body.clone();
            let url = format!("{}/gmail/v1/users/me/messages/send", self.auth.api_base());
            async move { self.auth.http().post(url).bearer_auth(token).json(&body).send().await }
        })
        .await?;
        if let Some(thread) = &sent.thread_id {
            conversations::set_thread(pool, m.id, thread).await.map_err(|e| SendError::Ambiguous { message: e.error })?;
        }
        Ok(Accepted { provider_id: sent.id, status: Some("sent".into()) })
    }

    /// Asks the mailbox for a sent message with our Message-ID.
    pub async fn reconcile(&self, m: &Outgoing) -> Reconciled {
        let id = smtp::message_id(m.id, &m.from);
        let token = match self.auth.token(self.user_id, false).await {
            Ok(t) => t,
            Err(e) => return Reconciled::Unknown(e.to_string()),
        };
        let mailbox = Mailbox { http: self.auth.http(), base: self.auth.api_base(), token: &token };
        let query = format!("rfc822msgid:{} in:sent", id.trim_matches(['<', '>']));
        match mailbox.list(&query, None).await {
            Ok(page) => match page.messages.into_iter().next() {
                Some(found) => {
                    if let Some(thread) = &found.thread_id {
                        if let Err(e) = conversations::set_thread(self.auth.pool(), m.id, thread).await {
                            return Reconciled::Unknown(e.error);
                        }
                    }
                    Reconciled::Sent(Accepted { provider_id: found.id, status: Some("sent".into()) })
                }
                None => Reconciled::NotSent,
            },
            Err(e) => Reconciled::Unknown(format!("Gmail could not be asked: {e}")),
        }
    }

    /// One API call with the user's access token; a 401 refreshes it and tries once more.
    async fn call_with_refresh<F, Fut, T>(&self, call: F) -> Result<T, SendError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
        T: serde::de::DeserializeOwned,
    {
        let mut refreshed = false;
        loop {
            let token = self.auth.token(self.user_id, refreshed).await.map_err(token_error)?;
            let res = call(token).await.map_err(|e| request_error("Gmail", &e))?;
            let status = res.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                continue;
            }
            let wait = retry_after(res.headers());
            let body = res.bytes().await.map_err(|e| SendError::Ambiguous {
                message: format!("Gmail's answer was cut off ({}); the email may have been sent", root_cause(&e)),
            })?;
            if status.is_success() {
                return serde_json::from_slice(&body).map_err(|e| SendError::Ambiguous { message: format!("Gmail's answer was not understood ({e}); the email may have been sent") });
            }
            let message = describe(status, &body);
            return Err(if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                SendError::Transient { message, retry_after: wait }
            } else {
                SendError::Permanent { message, code: Some(status.as_u16().to_string()), suppress: false }
            });
        }
    }
}

fn token_error(e: TokenError) -> SendError {
    match e {
        TokenError::Transient(message) => SendError::Transient { message, retry_after: None },
        other => SendError::Permanent { message: other.to_string(), code: None, suppress: false },
    }
}
