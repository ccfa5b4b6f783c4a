//! The sandbox: the provider used when no credentials are set, so a new user sees the
//! product move without any account. It goes through the whole engine, keeps what it
//! "sent" in `sandbox_messages` (the demo's outbox, and how it reconciles after a crash),
//! and reports SMS delivery as Twilio does: signed posts to the app's own status route.
use crate::domain::campaign::Channel;
use crate::server::providers::{Accepted, Outgoing, Provider, Reconciled, SendError};
use crate::server::webhooks::twilio_signature::signature;
use chrono::Duration;
use sqlx::PgPool;
use uuid::Uuid;

/// Twilio's magic test number for "invalid To": the sandbox refuses it the same way.
pub const INVALID_NUMBER: &str = "+15005550001";

pub struct Sandbox {
    pool: PgPool,
    http: reqwest::Client,
    channel: Channel,
    /// Where delivery reports go: the app's own `/api/twilio/status`.
    status_url: String,
    account_sid: String,
    auth_token: String,
}

impl Sandbox {
    pub fn new(pool: PgPool, http: reqwest::Client, channel: Channel, status_url: String, account_sid: String, auth_token: String) -> Self {
        Self { pool, http, channel, status_url, account_sid, auth_token }
    }

    /// Reports "sent" then "delivered" a moment later, signed like Twilio's callbacks.
    fn report(&self, sid: String, m: &Outgoing) {
        let url = super::status_callback_url(&self.status_url, m.id);
        let (http, account, token) = (self.http.clone(), self.account_sid.clone(), self.auth_token.clone());
        let (from, to) = (m.from.clone(), m.to.clone());
        tokio::spawn(async move {
            for (status, after_ms) in [("sent", 200), ("delivered", 800)] {
                tokio::time::sleep(std::time::Duration::from_millis(after_ms)).await;
                let params: Vec<(String, String)> = [
                    ("AccountSid", account.as_str()),
                    ("ApiVersion", "2010-04-01"),
                    ("From", from.as_str()),
                    ("MessageSid", sid.as_str()),
                    ("MessageStatus", status),
                    ("SmsSid", sid.as_str()),
                    ("SmsStatus", status),
                    ("To", to.as_str()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
                let sig = signature(&token, &url, &params);
                if let Err(e) = http.post(&url).header("X-Twilio-Signature", sig).form(&params).send().await {
                    tracing::warn!(error = %e, "sandbox delivery report not delivered");
                    return;
                }
            }
        });
    }
}

impl Provider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn send(&self, m: &Outgoing) -> Result<Accepted, SendError> {
        if self.channel == Channel::Sms && m.to == INVALID_NUMBER {
            return Err(SendError::Permanent {
                message: format!("Sandbox 21211: The 'To' number {} is not a valid phone number.", m.to),
                code: Some("21211".into()),
                suppress: false,
            });
        }
        let sid = match self.channel {
            Channel::Sms => format!("SM{}", Uuid::new_v4().simple()),
            _ => format!("<{}@sandbox.turnout.local>", m.id),
        };
        sqlx::query!(
            "INSERT INTO sandbox_messages (id, channel, to_address, from_address, subject, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            sid,
            self.channel as Channel,
            m.to,
            m.from,
            m.subject,
            m.body,
            m.created_at
        )
        .execute(&self.pool)
        .await
        .map_err(|e| SendError::Transient { message: format!("sandbox outbox: {e}"), retry_after: None })?;
        if self.channel == Channel::Sms {
            self.report(sid.clone(), m);
            Ok(Accepted { provider_id: sid, status: Some("queued".into()) })
        } else {
            Ok(Accepted { provider_id: sid, status: Some("delivered".into()) })
        }
    }

    async fn reconcile(&self, m: &Outgoing) -> Reconciled {
        let found = sqlx::query_scalar!(
            "SELECT id FROM sandbox_messages WHERE to_address = $1 AND body = $2 AND created_at >= $3 LIMIT 1",
            m.to,
            m.body,
            m.created_at - Duration::minutes(5)
        )
        .fetch_optional(&self.pool)
        .await;
        match found {
            Ok(Some(id)) => Reconciled::Sent(Accepted { provider_id: id, status: None }),
            Ok(None) => Reconciled::NotSent,
            Err(e) => Reconciled::Unknown(format!("sandbox outbox: {e}")),
        }
    }
}
