//! MMS media: the files that come with inbound texts. The text is committed first with a
//! pending row per file (`record`); the files are fetched after the commit, with the account's
//! credentials, into Turnout's durable store (files under `<data dir>/media`, or an
//! S3-compatible bucket), retried with backoff, and a file that cannot be had is recorded as
//! failed with why. They are served only to users who may see the conversation.
//! Owns `message_media`.
use crate::domain::AppError;
use crate::domain::media::{MediaState, MediaView};
use crate::server::auth::AuthUser;
use crate::server::error::internal;
use crate::server::settings::Settings;
use crate::server::state::AppState;
use crate::server::{conversations, providers};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutPayload};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Tries per file before it is recorded as failed.
const MAX_ATTEMPTS: i32 = 5;
/// How long a fetch in flight holds its row before another worker may take it.
const LEASE_S: f64 = 120.0;
/// How often the worker looks for fetches due (a retry, or one a restart interrupted).
const POLL: Duration = Duration::from_secs(10);
/// Twilio sends at most ten files with a message.
const MAX_FILES: usize = 10;

/// The media store and what it keeps.
pub struct Media {
    store: Arc<dyn ObjectStore>,
    http: reqwest::Client,
    /// Only URLs under Twilio's API get the account's credentials.
    api_base: String,
    max_bytes: u64,
    content_types: Vec<String>,
}

impl Media {
    /// Deletes an object; one that is gone already is fine (erasure may run twice).
    pub async fn forget(&self, key: &StorePath) -> Result<(), AppError> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(internal("deleting media", e)),
        }
    }

    /// The store itself: voicemail audio lives in it too.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn new(settings: &Settings) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.provider_timeout_s.max(1)))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            store: open_store(settings)?,
            http,
            api_base: settings.twilio_api_base.trim_end_matches('/').to_string(),
            max_bytes: settings.media_max_bytes,
            content_types: settings.media_content_types.split(',').map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect(),
        })
    }
}

/// Files under `<data dir>/media`, or the bucket `media_store_url` names (`s3://bucket/prefix`).
fn open_store(s: &Settings) -> Result<Arc<dyn ObjectStore>, String> {
    let url = s.media_store_url.trim();
    if url.is_empty() {
        let dir = s.turnout_data_dir.join("media");
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create the media folder {}: {e}", dir.display()))?;
        let local = LocalFileSystem::new_with_prefix(&dir).map_err(|e| format!("media folder {}: {e}", dir.display()))?;
        return Ok(Arc::new(local));
    }
    let rest = url.strip_prefix("s3://").ok_or_else(|| format!("MEDIA_STORE_URL must be empty or s3://bucket, not {url}"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let mut b = AmazonS3Builder::new().with_bucket_name(bucket).with_region(s.media_s3_region.trim());
    let endpoint = s.media_s3_endpoint.trim();
    if !endpoint.is_empty() {
        // S3-compatible servers (MinIO and the like) take the bucket in the path.
        b = b.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://")).with_virtual_hosted_style_request(false);
    }
    if !s.media_s3_access_key_id.is_empty() {
        b = b.with_access_key_id(s.media_s3_access_key_id.trim()).with_secret_access_key(s.media_s3_secret_access_key.trim());
    }
    let s3 = b.build().map_err(|e| format!("media bucket {url}: {e}"))?;
    let prefix = prefix.trim_matches('/');
    Ok(if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) })
}

fn key(id: Uuid) -> StorePath {
    StorePath::from(id.to_string())
}

/// A file an inbound message names: Twilio's `MediaUrlN` and `MediaContentTypeN`.
pub struct MediaRef<'a> {
    pub url: &'a str,
    pub content_type: Option<&'a str>,
}

/// The files of a webhook's parameters (`NumMedia`, then each `MediaUrlN`).
pub fn refs<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Vec<MediaRef<'a>>, AppError> {
    let n = match get("NumMedia") {
        Some(n) => n.trim().parse::<usize>().map_err(|_| AppError::bad_request("NumMedia is not a number"))?,
        None => 0,
    };
    Ok((0..n.min(MAX_FILES))
        .filter_map(|i| Some(MediaRef { url: get(&format!("MediaUrl{i}"))?, content_type: get(&format!("MediaContentType{i}")) }))
        .collect())
}

/// Records the files to fetch, in the transaction that stores their message.
pub async fn record(db: &mut sqlx::PgConnection, message_id: Uuid, account_sid: &str, files: &[MediaRef<'_>]) -> Result<(), AppError> {
    for (i, f) in files.iter().enumerate() {
        sqlx::query!(
            "INSERT INTO message_media (id, message_id, position, source_url, account_sid, content_type)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (message_id, position) DO NOTHING",
            Uuid::now_v7(),
            message_id,
            i as i32,
            f.url,
            account_sid,
            f.content_type.map(normal_type).unwrap_or_default()
        )
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

/// `image/jpeg; charset=…` → `image/jpeg`.
fn normal_type(t: &str) -> String {
    t.split(';').next().unwrap_or_default().trim().to_lowercase()
}

/// Fetches a new message's files now (spawned once its webhook's transaction committed);
/// what fails for a passing reason is left to the worker's retries.
pub async fn fetch_message(state: AppState, message_id: Uuid) {
    fetch_due(&state, Some(message_id)).await;
}

/// Fetches files whose time has come: retries, and fetches a restart interrupted.
pub async fn worker(state: AppState) {
    loop {
        fetch_due(&state, None).await;
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = state.shutdown.cancelled() => return,
        }
    }
}

async fn fetch_due(state: &AppState, message_id: Option<Uuid>) {
    let claimed = sqlx::query!(
        r#"UPDATE message_media SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
           WHERE id IN (SELECT id FROM message_media
                        WHERE state = 'pending' AND next_attempt_at <= now() AND ($1::uuid IS NULL OR message_id = $1)
                        ORDER BY next_attempt_at LIMIT 20 FOR UPDATE SKIP LOCKED)
           RETURNING id, source_url AS "url!", account_sid AS "account_sid!", content_type, attempts"#,
        message_id,
        LEASE_S
    )
    .fetch_all(&state.pool)
    .await;
    let claimed = match claimed {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "cannot claim media to fetch");
            return;
        }
    };
    for m in claimed {
        let outcome = fetch_one(state, m.id, &m.url, &m.account_sid, &m.content_type).await;
        let recorded = match outcome {
            Ok((content_type, size)) => stored(state, m.id, &content_type, size).await,
            Err(Fetch::Again(why)) if m.attempts < MAX_ATTEMPTS => {
                tracing::warn!(media = %m.id, attempt = m.attempts, why, "media fetch failed; will retry");
                retry_later(state, m.id, m.attempts, &why).await
            }
            Err(Fetch::Again(why)) => failed(state, m.id, &format!("Gave up after {} tries: {why}", m.attempts)).await,
            Err(Fetch::Never(why)) => failed(state, m.id, &why).await,
        };
        if let Err(e) = recorded {
            tracing::error!(media = %m.id, error = %e.error, "media fetch outcome not recorded; it will be fetched again");
        }
    }
}

/// Why a fetch failed: worth trying again (5xx, 429, the network), or not (4xx, too big,
/// a type Turnout does not keep).
enum Fetch {
    Again(String),
    Never(String),
}

async fn fetch_one(state: &AppState, id: Uuid, url: &str, account_sid: &str, declared: &str) -> Result<(String, i64), Fetch> {
    let media = &state.media;
    // The account's credentials go only to Twilio's API; its answer is a redirect to the
    // file host, which gets none (reqwest drops Authorization when the host changes).
    if !url.starts_with(&format!("{}/", media.api_base)) {
        return Err(Fetch::Never(format!("{url} is not under Twilio's API ({})", media.api_base)));
    }
    let token = providers::twilio_token(&state.pool, &state.keys, account_sid)
        .await
        .map_err(|e| Fetch::Again(e.error))?
        .ok_or_else(|| Fetch::Never(format!("Twilio account {account_sid} is no longer set up")))?;
    if !declared.is_empty() && !media.content_types.iter().any(|t| t == declared) {
        return Err(Fetch::Never(format!("{declared} files are not kept")));
    }
    let mut res = media.http.get(url).basic_auth(account_sid, Some(token)).send().await.map_err(|e| Fetch::Again(e.to_string()))?;
    let status = res.status();
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(Fetch::Again(format!("the media host answered {status}")));
    }
    if !status.is_success() {
        return Err(Fetch::Never(format!("the media host answered {status}")));
    }
    let content_type = if declared.is_empty() {
        let sent = res.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(normal_type).unwrap_or_default();
        if !media.content_types.contains(&sent) {
            return Err(Fetch::Never(format!("'{sent}' files are not kept")));
        }
        sent
    } else {
        declared.to_string()
    };
    let too_big = || Fetch::Never(format!("larger than {} bytes", media.max_bytes));
    if res.content_length().is_some_and(|n| n > media.max_bytes) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| Fetch::Again(e.to_string()))? {
        if (body.len() + chunk.len()) as u64 > media.max_bytes {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    let size = body.len() as i64;
    media.store.put(&key(id), PutPayload::from(body)).await.map_err(|e| Fetch::Again(format!("media store: {e}")))?;
    Ok((content_type, size))
}

async fn stored(state: &AppState, id: Uuid, content_type: &str, size: i64) -> Result<(), AppError> {
    sqlx::query!(
        "UPDATE message_media SET state = 'stored', content_type = $2, size_bytes = $3, source_url = NULL, error = NULL
         WHERE id = $1",
        id,
        content_type,
        size
    )
    .execute(&state.pool)
    .await?;
    Ok(())
}

async fn retry_later(state: &AppState, id: Uuid, attempts: i32, why: &str) -> Result<(), AppError> {
    let pause = f64::from(2u32.pow(attempts.clamp(1, 10) as u32)) * 5.0;
    sqlx::query!(
        "UPDATE message_media SET next_attempt_at = now() + make_interval(secs => $2), error = $3 WHERE id = $1",
        id,
        pause,
        why
    )
    .execute(&state.pool)
    .await?;
    Ok(())
}

async fn failed(state: &AppState, id: Uuid, why: &str) -> Result<(), AppError> {
    tracing::warn!(media = %id, why, "media not kept");
    sqlx::query!("UPDATE message_media SET state = 'failed', error = $2, source_url = NULL WHERE id = $1", id, why)
        .execute(&state.pool)
        .await?;
    Ok(())
}

/// The files of these messages, for the conversation view, in their message's order.
pub async fn of_messages(pool: &sqlx::PgPool, messages: &[Uuid]) -> Result<HashMap<Uuid, Vec<MediaView>>, AppError> {
    let rows = sqlx::query!(
        r#"SELECT id, message_id, content_type, state AS "state: MediaState", error FROM message_media
           WHERE message_id = ANY($1) ORDER BY message_id, position"#,
        messages
    )
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<Uuid, Vec<MediaView>> = HashMap::new();
    for r in rows {
        out.entry(r.message_id).or_default().push(MediaView {
            id: r.id,
            content_type: r.content_type,
            url: format!("/api/media/{}", r.id),
            state: r.state,
            error: r.error,
        });
    }
    Ok(out)
}

/// Where a stored file is and its type, for a user who may see its conversation; "not
/// found" for anyone else, so its existence is not revealed. A voicemail's file is its
/// shared rendered audio.
pub async fn locate(state: &AppState, user: &AuthUser, id: Uuid) -> Result<(String, StorePath), AppError> {
    let row = sqlx::query!("SELECT message_id, content_type, object_key FROM message_media WHERE id = $1 AND state = 'stored'", id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| AppError::not_found("Media"))?;
    if !conversations::may_see_message(&state.pool, user, row.message_id).await? {
        return Err(AppError::not_found("Media"));
    }
    Ok((row.content_type, row.object_key.map(StorePath::from).unwrap_or_else(|| key(id))))
}

/// Forgets the files of a contact's messages (erasure): the objects are deleted from the
/// store first, then the rows, in the caller's transaction. How many there were.
pub async fn erase_contact(state: &AppState, db: &mut sqlx::PgConnection, contact_id: Uuid) -> Result<u64, AppError> {
    // Voicemail rows (with an object key) point at shared audio, which voicemail erasure owns.
    let ids = sqlx::query_scalar!(
        "DELETE FROM message_media mm USING messages m, conversations c
         WHERE m.id = mm.message_id AND c.id = m.conversation_id AND c.contact_id = $1
         RETURNING CASE WHEN mm.object_key IS NULL THEN mm.id END",
        contact_id
    )
    .fetch_all(&mut *db)
    .await?;
    let ids: Vec<Uuid> = ids.into_iter().flatten().collect();
    for id in &ids {
        state.media.forget(&key(*id)).await?;
    }
    Ok(ids.len() as u64)
}
