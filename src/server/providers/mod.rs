//! Sending providers behind one trait: Twilio or Bonzo SMS, SMTP email and the sandbox. The engine
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
    /// Voicemail only: the voice the script is spoken in (`None`: the default voice).
    pub voice: Option<String>,
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

pub mod bonzo;
pub mod elevenlabs;
pub mod gmail;
pub mod local_speech;
pub mod sandbox;
pub mod slybroadcast;
pub mod smtp;

/// A request that got no HTTP answer from provider `who`.
pub(crate) fn request_error(who: &str, e: &reqwest::Error) -> SendError {
    if e.is_connect() {
        // Nothing was written: the provider cannot have the message.
        return SendError::Transient { message: format!("{who} could not be reached: {}", root_cause(e)), retry_after: None };
    }
    if e.is_builder() {
        return SendError::Permanent { message: format!("The {who} request could not be made: {}", root_cause(e)), code: None, suppress: false };
    }
    let what = if e.is_timeout() { format!("{who} did not answer in time") } else { format!("{who}'s answer was lost ({})", root_cause(e)) };
    SendError::Ambiguous { message: format!("{what}; the message may have been sent") }
}

/// `Retry-After` in seconds, as providers send it with a 429.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(secs))
}

/// The innermost error, e.g. "Connection refused (os error 111)", without the request URL.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

use crate::domain::AppError;
use crate::domain::campaign::Channel;
use crate::server::crypto::Keys;
use crate::server::settings::Settings;
use sandbox::Sandbox;
use smtp::{SmtpIdentity, SmtpSender};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use crate::server::voicemail::{Speaker, VoicemailSender};
use twilio::TwilioClient;
use bonzo::BonzoClient;
use crate::domain::bonzo::SmsProvider;

/// The sandbox's Twilio-shaped account: its delivery reports are signed with a token derived
/// from the app key, so the status route verifies them like Twilio's own.
pub const SANDBOX_ACCOUNT_SID: &str = "ACsandbox000000000000000000000000";

/// A message's own status-callback URL: the report names the message even when it arrives
/// before the provider's id is recorded (Twilio can report "sent" within milliseconds).
pub fn status_callback_url(base: &str, message: Uuid) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}m={message}")
}

/// The provider one message goes through.
#[derive(Clone)]
pub enum Route {
    Twilio(Arc<TwilioClient>),
    Bonzo(Arc<BonzoClient>),
    Smtp(Arc<SmtpSender>),
    Sandbox(Arc<Sandbox>),
    Voicemail(Arc<VoicemailSender>),
    Gmail(Arc<gmail::GmailSender>),
}

impl Route {
    pub fn name(&self) -> &'static str {
        match self {
            Route::Twilio(p) => p.name(),
            Route::Bonzo(p) => p.name(),
            Route::Smtp(p) => p.name(),
            Route::Sandbox(p) => p.name(),
            Route::Voicemail(p) => p.name(),
            Route::Gmail(p) => p.name(),
        }
    }

    pub async fn send(&self, m: &Outgoing) -> Result<Accepted, SendError> {
        match self {
            Route::Twilio(p) => p.send(m).await,
            Route::Bonzo(p) => p.send(m).await,
            Route::Smtp(p) => p.send(m).await,
            Route::Sandbox(p) => p.send(m).await,
            Route::Voicemail(p) => p.send(m).await,
            Route::Gmail(p) => p.send(m).await,
        }
    }

    pub async fn reconcile(&self, m: &Outgoing) -> Reconciled {
        match self {
            Route::Twilio(p) => p.reconcile(m).await,
            Route::Bonzo(p) => p.reconcile(m).await,
            Route::Smtp(p) => p.reconcile(m).await,
            Route::Sandbox(p) => p.reconcile(m).await,
            Route::Voicemail(p) => p.reconcile(m).await,
            Route::Gmail(p) => p.reconcile(m).await,
        }
    }
}

/// Who a campaign sends as: the sender's numbers and mail identity, and the Twilio account
/// that applies (their own, else the organisation's).
#[derive(Debug, Clone)]
pub struct SenderIdentity {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub sms_from_number: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<i32>,
    pub smtp_username: Option<String>,
    pub smtp_password_enc: Option<Vec<u8>>,
    pub smtp_tls: String,
    pub smtp_from_email: Option<String>,
    pub twilio_sid: Option<String>,
    pub twilio_secret_enc: Option<Vec<u8>>,
    /// What texts go out through: the user's choice, else the organisation's.
    pub sms_provider: SmsProvider,
    /// The Bonzo account that applies (their own, else the organisation's): label, token.
    pub bonzo_account: Option<String>,
    pub bonzo_token_enc: Option<Vec<u8>>,
    pub vm_caller_id: Option<String>,
    /// The Slybroadcast login that applies (their own, else the organisation's).
    pub slybroadcast_uid: Option<String>,
    pub slybroadcast_secret_enc: Option<Vec<u8>>,
    /// The organisation's ElevenLabs API key.
    pub elevenlabs_key_enc: Option<Vec<u8>>,
    /// Their connected Google account and its state (`connected`, `reconnect`).
    pub google_email: Option<String>,
    pub google_state: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Loads sender identities; owns `provider_credentials`.
pub async fn senders(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<SenderIdentity>, AppError> {
    Ok(sqlx::query_as!(
        SenderIdentity,
        r#"SELECT u.id AS user_id, u.name, u.email, u.sms_from_number, u.smtp_host, u.smtp_port, u.smtp_username,
                  u.smtp_password_enc, u.smtp_tls, u.smtp_from_email,
                  t.account_sid AS "twilio_sid?", t.secret_enc AS "twilio_secret_enc?", u.vm_caller_id,
                  coalesce(u.sms_provider, (SELECT o.sms_provider FROM org_settings o), 'twilio') AS "sms_provider!: SmsProvider",
                  b.account_sid AS "bonzo_account?", b.secret_enc AS "bonzo_token_enc?",
                  s.account_sid AS "slybroadcast_uid?", s.secret_enc AS "slybroadcast_secret_enc?",
                  x.secret_enc AS "elevenlabs_key_enc?",
                  g.email AS "google_email?", g.state AS "google_state?",
                  greatest(u.updated_at, t.updated_at) AS "updated_at!"
           FROM users u
           LEFT JOIN LATERAL (
             SELECT account_sid, secret_enc, updated_at FROM provider_credentials p
             WHERE p.provider = 'twilio' AND (p.user_id = u.id OR p.user_id IS NULL)
             ORDER BY p.user_id NULLS LAST LIMIT 1
           ) t ON true
           LEFT JOIN LATERAL (
             SELECT account_sid, secret_enc FROM provider_credentials p
             WHERE p.provider = 'slybroadcast' AND (p.user_id = u.id OR p.user_id IS NULL)
             ORDER BY p.user_id NULLS LAST LIMIT 1
           ) s ON true
           LEFT JOIN LATERAL (
             SELECT account_sid, secret_enc FROM provider_credentials p
             WHERE p.provider = 'bonzo' AND (p.user_id = u.id OR p.user_id IS NULL)
             ORDER BY p.user_id NULLS LAST LIMIT 1
           ) b ON true
           LEFT JOIN provider_credentials x ON x.provider = 'elevenlabs' AND x.user_id IS NULL
           LEFT JOIN google_accounts g ON g.user_id = u.id
           WHERE u.id = ANY($1)"#,
        ids
    )
    .fetch_all(pool)
    .await?)
}

/// The auth token of a Twilio account Turnout knows (the sandbox's included), for verifying
/// webhooks that name it.
pub async fn twilio_token(pool: &PgPool, keys: &Keys, account_sid: &str) -> Result<Option<String>, AppError> {
    if account_sid == SANDBOX_ACCOUNT_SID {
        return Ok(Some(keys.sandbox_token().to_string()));
    }
    let sealed = sqlx::query_scalar!(
        "SELECT secret_enc FROM provider_credentials WHERE provider = 'twilio' AND account_sid = $1 LIMIT 1",
        account_sid
    )
    .fetch_optional(pool)
    .await?;
    Ok(sealed.and_then(|s| keys.open(&s).ok()))
}

/// Sets (or with `None` removes) a provider account (`twilio`, `slybroadcast`,
/// `elevenlabs`): the organisation's when `user_id` is None. The secret is sealed.
pub async fn save_account(
    db: &mut sqlx::PgConnection,
    keys: &Keys,
    provider: &str,
    user_id: Option<Uuid>,
    account: Option<(&str, &str)>,
) -> Result<(), AppError> {
    sqlx::query!(
        "DELETE FROM provider_credentials WHERE provider = $1 AND user_id IS NOT DISTINCT FROM $2",
        provider,
        user_id
    )
    .execute(&mut *db)
    .await?;
    if let Some((account, secret)) = account {
        let sealed = keys.seal(secret).map_err(|e| crate::server::error::internal("sealing a secret", e))?;
        sqlx::query!(
            "INSERT INTO provider_credentials (id, provider, user_id, account_sid, secret_enc) VALUES ($1, $2, $3, $4, $5)",
            Uuid::now_v7(),
            provider,
            user_id,
            account,
            sealed
        )
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

/// Which Twilio account applies to a user (own, organisation's), without its secret.
pub async fn twilio_account(pool: &PgPool, user_id: Option<Uuid>) -> Result<Option<(String, bool)>, AppError> {
    account_that_applies(pool, "twilio", user_id).await
}

/// Which account of a provider applies to a user (own, organisation's), without its
/// secret: (account, own).
pub async fn account_that_applies(pool: &PgPool, provider: &str, user_id: Option<Uuid>) -> Result<Option<(String, bool)>, AppError> {
    Ok(sqlx::query!(
        r#"SELECT account_sid, user_id IS NOT NULL AS "own!" FROM provider_credentials
           WHERE provider = $2 AND (user_id = $1 OR user_id IS NULL)
           ORDER BY user_id NULLS LAST LIMIT 1"#,
        user_id,
        provider
    )
    .fetch_optional(pool)
    .await?
    .map(|r| (r.account_sid, r.own)))
}

/// The Bonzo account that texts from `number`: its owner's own, else the organisation's
/// (label, sealed token). Answers to texts Bonzo brought in go back through it.
pub async fn bonzo_account_for_number(pool: &PgPool, number: &str) -> Result<Option<(String, Vec<u8>)>, AppError> {
    Ok(sqlx::query!(
        "SELECT account_sid, secret_enc FROM provider_credentials
         WHERE provider = 'bonzo' AND (user_id IS NULL OR user_id IN (SELECT id FROM users WHERE sms_from_number = $1))
         ORDER BY user_id NULLS LAST LIMIT 1",
        number
    )
    .fetch_optional(pool)
    .await?
    .map(|r| (r.account_sid, r.secret_enc)))
}

/// Builds and caches provider clients; the sandbox when no credentials are set.
pub struct Providers {
    http: reqwest::Client,
    pool: PgPool,
    bonzo_base: String,
    bonzo: Mutex<HashMap<Vec<u8>, Arc<BonzoClient>>>,
    keys: Arc<Keys>,
    twilio_base: String,
    status_url: String,
    timeout: Duration,
    sandbox_sms: Arc<Sandbox>,
    sandbox_email: Arc<Sandbox>,
    sandbox_voicemail: Arc<Sandbox>,
    speaker: Arc<Speaker>,
    google: Arc<crate::server::gmail::GoogleAuth>,
    twilio: Mutex<HashMap<(String, Vec<u8>), Arc<TwilioClient>>>,
    smtp: Mutex<HashMap<Uuid, (DateTime<Utc>, Arc<SmtpSender>)>>,
}

impl Providers {
    pub fn new(pool: PgPool, settings: &Settings, keys: Arc<Keys>, store: Arc<dyn object_store::ObjectStore>) -> Result<Self, String> {
        let timeout = Duration::from_secs(settings.provider_timeout_s.max(1));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let status_url = format!("{}/api/twilio/status", settings.public_origin());
        let replies = sandbox::DemoReplies {
            url: format!("{}/api/twilio/inbound-sms", settings.public_origin()),
            rate: settings.sandbox_reply_rate.clamp(0.0, 1.0),
            delay: Duration::from_millis(settings.sandbox_reply_delay_ms),
        };
        let sandbox = |channel| {
            Arc::new(Sandbox::new(
                pool.clone(),
                http.clone(),
                channel,
                status_url.clone(),
                SANDBOX_ACCOUNT_SID.into(),
                keys.sandbox_token().to_string(),
                replies.clone(),
            ))
        };
        Ok(Self {
            sandbox_sms: sandbox(Channel::Sms),
            sandbox_email: sandbox(Channel::Email),
            sandbox_voicemail: sandbox(Channel::Voicemail),
            speaker: Arc::new(Speaker::new(pool.clone(), keys.clone(), store, http.clone(), settings)),
            google: Arc::new(crate::server::gmail::GoogleAuth::new(pool.clone(), keys.clone(), settings, http.clone())?),
            http,
            pool,
            bonzo_base: settings.bonzo_api_base.trim_end_matches('/').to_string(),
            bonzo: Mutex::new(HashMap::new()),
            keys,
            twilio_base: settings.twilio_api_base.trim_end_matches('/').to_string(),
            status_url,
            timeout,
            twilio: Mutex::new(HashMap::new()),
            smtp: Mutex::new(HashMap::new()),
        })
    }

    /// The route and from-number for a sender's SMS.
    pub fn sms(&self, s: &SenderIdentity) -> Result<(Route, String), String> {
        if s.sms_provider == SmsProvider::Bonzo {
            return self.bonzo(s);
        }
        let (Some(sid), Some(sealed)) = (&s.twilio_sid, &s.twilio_secret_enc) else {
            let from = s.sms_from_number.clone().unwrap_or_else(|| "+15005550006".into());
            return Ok((Route::Sandbox(self.sandbox_sms.clone()), from));
        };
        let from = s
            .sms_from_number
            .clone()
            .ok_or_else(|| format!("{} has no SMS number (Settings › Sending identities)", s.name))?;
        let mut cache = self.twilio.lock().unwrap_or_else(|e| e.into_inner());
        let key = (sid.clone(), sealed.clone());
        if let Some(c) = cache.get(&key) {
            return Ok((Route::Twilio(c.clone()), from));
        }
        let token = self.keys.open(sealed).map_err(|_| "the Twilio auth token cannot be read; enter it again".to_string())?;
        let client = Arc::new(TwilioClient::new(self.http.clone(), self.twilio_base.clone(), sid.clone(), token, Some(self.status_url.clone())));
        cache.insert(key, client.clone());
        Ok((Route::Twilio(client), from))
    }

    /// Through Bonzo, which texts from its user's own number: the From recorded is the
    /// sender's SMS number when they gave it (replies are matched on it), else a label.
    fn bonzo(&self, s: &SenderIdentity) -> Result<(Route, String), String> {
        let Some(sealed) = &s.bonzo_token_enc else {
            return Err(format!("{} texts through Bonzo, but no Bonzo API token is set (Settings › Bonzo)", s.name));
        };
        let from = s.sms_from_number.clone().unwrap_or_else(|| bonzo::FROM_LABEL.into());
        let mut cache = self.bonzo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(sealed) {
            return Ok((Route::Bonzo(c.clone()), from));
        }
        let token = self.keys.open(sealed).map_err(|_| "the Bonzo API token cannot be read; enter it again".to_string())?;
        let client = Arc::new(BonzoClient::new(self.http.clone(), self.pool.clone(), &self.bonzo_base, token));
        cache.insert(sealed.clone(), client.clone());
        Ok((Route::Bonzo(client), from))
    }

    /// The route and From address for a sender's email.
    pub fn email(&self, s: &SenderIdentity) -> Result<(Route, String), String> {
        // A connected Google account sends as itself.
        match (&s.google_email, s.google_state.as_deref()) {
            (Some(g), Some("connected")) => {
                let sender = gmail::GmailSender { auth: self.google.clone(), user_id: s.user_id };
                return Ok((Route::Gmail(Arc::new(sender)), format!("{} <{g}>", s.name.replace(['<', '>', '"'], ""))));
            }
            (Some(g), _) => return Err(format!("Google no longer accepts Turnout's access to {g}: {} must reconnect Google in Settings", s.name)),
            _ => {}
        }
        let from = match &s.smtp_from_email {
            Some(f) => format!("{} <{f}>", s.name.replace(['<', '>', '"'], "")),
            None => format!("{} <{}>", s.name.replace(['<', '>', '"'], ""), s.email),
        };
        let Some(host) = &s.smtp_host else {
            return Ok((Route::Sandbox(self.sandbox_email.clone()), from));
        };
        let mut cache = self.smtp.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, c)) = cache.get(&s.user_id) {
            if *at == s.updated_at {
                return Ok((Route::Smtp(c.clone()), from));
            }
        }
        let password = match &s.smtp_password_enc {
            Some(sealed) => Some(self.keys.open(sealed).map_err(|_| "the SMTP password cannot be read; enter it again".to_string())?),
            None => None,
        };
        let id = SmtpIdentity {
            host,
            port: s.smtp_port.and_then(|p| u16::try_from(p).ok()).unwrap_or(587),
            tls: &s.smtp_tls,
            username: s.smtp_username.as_deref(),
            password,
        };
        let sender = Arc::new(SmtpSender::new(&id, self.timeout)?);
        cache.insert(s.user_id, (s.updated_at, sender.clone()));
        Ok((Route::Smtp(sender), from))
    }

    /// The route and caller id for a sender's voicemail drops.
    pub fn voicemail(&self, s: &SenderIdentity) -> Result<(Route, String), String> {
        let (sender, from) = crate::server::voicemail::route(&self.speaker, &self.sandbox_voicemail, s)?;
        Ok((Route::Voicemail(Arc::new(sender)), from))
    }

    /// Google's OAuth client and the users' tokens.
    pub fn google(&self) -> &Arc<crate::server::gmail::GoogleAuth> {
        &self.google
    }

    /// Renders voicemail speech and keeps the drops' public links.
    pub fn speaker(&self) -> &Arc<Speaker> {
        &self.speaker
    }

    pub fn route_for(&self, channel: Channel, s: &SenderIdentity) -> Result<(Route, String), String> {
        match channel {
            Channel::Sms => self.sms(s),
            Channel::Email => self.email(s),
            Channel::Voicemail => self.voicemail(s),
        }
    }
}

/// Sets or removes a Twilio account: the user's own, or with `org` the organisation's
/// (admins only). Returns the account that now applies to the actor.
pub async fn set_twilio_account(
    pool: &PgPool,
    keys: &Keys,
    actor: &crate::server::auth::AuthUser,
    org: bool,
    input: &crate::domain::user::TwilioAccountInput,
) -> Result<crate::domain::user::TwilioAccountView, AppError> {
    if org {
        actor.require_admin()?;
    }
    let sid = input.account_sid.trim();
    let token = input.auth_token.trim();
    let account = if sid.is_empty() {
        None
    } else {
        if !(sid.len() == 34 && sid.starts_with("AC") && sid[2..].chars().all(|c| c.is_ascii_alphanumeric())) {
            return Err(AppError::unprocessable("A Twilio Account SID is AC followed by 32 letters and digits"));
        }
        if token.is_empty() {
            return Err(AppError::unprocessable("Enter the account's auth token"));
        }
        Some((sid, token))
    };
    let owner = (!org).then_some(actor.id);
    let mut tx = pool.begin().await?;
    save_account(&mut tx, keys, "twilio", owner, account).await?;
    let after = serde_json::json!({ "scope": if org { "organisation" } else { "own" }, "account_sid": account.map(|a| a.0) });
    crate::server::audit::record(&mut *tx, Some(actor.id), "provider.twilio_saved", "user", owner, None, Some(after)).await?;
    tx.commit().await?;
    twilio_view(pool, actor.id).await
}

pub async fn twilio_view(pool: &PgPool, user_id: Uuid) -> Result<crate::domain::user::TwilioAccountView, AppError> {
    Ok(match twilio_account(pool, Some(user_id)).await? {
        Some((sid, own)) => crate::domain::user::TwilioAccountView { account_sid: Some(sid), own },
        None => crate::domain::user::TwilioAccountView::default(),
    })
}
