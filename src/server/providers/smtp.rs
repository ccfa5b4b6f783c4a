//! Email through the sender's own SMTP identity (STARTTLS, TLS or plain), with a text and
//! an HTML part, the `Message-ID` the engine chose (kept for threading replies) and the
//! unsubscribe headers the engine adds.
use crate::server::providers::{Accepted, Outgoing, Provider, Reconciled, SendError};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// The `Message-ID` of the message row `id` sent from `from`: replies quote it.
pub fn message_id(id: uuid::Uuid, from: &str) -> String {
    let domain = from.rsplit('@').next().unwrap_or("turnout.local").trim_end_matches('>');
    format!("<{id}@{domain}>")
}

pub struct SmtpIdentity<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<String>,
}

pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpSender {
    pub fn new(id: &SmtpIdentity<'_>, timeout: Duration) -> Result<Self, String> {
        let tls_params = || TlsParameters::new(id.host.to_string()).map_err(|e| format!("SMTP TLS for {}: {e}", id.host));
        let tls = match id.tls {
            "tls" => Tls::Wrapper(tls_params()?),
            "starttls" => Tls::Required(tls_params()?),
            _ => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(id.host).port(id.port).tls(tls).timeout(Some(timeout));
        if let (Some(user), Some(pass)) = (id.username, &id.password) {
            b = b.credentials(Credentials::new(user.to_string(), pass.clone()));
        }
        Ok(Self { transport: b.build() })
    }
}

/// The message as RFC 5322: what SMTP hands over, and what Gmail's API takes encoded.
pub fn build(m: &Outgoing) -> Result<Message, SendError> {
    let bad = |what: &str, e: String| SendError::Permanent { message: format!("{what}: {e}"), code: None, suppress: false };
    let from: Mailbox = m.from.parse().map_err(|e: lettre::address::AddressError| bad("sender address", e.to_string()))?;
    let to: Mailbox = m.to.parse().map_err(|e: lettre::address::AddressError| bad("recipient address", e.to_string()))?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone().unwrap_or_default())
        .message_id(Some(message_id(m.id, &m.from)));
    for (name, value) in &m.headers {
        let name = HeaderName::new_from_ascii(name.clone()).map_err(|e| bad("header", e.to_string()))?;
        b = b.raw_header(HeaderValue::new(name, value.clone()));
    }
    let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(m.body.clone());
    let body = match &m.html {
        Some(html) => MultiPart::alternative()
            .singlepart(text)
            .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
        None => MultiPart::mixed().singlepart(text),
    };
    b.multipart(body).map_err(|e| bad("building the email", e.to_string()))
}

impl Provider for SmtpSender {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, m: &Outgoing) -> Result<Accepted, SendError> {
        let message = build(m)?;
        match self.transport.send(message).await {
            Ok(response) => Ok(Accepted { provider_id: message_id(m.id, &m.from), status: Some(response.code().to_string()) }),
            Err(e) if e.is_permanent() => Err(SendError::Permanent { message: format!("SMTP refused: {e}"), code: None, suppress: false }),
            // Refused before anything was handed over: safe to try again.
            Err(e) if e.is_transient() => Err(SendError::Transient { message: format!("SMTP: {e}"), retry_after: None }),
            Err(e) if e.is_timeout() => Err(SendError::Ambiguous { message: format!("SMTP timed out: {e}") }),
            Err(e) => Err(SendError::Transient { message: format!("SMTP: {e}"), retry_after: None }),
        }
    }

    async fn reconcile(&self, _m: &Outgoing) -> Reconciled {
        Reconciled::Unknown("SMTP cannot tell whether an interrupted message went out".into())
    }
}
