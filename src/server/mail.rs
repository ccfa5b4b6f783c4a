//! The system mail sender (password resets, invitations), configured by `system_smtp_url`.
use crate::domain::AppError;
use crate::server::error::internal;
use crate::server::settings::Settings;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct SystemMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SystemMailer {
    /// `None` when no URL is set: then admins hand over links themselves.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, String> {
        if settings.system_smtp_url.trim().is_empty() {
            return Ok(None);
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.system_smtp_url.trim())
            .map_err(|e| format!("system_smtp_url: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = settings
            .system_from_email
            .parse::<Mailbox>()
            .map_err(|e| format!("system_from_email: {e}"))?;
        Ok(Some(Self { transport, from }))
    }

    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), AppError> {
        let to = to.parse::<Mailbox>().map_err(|e| internal("recipient address", e))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body.to_string())
            .map_err(|e| internal("building an email", e))?;
        self.transport.send(message).await.map_err(|e| {
            tracing::error!(error = %e, "system email failed");
            AppError::unavailable("The email could not be sent; please try again later")
        })?;
        Ok(())
    }
}
