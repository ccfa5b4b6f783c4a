//! SMS through Bonzo: `POST {BONZO_API_BASE}/v3/prospects/create-or-update-and-message` with
//! `Authorization: Bearer <API token>` creates the prospect (or updates the one with that
//! phone) from the contact and texts them in one call; Bonzo texts from the number of the
//! Bonzo user the token belongs to. Its event hooks post replies and delivery reports to
//! `/api/bonzo/webhook/{secret}`.
//!
//! What the stored documentation shows, and this module follows:
//! - the prospect object and the event envelope (`event`, `prospect`, `additional`,
//!   `resource`), from the event-hooks pages,
//!   <https://docs.getbonzo.com/event-hooks/available-events>: the prospect's `id`,
//!   `first_name`, `last_name`, `full_name`, `email`, `phone` in E.164 (`+12025051237`),
//!   `dnc`, and Laravel-style timestamps;
//! - the endpoint's path and bearer authentication, as the project's seed calls it.
//!
//! # Guessed
//!
//! Bonzo's public documentation shows neither this endpoint's fields nor any message event,
//! so everything below is a guess, and all of it is in this file:
//! - the API's base, `https://app.getbonzo.com/api` (the `BONZO_API_BASE` setting);
//! - the request: a JSON object of the prospect's fields as the event hooks name them
//!   (`first_name`, `last_name`, `email`, `phone` in E.164) and the text as `message`;
//!   Turnout's single `name` is split at the first space into first and last name;
//! - the answer (2xx): JSON with the prospect under `prospect` and the sent message under
//!   `message` (`{"prospect": {"id": 63}, "message": {"id": 991, "status": "queued"}}`),
//!   either possibly wrapped in `data`; ids numbers or strings. The message id is the
//!   message's `provider_message_id`; an answer without one is `Ambiguous`;
//! - errors, Laravel-style: `{"message": "...", "errors": {"phone": ["..."]}}`; 401/403 a
//!   bad token, 422 invalid fields, 429 (with `Retry-After`) and 502/503/504 turned away
//!   before the application; a 500 may come after the text was handed on, so it is
//!   `Ambiguous` (Bonzo cannot be asked about one message);
//! - the events (see [`Event::parse`]): message events named `messages.received` (a text
//!   from the prospect; `messages.inbound` and `messages.replied` too) and
//!   `messages.sent` / `messages.delivered` / `messages.failed` / `messages.undelivered`
//!   (a report on one of ours), with the message under `resource`: `id`, the text in
//!   `content` (or `body`, `message`), `from`, `to`, `error`; a received text
//!   without `from` is from the prospect's `phone`, one without `to` was written to the
//!   number Turnout records Bonzo texts as from ([`FROM_LABEL`] without an SMS number).
use super::{Accepted, Outgoing, Provider, Reconciled, SendError, request_error, retry_after, root_cause};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://app.getbonzo.com/api";
const PATH: &str = "/v3/prospects/create-or-update-and-message";
/// The From of texts sent through Bonzo by a user without an SMS number in Turnout: Bonzo
/// picks the number, so Turnout cannot name it.
pub const FROM_LABEL: &str = "Bonzo";

/// The contact as a Bonzo prospect.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prospect {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: String,
}

impl Prospect {
    /// "Ana María Ruiz" → ("Ana", "María Ruiz").
    pub fn new(name: &str, email: Option<String>, phone: &str) -> Self {
        let name = name.trim();
        let (first, last) = name.split_once(char::is_whitespace).unwrap_or((name, ""));
        Self { first_name: first.into(), last_name: last.trim().into(), email, phone: phone.into() }
    }
}

pub struct BonzoClient {
    http: reqwest::Client,
    url: String,
    token: String,
    /// Finds the contact a message is for, to create or update the prospect from.
    pool: PgPool,
}

impl BonzoClient {
    pub fn new(http: reqwest::Client, pool: PgPool, base_url: &str, token: String) -> Self {
        Self { http, url: format!("{}{PATH}", base_url.trim_end_matches('/')), token, pool }
    }

    /// Creates or updates the prospect and texts them `text`.
    pub async fn message(&self, p: &Prospect, text: &str) -> Result<Accepted, SendError> {
        let body = json!({
            "first_name": p.first_name,
            "last_name": p.last_name,
            "email": p.email,
            "phone": p.phone,
            "message": text,
        });
        let res = self.http.post(&self.url).bearer_auth(&self.token).json(&body).send().await.map_err(|e| request_error("Bonzo", &e))?;
        let status = res.status();
        let retry_after = retry_after(res.headers());
        let body = match res.bytes().await {
            Ok(body) => body,
            Err(e) if status.is_success() => {
                return Err(SendError::Ambiguous { message: format!("Bonzo's answer was cut off ({}); the text may have been sent", root_cause(&e)) });
            }
            Err(_) => Default::default(),
        };
        if status.is_success() {
            return sent(&body);
        }
        Err(classify(status, retry_after, &body))
    }
}

impl Provider for BonzoClient {
    fn name(&self) -> &'static str {
        "bonzo"
    }

    async fn send(&self, m: &Outgoing) -> Result<Accepted, SendError> {
        // A test send has no message row: the prospect is the number alone.
        let prospect = crate::server::contacts::prospect_of_message(&self.pool, m.id, &m.to).await.map_err(|e| SendError::Transient {
            message: format!("The contact could not be read for Bonzo: {}", e.error),
            retry_after: None,
        })?;
        self.message(&prospect, &m.body).await
    }

    async fn reconcile(&self, _m: &Outgoing) -> Reconciled {
        Reconciled::Unknown(
            "Bonzo cannot be asked whether it sent one text: look at the prospect's conversation in Bonzo before sending again".into(),
        )
    }
}

/// Bonzo's ids are numbers; strings are taken as they are.
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// The 2xx answer: the message's id (and first status).
fn sent(body: &[u8]) -> Result<Accepted, SendError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| SendError::Ambiguous { message: format!("Bonzo's answer was not understood ({e}); the text may have been sent") })?;
    let root = v.get("data").filter(|d| d.is_object()).unwrap_or(&v);
    let message = root.get("message").filter(|m| m.is_object());
    match message.and_then(|m| m.get("id")).and_then(id_of) {
        Some(id) => Ok(Accepted { provider_id: id, status: message.and_then(|m| m["status"].as_str()).map(str::to_string) }),
        None => Err(SendError::Ambiguous { message: format!("Bonzo answered without a message id: {}", one_line(body)) }),
    }
}

/// Laravel's error body.
#[derive(Deserialize, Default)]
struct ErrorBody {
    message: Option<String>,
    #[serde(default)]
    errors: std::collections::BTreeMap<String, Vec<String>>,
}

/// "Bonzo (HTTP 422): The phone must be a valid number."
fn describe(status: StatusCode, body: &[u8]) -> String {
    let e: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let details: Vec<&str> = e.errors.values().flatten().map(String::as_str).collect();
    let text = if details.is_empty() { e.message.unwrap_or_default() } else { details.join(" ") };
    match text.trim() {
        "" => format!("Bonzo answered HTTP {}", status.as_u16()),
        text => format!("Bonzo (HTTP {}): {text}", status.as_u16()),
    }
}

/// What an error answer means for the text.
fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> SendError {
    let message = describe(status, body);
    match status.as_u16() {
        // Turned away before the application: not taken.
        429 | 502 | 503 | 504 => SendError::Transient { message, retry_after },
        401 | 403 => SendError::Permanent {
            message: format!("Bonzo rejected the API token: check it in Settings › Bonzo ({message})"),
            code: Some(status.as_u16().to_string()),
            suppress: false,
        },
        // The application failed, perhaps after texting: never retried blindly.
        500..=599 => SendError::Ambiguous { message: format!("{message}; the text may have been sent") },
        400..=499 => SendError::Permanent { message, code: Some(status.as_u16().to_string()), suppress: false },
        _ => SendError::Ambiguous { message: format!("{message}; the text may have been sent") },
    }
}

fn one_line(body: &[u8]) -> String {
    String::from_utf8_lossy(body).split_whitespace().collect::<Vec<_>>().join(" ").chars().take(300).collect()
}

/// One event Bonzo posts, as far as Turnout acts on it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A text from a prospect.
    Received { id: String, from: String, to: String, body: String },
    /// A delivery report on a text Turnout sent: Turnout's delivery status (`sent`,
    /// `delivered`, `failed`, `undelivered`) and why it failed.
    Status { id: String, status: &'static str, error: Option<String> },
    /// Any other event (prospect created, updated...), named.
    Other(String),
}

#[derive(Deserialize)]
struct Envelope {
    event: String,
    #[serde(default)]
    prospect: Option<EventProspect>,
    #[serde(default)]
    resource: Option<Resource>,
}

#[derive(Deserialize)]
struct EventProspect {
    phone: Option<String>,
}

#[derive(Deserialize)]
struct Resource {
    id: Option<Value>,
    #[serde(alias = "body", alias = "message")]
    content: Option<String>,
    from: Option<String>,
    to: Option<String>,
    error: Option<String>,
}

impl Event {
    /// An event hook's JSON body.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let e: Envelope = serde_json::from_slice(body).map_err(|e| format!("not an event: {e}"))?;
        let name = e.event.trim().to_ascii_lowercase();
        let status = match name.as_str() {
            "messages.received" | "messages.inbound" | "messages.replied" => None,
            "messages.sent" => Some("sent"),
            "messages.delivered" => Some("delivered"),
            "messages.failed" => Some("failed"),
            "messages.undelivered" => Some("undelivered"),
            _ => return Ok(Event::Other(e.event)),
        };
        let r = e.resource.ok_or_else(|| format!("{name} without a resource"))?;
        let id = r.id.as_ref().and_then(id_of).ok_or_else(|| format!("{name} without a message id"))?;
        if let Some(status) = status {
            return Ok(Event::Status { id, status, error: r.error.filter(|e| !e.trim().is_empty()) });
        }
        let from = r.from.or(e.prospect.and_then(|p| p.phone)).filter(|f| !f.trim().is_empty()).ok_or_else(|| format!("{name} without a sender"))?;
        let to = r.to.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| FROM_LABEL.into());
        Ok(Event::Received { id, from, to, body: r.content.unwrap_or_default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_split_for_the_prospect() {
        let p = Prospect::new(" Ana María  Ruiz ", None, "+12025550100");
        assert_eq!((p.first_name.as_str(), p.last_name.as_str()), ("Ana", "María  Ruiz"));
        assert_eq!(Prospect::new("Cher", None, "+1").last_name, "");
    }

    #[test]
    fn answers_give_the_message_id() {
        assert_eq!(sent(br#"{"prospect": {"id": 63}, "message": {"id": 991, "status": "queued"}}"#).unwrap().provider_id, "991");
        assert_eq!(sent(br#"{"data": {"message": {"id": "m-7"}}}"#).unwrap().provider_id, "m-7");
        assert!(matches!(sent(br#"{"prospect": {"id": 63}}"#), Err(SendError::Ambiguous { .. })));
        assert!(matches!(sent(b"<html>"), Err(SendError::Ambiguous { .. })));
    }

    #[test]
    fn errors_are_classified() {
        let invalid = br#"{"message": "The given data was invalid.", "errors": {"phone": ["The phone must be a valid number."]}}"#;
        match classify(StatusCode::UNPROCESSABLE_ENTITY, None, invalid) {
            SendError::Permanent { message, code, suppress } => {
                assert_eq!(message, "Bonzo (HTTP 422): The phone must be a valid number.");
                assert_eq!((code.as_deref(), suppress), (Some("422"), false));
            }
            other => panic!("{other:?}"),
        }
        match classify(StatusCode::UNAUTHORIZED, None, br#"{"message": "Unauthenticated."}"#) {
            SendError::Permanent { message, .. } => assert!(message.starts_with("Bonzo rejected the API token"), "{message}"),
            other => panic!("{other:?}"),
        }
        let later = Some(Duration::from_secs(2));
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, later, br#"{"message": "Too Many Attempts."}"#),
            SendError::Transient { message: "Bonzo (HTTP 429): Too Many Attempts.".into(), retry_after: later }
        );
        assert!(matches!(classify(StatusCode::SERVICE_UNAVAILABLE, None, b""), SendError::Transient { .. }));
        assert!(matches!(classify(StatusCode::INTERNAL_SERVER_ERROR, None, b"Server Error"), SendError::Ambiguous { .. }));
    }

    #[test]
    fn events_are_read() {
        let received = br#"{"event": "messages.received", "prospect": {"id": 63, "phone": "+12025051237"},
                            "resource": {"id": 1234, "content": "YES", "to": "+12025550001"}}"#;
        assert_eq!(
            Event::parse(received).unwrap(),
            Event::Received { id: "1234".into(), from: "+12025051237".into(), to: "+12025550001".into(), body: "YES".into() }
        );
        let delivered = br#"{"event": "messages.delivered", "resource": {"id": "991", "status": "delivered"}}"#;
        assert_eq!(Event::parse(delivered).unwrap(), Event::Status { id: "991".into(), status: "delivered", error: None });
        let created = br#"{"event": "prospects.created", "prospect": {"id": 63}, "resource": null}"#;
        assert_eq!(Event::parse(created).unwrap(), Event::Other("prospects.created".into()));
        assert!(Event::parse(b"{").is_err());
        assert!(Event::parse(br#"{"event": "messages.received", "resource": {"content": "hi"}}"#).is_err(), "no id");
        assert!(Event::parse(br#"{"event": "messages.received", "resource": {"id": 1, "content": "hi"}}"#).is_err(), "no sender");
    }
}
