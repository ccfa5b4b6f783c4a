//! Gmail: a BDR connects their own Google account (OAuth 2.0 authorization code with PKCE,
//! tokens sealed at rest, refreshed before they expire), their campaign email and inbox
//! replies go out through it, and its new mail is synced (History API from the stored
//! `historyId`, a full resync when Google says that is too old). Only replies that match our
//! mail enter Turnout: by Gmail thread, then by the Message-ID they answer, then by a
//! sender who is a contact in one of the BDR's campaigns; everything else in the mailbox is
//! left alone.
use crate::domain::AppError;
use crate::domain::campaign::{Channel, EnrollmentStatus};
use crate::domain::google::{GoogleAccountView, SyncReport};
use crate::domain::inbox::{Event, EventKind};
use crate::domain::reply::{self, Intent};
use crate::server::auth::AuthUser;
use crate::server::crypto::{Keys, token_hash};
use crate::server::engine::compliance;
use crate::server::error::internal;
use crate::server::gmail_mail::{self, MailKind, ParsedMail};
use crate::server::providers::gmail::{ApiError, Mailbox, RawMessage};
use crate::server::settings::Settings;
use crate::server::state::AppState;
use crate::server::{audit, campaigns, conversations, org, realtime};
use chrono::{DateTime, Duration, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

/// Send mail as the user, and read their mailbox to find replies.
const SCOPES: [&str; 2] = ["https://www.googleapis.com/auth/gmail.send", "https://www.googleapis.com/auth/gmail.readonly"];
/// How long an authorization may take from the redirect to Google to the way back.
const STATE_TTL_MINUTES: i64 = 10;
/// A full resync looks this far back, at most this many pages of mail.
const RESYNC_QUERY: &str = "newer_than:30d -in:sent -in:drafts";
const RESYNC_PAGES: usize = 10;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Why no access token can be had.
#[derive(Debug)]
pub enum TokenError {
    NotConnected,
    /// Google refused the refresh token: the user must connect again.
    Reconnect(String),
    Transient(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::NotConnected => f.write_str("No Google account is connected"),
            TokenError::Reconnect(email) => write!(f, "Google no longer accepts Turnout's access to {email}: reconnect Google in Settings"),
            TokenError::Transient(why) => write!(f, "Google could not be reached: {why}"),
        }
    }
}

impl From<TokenError> for AppError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Transient(_) => AppError { status: 502, error: e.to_string() },
            _ => AppError::conflict(e.to_string()),
        }
    }
}

/// Google's OAuth client and the users' tokens; shared by the Gmail route and the sync.
pub struct GoogleAuth {
    pool: PgPool,
    keys: Arc<Keys>,
    settings: Arc<Settings>,
    http: reqwest::Client,
    /// For the token endpoint: it must not follow redirects (oauth2's advice against SSRF).
    oauth_http: reqwest::Client,
}

impl GoogleAuth {
    pub fn new(pool: PgPool, keys: Arc<Keys>, settings: &Settings, http: reqwest::Client) -> Result<Self, String> {
        let oauth_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(settings.provider_timeout_s.max(1)))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self { pool, keys, settings: Arc::new(settings.clone()), http, oauth_http })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn api_base(&self) -> &str {
        self.settings.gmail_api_base.trim_end_matches('/')
    }

    pub fn configured(&self) -> bool {
        !self.settings.google_client_id.trim().is_empty()
    }

    fn client(&self) -> Result<Client, String> {
        let s = &self.settings;
        let url = |u: &str, what: &str| format!("{what} '{u}' is not a URL");
        Ok(BasicClient::new(ClientId::new(s.google_client_id.trim().to_string()))
            .set_client_secret(ClientSecret::new(s.google_client_secret.trim().to_string()))
            .set_auth_uri(AuthUrl::new(s.google_auth_url.clone()).map_err(|_| url(&s.google_auth_url, "GOOGLE_AUTH_URL"))?)
            .set_token_uri(TokenUrl::new(s.google_token_url.clone()).map_err(|_| url(&s.google_token_url, "GOOGLE_TOKEN_URL"))?)
            .set_redirect_uri(RedirectUrl::new(format!("{}/api/google/callback", s.public_origin())).map_err(|_| "PUBLIC_BASE_URL is not a URL".to_string())?))
    }

    /// A valid access token for the user's mailbox, refreshed when it is about to expire
    /// (or with `force`, after Google refused it).
    pub async fn token(&self, user: Uuid, force: bool) -> Result<String, TokenError> {
        let transient = |e: AppError| TokenError::Transient(e.error);
        let row = sqlx::query!(
            "SELECT email, access_token_enc, refresh_token_enc, expires_at, state FROM google_accounts WHERE user_id = $1",
            user
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| transient(e.into()))?
        .ok_or(TokenError::NotConnected)?;
        if row.state == "reconnect" {
            return Err(TokenError::Reconnect(row.email));
        }
        let unseal = |sealed: &[u8]| self.keys.open(sealed).map_err(|_| TokenError::Reconnect(row.email.clone()));
        if !force && row.expires_at > Utc::now() + Duration::seconds(60) {
            return unseal(&row.access_token_enc);
        }
        let Some(refresh) = row.refresh_token_enc.as_deref() else { return Err(TokenError::Reconnect(row.email)) };
        let refresh = unseal(refresh)?;
        let client = self.client().map_err(TokenError::Transient)?;
        let answer = client.exchange_refresh_token(&RefreshToken::new(refresh)).request_async(&self.oauth_http).await;
        let token = match answer {
            Ok(t) => t,
            Err(RequestTokenError::ServerResponse(e)) if *e.error() == BasicErrorResponseType::InvalidGrant => {
                let why = e.error_description().cloned().unwrap_or_else(|| "invalid_grant".into());
                self.mark_reconnect(user, &why).await.map_err(transient)?;
                return Err(TokenError::Reconnect(row.email));
            }
            Err(e) => return Err(TokenError::Transient(describe_token_error(&e))),
        };
        let access = token.access_token().secret().to_string();
        let expires = Utc::now() + expires_in(token.expires_in());
        let sealed_refresh = token.refresh_token().map(|r| self.keys.seal(r.secret())).transpose().map_err(TokenError::Transient)?;
        let sealed_access = self.keys.seal(&access).map_err(TokenError::Transient)?;
        sqlx::query!(
            "UPDATE google_accounts SET access_token_enc = $2, refresh_token_enc = coalesce($3, refresh_token_enc), expires_at = $4,
                    updated_at = now()
             WHERE user_id = $1",
            user,
            sealed_access,
            sealed_refresh,
            expires
        )
        .execute(&self.pool)
        .await
        .map_err(|e| transient(e.into()))?;
        Ok(access)
    }

    async fn mark_reconnect(&self, user: Uuid, why: &str) -> Result<(), AppError> {
        tracing::warn!(%user, why, "Google refused the refresh token; the user must reconnect");
        sqlx::query!(
            "UPDATE google_accounts SET state = 'reconnect', last_error = $2, updated_at = now() WHERE user_id = $1",
            user,
            format!("Google refused Turnout's access ({why}): reconnect")
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn expires_in(d: Option<std::time::Duration>) -> Duration {
    d.and_then(|d| Duration::from_std(d).ok()).unwrap_or(Duration::hours(1))
}

fn describe_token_error<E: std::error::Error + 'static>(e: &E) -> String {
    crate::server::providers::root_cause(e as &dyn std::error::Error).chars().take(300).collect()
}

/// Where to send the browser to connect Google: Google's consent page, with a state and
/// PKCE challenge kept (hashed, sealed) for the way back.
pub async fn connect_url(state: &AppState, user: &AuthUser) -> Result<String, AppError> {
    let auth = state.providers.google();
    if !auth.configured() {
        return Err(AppError::unprocessable("Google is not set up: an administrator sets GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET"));
    }
    let client = auth.client().map_err(AppError::unprocessable)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(SCOPES.iter().map(|s| Scope::new(s.to_string())))
        .set_pkce_challenge(challenge)
        // A refresh token, every time: Google gives one only on consent.
        .add_extra_param("access_type", "offline")
        .add_extra_param("prompt", "consent")
        .url();
    let sealed = state.keys.seal(verifier.secret()).map_err(|e| internal("sealing a PKCE verifier", e))?;
    sqlx::query!("DELETE FROM google_oauth_states WHERE created_at < now() - make_interval(mins => $1)", STATE_TTL_MINUTES as i32)
        .execute(&state.pool)
        .await?;
    sqlx::query!(
        "INSERT INTO google_oauth_states (state_hash, user_id, verifier_enc) VALUES ($1, $2, $3)",
        token_hash(csrf.secret()),
        user.id,
        sealed
    )
    .execute(&state.pool)
    .await?;
    Ok(url.to_string())
}

/// The way back from Google: the state must be this user's, unused and recent; the code
/// is exchanged with the PKCE verifier, and the account is stored with its mailbox's
/// address and current history id (mail from now on is synced).
pub async fn callback(state: &AppState, user: &AuthUser, code: &str, csrf: &str) -> Result<String, AppError> {
    let auth = state.providers.google();
    let verifier = sqlx::query_scalar!(
        "DELETE FROM google_oauth_states WHERE state_hash = $1 AND user_id = $2 AND created_at > now() - make_interval(mins => $3)
         RETURNING verifier_enc",
        token_hash(csrf),
        user.id,
        STATE_TTL_MINUTES as i32
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| AppError::bad_request("This Google sign-in was used already, has expired, or was not started here: connect again"))?;
    let verifier = state.keys.open(&verifier).map_err(|e| internal("opening a PKCE verifier", e))?;
    let client = auth.client().map_err(AppError::unprocessable)?;
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&auth.oauth_http)
        .await
        .map_err(|e| AppError { status: 502, error: format!("Google did not accept the sign-in: {}", describe_token_error(&e)) })?;
    let access = token.access_token().secret().to_string();
    let mailbox = Mailbox { http: &auth.http, base: auth.api_base(), token: &access };
    let profile = mailbox.profile().await.map_err(|e| AppError { status: 502, error: format!("Gmail: {e}") })?;
    let scopes = token.scopes().map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" ")).unwrap_or_else(|| SCOPES.join(" "));
    let seal = |s: &str| state.keys.seal(s).map_err(|e| internal("sealing a token", e));
    let refresh = token.refresh_token().map(|r| seal(r.secret())).transpose()?;
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        "INSERT INTO google_accounts (user_id, email, access_token_enc, refresh_token_enc, expires_at, scopes, history_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id) DO UPDATE SET email = $2, access_token_enc = $3, refresh_token_enc = coalesce($4, google_accounts.refresh_token_enc),
             expires_at = $5, scopes = $6, state = 'connected', last_error = NULL,
             -- History ids belong to one mailbox: another account starts from its own.
             history_id = CASE WHEN google_accounts.email = $2 THEN coalesce(google_accounts.history_id, $7) ELSE $7 END,
             updated_at = now()",
        user.id,
        profile.email_address.to_lowercase(),
        seal(&access)?,
        refresh,
        Utc::now() + expires_in(token.expires_in()),
        scopes,
        profile.history_id
    )
    .execute(&mut *tx)
    .await?;
    audit::record(&mut *tx, Some(user.id), "google.connected", "user", Some(user.id), None, Some(json!({ "email": profile.email_address }))).await?;
    tx.commit().await?;
    Ok(profile.email_address)
}

pub async fn view(state: &AppState, user_id: Uuid) -> Result<GoogleAccountView, AppError> {
    let configured = state.providers.google().configured();
    let row = sqlx::query!("SELECT email, state, last_sync_at, last_error FROM google_accounts WHERE user_id = $1", user_id)
        .fetch_optional(&state.pool)
        .await?;
    Ok(match row {
        Some(r) => GoogleAccountView { configured, email: Some(r.email), state: Some(r.state), last_sync_at: r.last_sync_at, last_error: r.last_error },
        None => GoogleAccountView { configured, ..Default::default() },
    })
}

/// Deletes the tokens, then asks Google to revoke them (a failure there is logged: the
/// tokens are gone from Turnout either way).
pub async fn disconnect(state: &AppState, user: &AuthUser) -> Result<GoogleAccountView, AppError> {
    let mut tx = state.pool.begin().await?;
    let gone = sqlx::query!("DELETE FROM google_accounts WHERE user_id = $1 RETURNING email, access_token_enc, refresh_token_enc", user.id)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(g) = &gone {
        audit::record(&mut *tx, Some(user.id), "google.disconnected", "user", Some(user.id), None, Some(json!({ "email": g.email }))).await?;
    }
    tx.commit().await?;
    if let Some(g) = gone {
        let sealed = g.refresh_token_enc.unwrap_or(g.access_token_enc);
        if let Ok(token) = state.keys.open(&sealed) {
            let auth = state.providers.google();
            let revoked = auth.oauth_http.post(&state.settings.google_revoke_url).form(&[("token", token.as_str())]).send().await;
            match revoked {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(status = %r.status(), "Google did not revoke a disconnected account's token"),
                Err(e) => tracing::warn!(error = %e, "Google could not be asked to revoke a disconnected account's token"),
            }
        }
    }
    view(state, user.id).await
}

/// Syncs the user's mailbox now.
pub async fn sync_now(state: &AppState, user_id: Uuid) -> Result<SyncReport, AppError> {
    sync_account(state, user_id).await
}

/// Syncs every connected mailbox every `gmail_sync_interval_s`.
pub async fn worker(state: AppState) {
    // Background work runs where the engine runs; tests sync on demand.
    if !state.providers.google().configured() || state.settings.engine_workers == 0 {
        return;
    }
    let every = std::time::Duration::from_secs(state.settings.gmail_sync_interval_s.max(5));
    loop {
        match connected(&state.pool).await {
            Ok(users) => {
                for user in users {
                    if let Err(e) = sync_account(&state, user).await {
                        tracing::warn!(%user, error = %e.error, "Gmail sync failed; it is tried again at the next round");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e.error, "cannot list connected Google accounts"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = state.shutdown.cancelled() => return,
        }
    }
}

async fn connected(pool: &PgPool) -> Result<Vec<Uuid>, AppError> {
    Ok(sqlx::query_scalar!("SELECT user_id FROM google_accounts WHERE state = 'connected' ORDER BY last_sync_at NULLS FIRST").fetch_all(pool).await?)
}

/// One sync: the mail added since the stored history id (or the last month's, when Google
/// no longer has that history), each message once; the failure, if any, is kept on the
/// account for Settings to show.
async fn sync_account(state: &AppState, user: Uuid) -> Result<SyncReport, AppError> {
    let result = sync_mailbox(state, user).await;
    let error = result.as_ref().err().map(|e| e.error.clone());
    sqlx::query!(
        "UPDATE google_accounts SET last_sync_at = CASE WHEN $2::text IS NULL THEN now() ELSE last_sync_at END, last_error = $2
         WHERE user_id = $1 AND state = 'connected'",
        user,
        error
    )
    .execute(&state.pool)
    .await?;
    result
}

async fn sync_mailbox(state: &AppState, user: Uuid) -> Result<SyncReport, AppError> {
    let auth = state.providers.google();
    let account = sqlx::query!("SELECT email, history_id FROM google_accounts WHERE user_id = $1", user)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| AppError::not_found("Google account"))?;
    let mut forced = false;
    let (ids, history, token) = loop {
        let token = auth.token(user, forced).await?;
        let mailbox = Mailbox { http: &auth.http, base: auth.api_base(), token: &token };
        match new_mail(&mailbox, account.history_id.as_deref()).await {
            Err(ApiError::Unauthorized) if !forced => forced = true,
            Err(e) => return Err(AppError { status: 502, error: format!("Gmail: {e}") }),
            Ok((ids, history)) => break (ids, history, token),
        }
    };
    let mailbox = Mailbox { http: &auth.http, base: auth.api_base(), token: &token };
    let mut report = SyncReport::default();
    for id in ids {
        if conversations::has_provider_message(&state.pool, "gmail", &id).await? {
            continue;
        }
        let raw = match mailbox.raw(&id).await {
            Ok(r) => r,
            // Deleted between the listing and now.
            Err(ApiError::NotFound) => continue,
            Err(e) => return Err(AppError { status: 502, error: format!("Gmail: {e}") }),
        };
        if raw.label_ids.iter().any(|l| l == "SENT" || l == "DRAFT") {
            continue;
        }
        report.fetched += 1;
        let parsed = match raw.bytes().and_then(|b| gmail_mail::parse(&b)) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(message = raw.id, error = e, "a Gmail message could not be read; skipped");
                continue;
            }
        };
        match store(state, user, &account.email, &raw, &parsed).await? {
            Some(MailKind::Reply) => report.replies += 1,
            Some(MailKind::AutoReply) => report.auto_replies += 1,
            Some(MailKind::Bounce(_)) => report.bounces += 1,
            None => {}
        }
    }
    sqlx::query!("UPDATE google_accounts SET history_id = $2 WHERE user_id = $1", user, history).execute(&state.pool).await?;
    Ok(report)
}

/// The ids of mail added since `from` (newest history id with them); without a usable
/// history id, the last month's mail and the mailbox's current history id.
async fn new_mail(mailbox: &Mailbox<'_>, from: Option<&str>) -> Result<(Vec<String>, String), ApiError> {
    if let Some(start) = from {
        let mut ids = Vec::new();
        let mut page: Option<String> = None;
        let mut latest = start.to_string();
        loop {
            match mailbox.history(start, page.as_deref()).await {
                Ok(p) => {
                    for record in p.history {
                        for added in record.messages_added {
                            if !added.message.label_ids.iter().any(|l| l == "SENT" || l == "DRAFT") && !ids.contains(&added.message.id) {
                                ids.push(added.message.id);
                            }
                        }
                    }
                    if let Some(h) = p.history_id {
                        latest = h;
                    }
                    match p.next_page_token {
                        Some(next) => page = Some(next),
                        None => return Ok((ids, latest)),
                    }
                }
                // Gmail keeps history for about a week: past that, look at the mail itself.
                Err(ApiError::NotFound) => break,
                Err(e) => return Err(e),
            }
        }
    }
    let profile = mailbox.profile().await?;
    let mut ids = Vec::new();
    let mut page: Option<String> = None;
    for _ in 0..RESYNC_PAGES {
        let p = mailbox.list(RESYNC_QUERY, page.as_deref()).await?;
        ids.extend(p.messages.into_iter().map(|m| m.id).filter(|id| !ids.contains(id)).collect::<Vec<_>>());
        match p.next_page_token {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    Ok((ids, profile.history_id))
}

/// Stores one synced message if it answers our mail, and acts on it as on a text: a reply
/// pauses and raises the status (RSVP phrases, else Needs BDR), an opt-out word suppresses
/// the address; an automatic answer is only shown; a bounce suppresses the address that
/// failed and marks the enrollment Bounced. `None` when it is not ours or stored already.
async fn store(state: &AppState, user: Uuid, mailbox: &str, raw: &RawMessage, mail: &ParsedMail) -> Result<Option<MailKind>, AppError> {
    let Some(from) = mail.from.as_deref().filter(|f| !f.eq_ignore_ascii_case(mailbox)) else { return Ok(None) };
    let bounce = match &mail.kind {
        MailKind::Bounce(b) => Some(b),
        _ => None,
    };
    let mut refs: Vec<String> = mail.in_reply_to.iter().chain(&mail.references).chain(bounce.and_then(|b| b.original_message_id.as_ref())).map(|r| format!("<{r}>")).collect();
    refs.sort();
    refs.dedup();
    let mut addresses = vec![from.to_lowercase()];
    addresses.extend(bounce.and_then(|b| b.recipient.clone()));
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    // Gmail rewrites some headers, so the thread is asked first and the sender last.
    let found = match conversations::email_reply_match(&mut tx, user, &raw.thread_id, &refs).await? {
        Some(f) => f,
        None => match campaigns::enrolled_by_email(&mut tx, user, &addresses).await? {
            Some(f) => f,
            None => return Ok(None),
        },
    };
    finish(state, tx, user, raw, mail, found, now).await
}

async fn finish(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    user: Uuid,
    raw: &RawMessage,
    mail: &ParsedMail,
    found: conversations::EmailMatch,
    now: DateTime<Utc>,
) -> Result<Option<MailKind>, AppError> {
    campaigns::lock_contact(&mut tx, found.contact_id).await?;
    let conversation_id = conversations::open(&mut tx, Some(found.contact_id), Channel::Email, &found.address).await?;
    let auto_kind = match &mail.kind {
        MailKind::Reply => None,
        MailKind::AutoReply => Some("auto_reply"),
        MailKind::Bounce(_) => Some("bounce"),
    };
    let message_id_header = mail.message_id.as_ref().map(|m| format!("<{m}>"));
    let from = mail.from.clone().unwrap_or_default();
    let received = conversations::Received {
        conversation_id,
        body: &mail.text,
        provider: "gmail",
        provider_message_id: &raw.id,
        campaign_id: found.campaign_id,
        from: &from,
        to: "",
        at: now,
        email: Some(conversations::EmailParts {
            subject: mail.subject.as_deref(),
            thread_id: &raw.thread_id,
            message_id_header: message_id_header.as_deref(),
            auto_kind,
        }),
    };
    let Some(message_id) = conversations::receive(&mut tx, &received).await? else { return Ok(None) };
    let answered = campaigns::answered(&mut tx, found.contact_id, Channel::Email, "").await?;
    let source = json!({ "source": "gmail", "user": user, "message": raw.id, "from": from });
    match &mail.kind {
        MailKind::AutoReply => {}
        MailKind::Bounce(b) => {
            let failed = b.recipient.clone().unwrap_or_else(|| found.address.clone());
            if b.permanent {
                compliance::suppress(&mut tx, Channel::Email, &failed, &format!("bounced: {}", b.reason), "gmail_bounce").await?;
                if let Some(a) = &answered {
                    if campaigns::mark_bounced(&mut tx, a.enrollment_id).await? {
                        let after = json!({ "status": EnrollmentStatus::Bounced, "by": source });
                        audit::record(&mut *tx, None, "enrollment.status_changed", "enrollment", Some(a.enrollment_id), Some(json!({ "status": a.status })), Some(after)).await?;
                    }
                }
            }
        }
        MailKind::Reply => {
            let phrases = org::get(&state.pool).await?.rsvp_phrases.unwrap_or_default();
            let opted_out = !compliance::suppressed(&mut tx, &[(Channel::Email, found.address.clone())]).await?.is_empty();
            let verdict = reply::classify(&mail.text, None, opted_out, &phrases);
            match verdict.intent {
                Intent::OptOut => {
                    compliance::suppress(&mut tx, Channel::Email, &found.address, &format!("wrote {}", verdict.rule), "email_reply").await?;
                    let changed = campaigns::opt_out_contacts(&mut tx, &[found.contact_id], now).await?;
                    let before: Vec<_> = changed.iter().map(|(e, s)| json!({ "enrollment": e, "status": s })).collect();
                    audit::record(&mut *tx, None, "contact.opted_out", "contact", Some(found.contact_id), Some(json!(before)), Some(source)).await?;
                }
                Intent::Ignore => {}
                intent => {
                    let rsvp = matches!(intent, Intent::Rsvp(_));
                    crate::server::replies::answered_by_reply(&mut tx, answered.as_ref(), found.contact_id, rsvp, &source, now).await?;
                }
            }
        }
    }
    tx.commit().await?;
    let event = Event { contact_id: Some(found.contact_id), ..Event::conversation(EventKind::MessageIn, conversation_id, found.campaign_id) };
    realtime::announce(&state.pool, &[event]).await;
    tracing::info!(%message_id, "Gmail message synced");
    Ok(Some(mail.kind.clone()))
}
