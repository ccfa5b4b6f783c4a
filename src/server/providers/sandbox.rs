//! The sandbox: the provider used when no credentials are set, so a new user sees the
//! product move without any account. It goes through the whole engine, keeps what it
//! "sent" in `sandbox_messages` (the demo's outbox, and how it reconciles after a crash),
//! and reports SMS delivery as Twilio does: signed posts to the app's own status route.
//! With `SANDBOX_REPLY_RATE` above 0, simulated contacts answer some funnel texts the same
//! way: signed posts to the app's own inbound route, so a demo's replies take the real path.
use crate::domain::campaign::Channel;
use crate::server::conversations;
use crate::server::providers::{Accepted, Outgoing, Provider, Reconciled, SendError};
use crate::server::webhooks::twilio_signature::signature;
use chrono::Duration;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// Twilio's magic test number for "invalid To": the sandbox refuses it the same way.
pub const INVALID_NUMBER: &str = "+15005550001";

/// What a simulated contact answers, with each answer's share in percent: mostly an RSVP or
/// a question for the BDR, sometimes STOP.
const DEMO_REPLIES: [(u32, &str); 5] = [
    (40, "Yes, count me in!"),
    (25, "What time does it start?"),
    (15, "Can I bring a colleague?"),
    (12, "Sorry, I can't make it this time."),
    (8, "STOP"),
];

/// The simulated contact's answer to a text, if they answer: a share `rate` (0 to 1) of
/// texts are answered. Drawn from a hash of the number and the text, not at random, so a
/// demo or a test gives the same answers every time.
pub fn demo_reply(to: &str, body: &str, rate: f64) -> Option<&'static str> {
    let h = Sha256::new().chain_update(to).chain_update([0]).chain_update(body).finalize();
    let draw = f64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]])) / (f64::from(u32::MAX) + 1.0);
    if draw >= rate {
        return None;
    }
    let mut pick = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) % 100;
    for (share, reply) in DEMO_REPLIES {
        if pick < share {
            return Some(reply);
        }
        pick -= share;
    }
    None
}

/// Where and how often the simulated contacts answer.
#[derive(Clone)]
pub struct DemoReplies {
    /// The app's own `/api/twilio/inbound-sms`.
    pub url: String,
    /// The share of funnel texts answered: 0 (none) to 1.
    pub rate: f64,
    pub delay: std::time::Duration,
}

pub struct Sandbox {
    pool: PgPool,
    http: reqwest::Client,
    channel: Channel,
    /// Where delivery reports go: the app's own `/api/twilio/status`.
    status_url: String,
    account_sid: String,
    auth_token: String,
    replies: DemoReplies,
}

impl Sandbox {
    pub fn new(
        pool: PgPool,
        http: reqwest::Client,
        channel: Channel,
        status_url: String,
        account_sid: String,
        auth_token: String,
        replies: DemoReplies,
    ) -> Self {
        Self { pool, http, channel, status_url, account_sid, auth_token, replies }
    }

    /// Reports "sent" then "delivered" a moment later, signed like Twilio's callbacks.
    fn report(&self, sid: String, m: &Outgoing) {
        let url = super::status_callback_url(&self.status_url, m.id);
        let (http, account, token) = (self.http.clone(), self.account_sid.clone(), self.auth_token.clone());
        let (from, to) = (m.from.clone(), m.to.clone());
        tokio::spawn(async move {
            for (status, after_ms) in [("sent", 200), ("delivered", 800)] {
                tokio::time::sleep(std::time::Duration::from_millis(after_ms)).await;
                let params = [
                    ("AccountSid", account.as_str()),
                    ("ApiVersion", "2010-04-01"),
                    ("From", from.as_str()),
                    ("MessageSid", sid.as_str()),
                    ("MessageStatus", status),
                    ("SmsSid", sid.as_str()),
                    ("SmsStatus", status),
                    ("To", to.as_str()),
                ];
                if let Err(e) = post_signed(&http, &token, &url, &params).await {
                    tracing::warn!(error = %e, "sandbox delivery report not delivered");
                    return;
                }
            }
        });
    }

    /// The contact's answer, when they give one, after the configured delay: from their
    /// number to the one that texted them, as Twilio posts an incoming text.
    fn answer(&self, m: &Outgoing) {
        let Some(text) = demo_reply(&m.to, &m.body, self.replies.rate) else {
            return;
        };
        let (pool, http, account, token) = (self.pool.clone(), self.http.clone(), self.account_sid.clone(), self.auth_token.clone());
        let (replies, message, from, to) = (self.replies.clone(), m.id, m.to.clone(), m.from.clone());
        tokio::spawn(async move {
            tokio::time::sleep(replies.delay).await;
            // Only funnel texts are answered: an answer to an opt-out's confirmation or a HELP
            // text would start a conversation between two machines.
            match conversations::is_funnel_step(&pool, message).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error = %e.error, "sandbox demo reply not sent");
                    return;
                }
            }
            let sid = format!("SM{}", Uuid::new_v4().simple());
            let params = [
                ("AccountSid", account.as_str()),
                ("ApiVersion", "2010-04-01"),
                ("Body", text),
                ("From", from.as_str()),
                ("MessageSid", sid.as_str()),
                ("NumMedia", "0"),
                ("NumSegments", "1"),
                ("SmsMessageSid", sid.as_str()),
                ("SmsSid", sid.as_str()),
                ("SmsStatus", "received"),
                ("To", to.as_str()),
            ];
            if let Err(e) = post_signed(&http, &token, &replies.url, &params).await {
                tracing::warn!(error = %e, "sandbox demo reply not delivered");
            }
        });
    }
}

/// Posts form parameters to one of the app's Twilio routes, signed as Twilio signs them.
async fn post_signed(http: &reqwest::Client, token: &str, url: &str, params: &[(&str, &str)]) -> Result<(), String> {
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let sig = signature(token, url, &owned);
    let res = http.post(url).header("X-Twilio-Signature", sig).form(params).send().await.map_err(|e| e.to_string())?;
    if res.status().is_success() { Ok(()) } else { Err(format!("{url} answered {}", res.status())) }
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
            self.answer(m);
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
