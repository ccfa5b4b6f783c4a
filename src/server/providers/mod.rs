//! Sending providers behind one trait: Twilio SMS, SMTP email and the sandbox. The engine
//! records a message as `sending` before it calls `send`, and calls `reconcile` when it finds
//! a message still `sending` after a crash, so no message is ever sent twice blindly.
use chrono::{DateTime, Utc};
use std::future::Future;
use std::time::Duration;
use uuid::Uuid;

pub mod twilio;

/// One message ready for a provider: rendered, addressed, compliant.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The message row's id; also the idempotency key's owner.
    pub id: Uuid,
    pub to: String,
    pub from: String,
    pub body: String,
    /// Email only.
    pub subject: Option<String>,
    pub html: Option<String>,
    /// Extra email headers, e.g. `List-Unsubscribe`.
    pub headers: Vec<(String, String)>,
    /// When the message row was committed as `sending`: reconciliation looks around it.
    pub created_at: DateTime<Utc>,
}

/// The provider took the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub provider_id: String,
    /// The provider's first status, e.g. Twilio's `queued`.
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Worth retrying: 429 (with the provider's `Retry-After` when given), 5xx, connection refused.
    Transient { message: String, retry_after: Option<Duration> },
    /// The request may have reached the provider (e.g. a timeout after it was written):
    /// reconcile before any retry.
    Ambiguous { message: String },
    /// Retrying cannot help: invalid number, bad credentials, unsubscribed recipient.
    Permanent { message: String, code: Option<String>, suppress: bool },
}

impl SendError {
    pub fn message(&self) -> &str {
        match self {
            SendError::Transient { message, .. } | SendError::Ambiguous { message } | SendError::Permanent { message, .. } => message,
        }
    }
}

/// What the provider says about a message we may or may not have sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconciled {
    Sent(Accepted),
    NotSent,
    /// The provider cannot tell (SMTP), or asking failed.
    Unknown(String),
}

pub trait Provider: Send + Sync {
    /// Stored on the message row (`messages.provider`).
    fn name(&self) -> &'static str;
    fn send(&self, m: &Outgoing) -> impl Future<Output = Result<Accepted, SendError>> + Send;
    fn reconcile(&self, m: &Outgoing) -> impl Future<Output = Reconciled> + Send;
}
