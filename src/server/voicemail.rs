//! Ringless voicemail. A voicemail step goes through the engine like a text (send window,
//! suppression, throttle, idempotency key, reconciliation); its provider call is two steps:
//! 1. speech: the script in its voice, rendered once per distinct (engine, voice, settings,
//!    script) and kept in the media store under `vm/<hash>.mp3` (`voice_audio`);
//! 2. the drop: a `voicemail_drops` row gives the message an unguessable public URL for the
//!    drop provider, records when the drop was asked for, and the provider is called.
//!
//! A restart between the two finds the audio cached and the drop never asked for, so it
//! drops once without rendering again; one after the drop was asked for cannot know whether
//! Slybroadcast took it (it cannot be asked by message), so the message is `unknown` for a
//! person to check, never dropped twice.
use crate::domain::AppError;
use crate::domain::campaign::Channel;
use crate::domain::content::ContentInput;
use crate::domain::voicemail::{SlybroadcastAccountInput, VoicemailAccountsView, VoicemailPreview, VoicemailPreviewInput, Voices};
use crate::server::auth::AuthUser;
use crate::server::clock::{Clock, SystemClock};
use crate::server::crypto::Keys;
use crate::server::providers::elevenlabs::ElevenLabs;
use crate::server::providers::sandbox::Sandbox;
use crate::server::providers::slybroadcast::{self, Disposition, Slybroadcast};
use crate::server::providers::{Accepted, Outgoing, Reconciled, SendError, SenderIdentity, local_speech, save_account};
use crate::server::settings::Settings;
use crate::server::state::AppState;
use crate::server::{audit, content, conversations};
use chrono::{DateTime, Duration, Utc};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::Semaphore;
use uuid::Uuid;

/// What speaks a script.
#[derive(Clone)]
pub enum Speech {
    ElevenLabs(Arc<ElevenLabs>),
    Local,
}

impl Speech {
    fn engine(&self) -> &'static str {
        match self {
            Speech::ElevenLabs(_) => "elevenlabs",
            Speech::Local => "local",
        }
    }
}

/// A rendered script in the media store.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub hash: String,
    pub size: i64,
}

pub const AUDIO_TYPE: &str = "audio/mpeg";

pub fn audio_key(hash: &str) -> StorePath {
    StorePath::from(format!("vm/{hash}.mp3"))
}

/// The process's speech renderer and drop bookkeeping, shared by every voicemail route.
pub struct Speaker {
    pool: PgPool,
    keys: Arc<Keys>,
    store: Arc<dyn ObjectStore>,
    http: reqwest::Client,
    settings: Arc<Settings>,
    /// Renders in flight at once (ElevenLabs limits concurrent requests per plan).
    permits: Semaphore,
    /// One render per hash at a time in this process; the others wait and find it cached.
    rendering: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    clock: RwLock<Arc<dyn Clock>>,
}

impl Speaker {
    pub fn new(pool: PgPool, keys: Arc<Keys>, store: Arc<dyn ObjectStore>, http: reqwest::Client, settings: &Settings) -> Self {
        Self {
            pool,
            keys,
            store,
            http,
            permits: Semaphore::new(settings.elevenlabs_concurrency.max(1)),
            settings: Arc::new(settings.clone()),
            rendering: Mutex::new(HashMap::new()),
            clock: RwLock::new(Arc::new(SystemClock)),
        }
    }

    /// The engine's clock (a manual one in tests): public links expire by it.
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        *self.clock.write().unwrap_or_else(|e| e.into_inner()) = clock;
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.read().unwrap_or_else(|e| e.into_inner()).now()
    }

    /// ElevenLabs with the organisation's key, else the local engine.
    pub fn speech(&self, sealed_key: Option<&[u8]>) -> Result<Speech, String> {
        Ok(match sealed_key {
            Some(sealed) => {
                let key = self.keys.open(sealed).map_err(|_| "the ElevenLabs API key cannot be read; enter it again".to_string())?;
                Speech::ElevenLabs(Arc::new(ElevenLabs::new(self.http.clone(), &self.settings, key)))
            }
            None => Speech::Local,
        })
    }

    /// The voice a step is spoken in: its own, else the engine's default.
    fn voice(&self, speech: &Speech, wanted: Option<&str>) -> String {
        match speech {
            Speech::ElevenLabs(_) => wanted.filter(|v| !v.trim().is_empty()).unwrap_or(&self.settings.elevenlabs_default_voice_id).to_string(),
            Speech::Local => local_speech::voice_or(wanted, &self.settings.local_voice_default),
        }
    }

    /// The script spoken in the voice, from the cache or rendered now.
    pub async fn audio(&self, speech: &Speech, voice: Option<&str>, text: &str) -> Result<Audio, SendError> {
        let voice = self.voice(speech, voice);
        let shape = match speech {
            Speech::ElevenLabs(e) => e.shape(),
            Speech::Local => "espeak-ng|lame 64k".into(),
        };
        let hash = hex(&Sha256::new().chain_update(speech.engine()).chain_update([0]).chain_update(&voice).chain_update([0]).chain_update(&shape).chain_update([0]).chain_update(text).finalize());
        let store_error = |e: AppError| SendError::Transient { message: format!("voicemail audio: {}", e.error), retry_after: None };
        if let Some(a) = self.cached(&hash).await.map_err(store_error)? {
            return Ok(a);
        }
        let lock = {
            let mut map = self.rendering.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(hash.clone()).or_default().clone()
        };
        let _rendering = lock.lock().await;
        // Forgotten however this ends (a cancelled worker too); later callers find the cache.
        let _forget = Forget { map: &self.rendering, hash: &hash };
        async {
            if let Some(a) = self.cached(&hash).await.map_err(store_error)? {
                return Ok(a);
            }
            let _permit = self.permits.acquire().await.map_err(|e| SendError::Transient { message: e.to_string(), retry_after: None })?;
            let bytes = match speech {
                Speech::ElevenLabs(e) => e.speak(&voice, text).await?,
                Speech::Local => local_speech::speak(&voice, text).await?,
            };
            let size = bytes.len() as i64;
            self.store
                .put(&audio_key(&hash), PutPayload::from(bytes))
                .await
                .map_err(|e| SendError::Transient { message: format!("media store: {e}"), retry_after: None })?;
            sqlx::query!(
                "INSERT INTO voice_audio (hash, engine, voice_id, content_type, size_bytes) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (hash) DO NOTHING",
                hash,
                speech.engine(),
                voice,
                AUDIO_TYPE,
                size
            )
            .execute(&self.pool)
            .await
            .map_err(|e| store_error(e.into()))?;
            Ok(Audio { hash: hash.clone(), size })
        }
        .await
    }

    async fn cached(&self, hash: &str) -> Result<Option<Audio>, AppError> {
        Ok(sqlx::query!("SELECT size_bytes FROM voice_audio WHERE hash = $1", hash)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Audio { hash: hash.to_string(), size: r.size_bytes }))
    }

    /// Gives the message its public audio link and records that the drop is being asked for,
    /// before the provider is called; the message's player is recorded with it. The link.
    async fn asking(&self, message: Uuid, audio: &Audio) -> Result<String, SendError> {
        let expires = self.now() + Duration::hours(self.settings.voicemail_audio_ttl_hours.max(1));
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query!(
            "INSERT INTO voicemail_drops (message_id, audio_hash, expires_at, requested_at) VALUES ($1, $2, $3, now())
             ON CONFLICT (message_id) DO UPDATE SET audio_hash = $2, expires_at = $3, requested_at = now()",
            message,
            audio.hash,
            expires
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // A test send has no message row, so no player.
        sqlx::query!(
            "INSERT INTO message_media (id, message_id, position, content_type, state, size_bytes, object_key)
             SELECT $1, id, 0, $2, 'stored', $3, $4 FROM messages WHERE id = $5
             ON CONFLICT (message_id, position) DO UPDATE SET object_key = $4, size_bytes = $3",
            Uuid::now_v7(),
            AUDIO_TYPE,
            audio.size,
            audio_key(&audio.hash).to_string(),
            message
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        // The same link on every try: a drop Slybroadcast took on an earlier one still plays.
        Ok(format!("{}/media/vm/{}.mp3", self.settings.public_origin(), self.keys.sign_link(&format!("{AUDIO_LINK}{message}"))))
    }

    /// The audio an earlier try already gave the message, whether that drop was asked for.
    async fn earlier(&self, message: Uuid) -> Result<Option<(Audio, bool)>, AppError> {
        Ok(sqlx::query!(
            "SELECT a.hash, a.size_bytes, d.requested_at FROM voicemail_drops d JOIN voice_audio a ON a.hash = d.audio_hash
             WHERE d.message_id = $1",
            message
        )
        .fetch_optional(&self.pool)
        .await?
        .map(|r| (Audio { hash: r.hash, size: r.size_bytes }, r.requested_at.is_some())))
    }

    /// Where Slybroadcast posts this drop's result: a path only this app could sign, naming
    /// the message, so a report can touch no other.
    fn dispo_url(&self, message: Uuid) -> String {
        format!("{}/api/slybroadcast/dispo/{}", self.settings.public_origin(), self.keys.sign_link(&format!("{DISPO}{message}")))
    }
}

/// What the signed path segments carry, each before a message id.
const AUDIO_LINK: &str = "vm:";
const DISPO: &str = "vm-dispo:";

/// Slybroadcast takes only audio longer than five seconds (its API documentation).
const MIN_DROP_SECONDS: f64 = 5.0;

/// An MP3's length from its size at a constant bit rate (`mp3_44100_128` → 128 kbit/s).
fn seconds(size: i64, output_format: &str) -> Option<f64> {
    let kbps: f64 = output_format.strip_prefix("mp3_")?.rsplit('_').next()?.parse().ok()?;
    Some(size as f64 * 8.0 / (kbps * 1000.0))
}

struct Forget<'a> {
    map: &'a Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    hash: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(self.hash);
    }
}

fn db_error(e: sqlx::Error) -> SendError {
    SendError::Transient { message: format!("database: {e}"), retry_after: None }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who takes the drop.
pub enum Dropper {
    Slybroadcast(Slybroadcast),
    Sandbox(Arc<Sandbox>),
}

/// A voicemail route: a speech engine and a drop provider.
pub struct VoicemailSender {
    speaker: Arc<Speaker>,
    speech: Speech,
    dropper: Dropper,
}

impl VoicemailSender {
    pub fn name(&self) -> &'static str {
        match self.dropper {
            Dropper::Slybroadcast(_) => "slybroadcast",
            Dropper::Sandbox(_) => "sandbox",
        }
    }

    pub async fn send(&self, m: &Outgoing) -> Result<Accepted, SendError> {
        use crate::server::providers::Provider;
        let earlier = self.speaker.earlier(m.id).await.map_err(|e| SendError::Transient { message: e.error, retry_after: None })?;
        // A retry drops what the first try rendered, even if the step's voice changed since.
        let audio = match earlier {
            Some((audio, _)) => audio,
            None => self.speaker.audio(&self.speech, m.voice.as_deref(), &m.body).await?,
        };
        if let (Dropper::Slybroadcast(_), Speech::ElevenLabs(e)) = (&self.dropper, &self.speech) {
            if let Some(s) = seconds(audio.size, e.output_format()).filter(|s| *s <= MIN_DROP_SECONDS) {
                let message = format!("The spoken script is about {s:.1} s; Slybroadcast drops need more than 5 s: lengthen the script");
                return Err(SendError::Permanent { message, code: None, suppress: false });
            }
        }
        let url = self.speaker.asking(m.id, &audio).await?;
        match &self.dropper {
            Dropper::Slybroadcast(s) => {
                let (title, dispo_url) = (m.id.to_string(), self.speaker.dispo_url(m.id));
                s.drop(&slybroadcast::Drop { to: &m.to, caller_id: &m.from, audio_url: &url, title: &title, dispo_url: &dispo_url }).await
            }
            Dropper::Sandbox(s) => s.send(m).await,
        }
    }

    pub async fn reconcile(&self, m: &Outgoing) -> Reconciled {
        use crate::server::providers::Provider;
        match self.speaker.earlier(m.id).await {
            Ok(None | Some((_, false))) => Reconciled::NotSent,
            Err(e) => Reconciled::Unknown(format!("the drop's record could not be read: {}", e.error)),
            Ok(Some((_, true))) => match &self.dropper {
                Dropper::Sandbox(s) => s.reconcile(m).await,
                Dropper::Slybroadcast(_) => Reconciled::Unknown(format!(
                    "the drop was asked of Slybroadcast, which cannot be asked about one message; look for campaign title {} in its reports",
                    m.id
                )),
            },
        }
    }
}

/// The caller id and drop provider of a sender: their Slybroadcast account (own, else the
/// organisation's) or the sandbox.
pub fn route(
    speaker: &Arc<Speaker>,
    sandbox: &Arc<Sandbox>,
    s: &SenderIdentity,
) -> Result<(VoicemailSender, String), String> {
    let speech = speaker.speech(s.elevenlabs_key_enc.as_deref())?;
    let (Some(uid), Some(sealed)) = (&s.slybroadcast_uid, &s.slybroadcast_secret_enc) else {
        let from = s.vm_caller_id.clone().or_else(|| s.sms_from_number.clone()).unwrap_or_else(|| "+15005550006".into());
        return Ok((VoicemailSender { speaker: speaker.clone(), speech, dropper: Dropper::Sandbox(sandbox.clone()) }, from));
    };
    let from = s.vm_caller_id.clone().ok_or_else(|| format!("{} has no voicemail caller id (Settings › Sending identities)", s.name))?;
    let password = speaker.keys.open(sealed).map_err(|_| "the Slybroadcast password cannot be read; enter it again".to_string())?;
    let client = Slybroadcast::new(speaker.http.clone(), &speaker.settings.slybroadcast_api_base, uid.clone(), password);
    Ok((VoicemailSender { speaker: speaker.clone(), speech, dropper: Dropper::Slybroadcast(client) }, from))
}

/// The message a signed path segment names, when this app signed it for `what`.
fn signed_message(keys: &Keys, token: &str, what: &str) -> Option<Uuid> {
    keys.open_link(token)?.strip_prefix(what)?.parse().ok()
}

/// A call's result from Slybroadcast: the message's delivery status (and why it failed).
/// `false` when the message does not have that session id.
pub async fn disposition(state: &AppState, secret: &str, var: Option<&str>) -> Result<bool, AppError> {
    let Some(message) = signed_message(&state.keys, secret, DISPO) else {
        tracing::warn!("Slybroadcast result posted to a wrong secret URL");
        return Err(AppError::not_found("API route"));
    };
    let var = var.ok_or_else(|| AppError::bad_request("The result has no 'var' field"))?;
    let d = Disposition::parse(var).map_err(|e| {
        tracing::warn!(error = %e, "malformed Slybroadcast result");
        AppError::bad_request(format!("Malformed result: {e}"))
    })?;
    let at = state.clock.now();
    conversations::record_delivery(&state.pool, Some(message), &["slybroadcast"], &d.session_id, d.delivery_status, None, d.failure_reason.as_deref(), at)
        .await
}

/// The rendered audio behind a drop's public link (its hash): 404 for a link this app did
/// not sign, 410 once expired.
pub async fn public_audio(state: &AppState, token: &str) -> Result<String, AppError> {
    let message = signed_message(&state.keys, token, AUDIO_LINK).ok_or_else(|| AppError::not_found("Voicemail audio"))?;
    let row = sqlx::query!("SELECT audio_hash, expires_at FROM voicemail_drops WHERE message_id = $1", message)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| AppError::not_found("Voicemail audio"))?;
    if row.expires_at <= state.clock.now() {
        return Err(AppError { status: 410, error: "This voicemail link has expired".into() });
    }
    Ok(row.audio_hash)
}

/// The audio of a builder preview, for the user it was made for (its link is signed for
/// them: the audio may speak a contact's name).
pub fn preview_audio(state: &AppState, user: &AuthUser, token: &str) -> Result<String, AppError> {
    state
        .keys
        .open_link(token)
        .and_then(|d| d.strip_prefix(&format!("preview:{}:", user.id)).map(str::to_string))
        .ok_or_else(|| AppError::not_found("Voicemail audio"))
}

async fn org_speech(state: &AppState) -> Result<Speech, AppError> {
    let sealed = sqlx::query_scalar!("SELECT secret_enc FROM provider_credentials WHERE provider = 'elevenlabs' AND user_id IS NULL")
        .fetch_optional(&state.pool)
        .await?;
    state.providers.speaker().speech(sealed.as_deref()).map_err(AppError::unprocessable)
}

/// The voices the builder offers.
pub async fn voices(state: &AppState) -> Result<Voices, AppError> {
    Ok(match org_speech(state).await? {
        Speech::ElevenLabs(e) => Voices {
            engine: "elevenlabs".into(),
            default_voice: state.settings.elevenlabs_default_voice_id.clone(),
            voices: e.voices().await.map_err(|e| AppError { status: 502, error: e })?,
        },
        Speech::Local => Voices { engine: "local".into(), default_voice: state.settings.local_voice_default.clone(), voices: local_speech::voices() },
    })
}

/// The script filled in for the chosen contact and spoken: what they would hear.
pub async fn preview(state: &AppState, user: &AuthUser, input: &VoicemailPreviewInput) -> Result<VoicemailPreview, AppError> {
    if input.script.trim().is_empty() {
        return Err(AppError::unprocessable("Type the script to hear it"));
    }
    let content = ContentInput { channel: Some(Channel::Voicemail), body: input.script.clone(), ..Default::default() };
    let rendered = content::preview(&state.pool, user, &content, input.campaign_id, input.contact_id).await?;
    let Some(text) = rendered.body else {
        return Ok(VoicemailPreview { text: None, audio_url: None, problem: rendered.problem });
    };
    let speech = org_speech(state).await?;
    match state.providers.speaker().audio(&speech, input.voice_id.as_deref(), &text).await {
        Ok(a) => {
            let link = state.keys.sign_link(&format!("preview:{}:{}", user.id, a.hash));
            let short = match &speech {
                Speech::ElevenLabs(e) => seconds(a.size, e.output_format()).filter(|s| *s <= MIN_DROP_SECONDS),
                Speech::Local => None,
            };
            let problem = short.map(|s| format!("About {s:.1} s long: Slybroadcast drops need more than 5 s, so lengthen the script"));
            Ok(VoicemailPreview { text: Some(text), audio_url: Some(format!("/api/voicemail/audio/{link}.mp3")), problem })
        }
        Err(e) => Ok(VoicemailPreview { text: Some(text), audio_url: None, problem: Some(e.message().to_string()) }),
    }
}

pub async fn accounts_view(state: &AppState, user_id: Uuid) -> Result<VoicemailAccountsView, AppError> {
    let r = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM provider_credentials WHERE provider = 'elevenlabs' AND user_id IS NULL) AS "elevenlabs!",
                  (SELECT account_sid FROM provider_credentials WHERE provider = 'slybroadcast' AND (user_id = $1 OR user_id IS NULL)
                   ORDER BY user_id NULLS LAST LIMIT 1) AS uid,
                  EXISTS (SELECT 1 FROM provider_credentials WHERE provider = 'slybroadcast' AND user_id = $1) AS "own!""#,
        user_id
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(VoicemailAccountsView { elevenlabs: r.elevenlabs, slybroadcast_uid: r.uid, slybroadcast_own: r.own })
}

/// Sets or removes a Slybroadcast login: the user's own, or with `org` the organisation's.
pub async fn set_slybroadcast(state: &AppState, actor: &AuthUser, org: bool, input: &SlybroadcastAccountInput) -> Result<VoicemailAccountsView, AppError> {
    if org {
        actor.require_admin()?;
    }
    let uid = input.uid.trim();
    let account = if uid.is_empty() {
        None
    } else {
        crate::domain::EmailAddress::parse(uid).map_err(|_| AppError::unprocessable("A Slybroadcast login is the account's email address"))?;
        if input.password.is_empty() {
            return Err(AppError::unprocessable("Enter the account's password"));
        }
        Some((uid, input.password.as_str()))
    };
    let owner = (!org).then_some(actor.id);
    let mut tx = state.pool.begin().await?;
    save_account(&mut tx, &state.keys, "slybroadcast", owner, account).await?;
    let after = serde_json::json!({ "scope": if org { "organisation" } else { "own" }, "uid": account.map(|a| a.0) });
    audit::record(&mut *tx, Some(actor.id), "provider.slybroadcast_saved", "user", owner, None, Some(after)).await?;
    tx.commit().await?;
    accounts_view(state, actor.id).await
}

/// Sets or removes the organisation's ElevenLabs key (admins).
pub async fn set_elevenlabs(state: &AppState, actor: &AuthUser, api_key: &str) -> Result<VoicemailAccountsView, AppError> {
    actor.require_admin()?;
    let key = api_key.trim();
    let mut tx = state.pool.begin().await?;
    save_account(&mut tx, &state.keys, "elevenlabs", None, (!key.is_empty()).then_some(("elevenlabs", key))).await?;
    audit::record(&mut *tx, Some(actor.id), "provider.elevenlabs_saved", "organisation", None, None, Some(serde_json::json!({ "set": !key.is_empty() })))
        .await?;
    tx.commit().await?;
    accounts_view(state, actor.id).await
}

/// Erasure: the contact's drops and the audio only they were sent (it speaks their name) go,
/// in the caller's transaction; audio another contact was also sent stays. How many files.
pub async fn erase_contact(state: &AppState, db: &mut sqlx::PgConnection, contact_id: Uuid) -> Result<u64, AppError> {
    let hashes = sqlx::query_scalar!(
        "DELETE FROM voicemail_drops d USING messages m, conversations c
         WHERE d.message_id = m.id AND c.id = m.conversation_id AND c.contact_id = $1
         RETURNING d.audio_hash",
        contact_id
    )
    .fetch_all(&mut *db)
    .await?;
    let gone = sqlx::query_scalar!(
        "DELETE FROM voice_audio a WHERE a.hash = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM voicemail_drops d WHERE d.audio_hash = a.hash)
         RETURNING a.hash",
        &hashes
    )
    .fetch_all(&mut *db)
    .await?;
    for hash in &gone {
        state.media.forget(&audio_key(hash)).await?;
    }
    Ok(gone.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_come_from_size_and_bit_rate() {
        assert_eq!(seconds(80_000, "mp3_44100_128"), Some(5.0));
        assert_eq!(seconds(16_000, "mp3_22050_32"), Some(4.0));
        assert_eq!(seconds(80_000, "pcm_16000"), None);
    }

    #[test]
    fn signed_segments_name_their_message_for_one_purpose() {
        let keys = Keys::from_master(&[7u8; 32]);
        let id = Uuid::now_v7();
        let audio = keys.sign_link(&format!("{AUDIO_LINK}{id}"));
        assert_eq!(signed_message(&keys, &audio, AUDIO_LINK), Some(id));
        assert_eq!(signed_message(&keys, &audio, DISPO), None, "an audio link is not a report URL");
        assert_eq!(signed_message(&Keys::from_master(&[8u8; 32]), &audio, AUDIO_LINK), None);
    }
}
