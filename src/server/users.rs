//! Users: accounts, roles, sign-in state and sending identities. Owns the `users` and
//! `password_resets` tables.
use crate::domain::user::{
    InviteOutcome, NewUser, Profile, ProfileUpdate, SmtpTls, UserUpdate, UserView, check_new_password,
};
use crate::domain::{AppError, E164Phone, EmailAddress, Role};
use crate::server::auth::{self, AuthUser, password};
use crate::server::audit;
use crate::server::state::AppState;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, Transaction};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub token_version: i32,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl UserRow {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role,
            disabled: self.disabled,
            created_at: self.created_at,
        }
    }
}

pub async fn find_by_id(pool: &PgPool, id: Uuid) -> Result<Option<UserRow>, AppError> {
    Ok(sqlx::query_as!(
        UserRow,
        r#"SELECT id, email, name, role AS "role: Role", password_hash, token_version, disabled, created_at
           FROM users WHERE id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?)
}

pub async fn find_by_email(pool: &PgPool, email: &EmailAddress) -> Result<Option<UserRow>, AppError> {
    Ok(sqlx::query_as!(
        UserRow,
        r#"SELECT id, email, name, role AS "role: Role", password_hash, token_version, disabled, created_at
           FROM users WHERE lower(email) = $1"#,
        email.as_str()
    )
    .fetch_optional(pool)
    .await?)
}

pub async fn count(pool: &PgPool) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM users"#).fetch_one(pool).await?)
}

pub async fn list(pool: &PgPool) -> Result<Vec<UserView>, AppError> {
    Ok(sqlx::query_as!(
        UserView,
        r#"SELECT id, email, name, role AS "role: Role", disabled, created_at
           FROM users ORDER BY disabled, lower(name), id"#
    )
    .fetch_all(pool)
    .await?)
}

/// Inserts a user; the email must already be parsed.
pub async fn insert(
    db: impl PgExecutor<'_>,
    email: &EmailAddress,
    name: &str,
    role: Role,
    password_hash: Option<&str>,
) -> Result<UserView, AppError> {
    Ok(sqlx::query_as!(
        UserView,
        r#"INSERT INTO users (id, email, name, role, password_hash)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, email, name, role AS "role: Role", disabled, created_at"#,
        Uuid::now_v7(),
        email.as_str(),
        name,
        role as Role,
        password_hash
    )
    .fetch_one(db)
    .await?)
}

pub async fn bump_token_version(pool: &PgPool, id: Uuid) -> Result<(), AppError> {
    sqlx::query!("UPDATE users SET token_version = token_version + 1, updated_at = now() WHERE id = $1", id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Sets a password hash, revokes earlier tokens and voids outstanding reset links; returns
/// the new token version.
pub async fn set_password(db: &mut PgConnection, id: Uuid, hash: &str) -> Result<i32, AppError> {
    let version = sqlx::query_scalar!(
        "UPDATE users SET password_hash = $2, token_version = token_version + 1, updated_at = now()
         WHERE id = $1 RETURNING token_version",
        id,
        hash
    )
    .fetch_one(&mut *db)
    .await?;
    sqlx::query!("UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL", id)
        .execute(&mut *db)
        .await?;
    Ok(version)
}

pub async fn insert_reset(pool: &PgPool, token_hash: &[u8], user_id: Uuid, expires_at: DateTime<Utc>) -> Result<(), AppError> {
    sqlx::query!(
        "INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
        token_hash,
        user_id,
        expires_at
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a live reset link used and returns its user; `None` when it is unknown, used or expired.
pub async fn take_reset(tx: &mut Transaction<'_, Postgres>, token_hash: &[u8]) -> Result<Option<Uuid>, AppError> {
    Ok(sqlx::query_scalar!(
        "UPDATE password_resets SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
         RETURNING user_id",
        token_hash
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// An admin adds a user, with a password or with an invitation link to set one.
pub async fn create(state: &AppState, actor: &AuthUser, new: NewUser) -> Result<InviteOutcome, AppError> {
    actor.require_admin()?;
    let email = EmailAddress::parse(&new.email).map_err(AppError::unprocessable)?;
    let name = required_name(&new.name)?;
    let hash = match new.password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => {
            check_new_password(p).map_err(AppError::unprocessable)?;
            Some(password::hash(p).await?)
        }
        None => None,
    };
    let mut tx = state.pool.begin().await?;
    let user = insert(&mut *tx, &email, &name, new.role, hash.as_deref()).await?;
    audit::record(&mut *tx, Some(actor.id), "user.created", "user", Some(user.id), None, Some(audit::json(&user))).await?;
    tx.commit().await?;
    let (emailed, link) = if hash.is_none() {
        auth::issue_password_link(state, user.id, &user.email, true).await?
    } else {
        (false, None)
    };
    Ok(InviteOutcome { user, emailed, link })
}

/// An admin changes a user's name, role or disabled flag. Disabling revokes their tokens.
pub async fn update(state: &AppState, actor: &AuthUser, id: Uuid, change: UserUpdate) -> Result<UserView, AppError> {
    actor.require_admin()?;
    let before = find_by_id(&state.pool, id).await?.ok_or_else(|| AppError::not_found("User"))?.view();
    if id == actor.id && (change.disabled == Some(true) || change.role.is_some_and(|r| r != Role::Admin)) {
        return Err(AppError::unprocessable("You cannot disable yourself or remove your own admin role"));
    }
    let name = change.name.as_deref().map(required_name).transpose()?;
    let disabling = change.disabled == Some(true) && !before.disabled;
    let mut tx = state.pool.begin().await?;
    let after = sqlx::query_as!(
        UserView,
        r#"UPDATE users SET
             name = COALESCE($2, name),
             role = COALESCE($3, role),
             disabled = COALESCE($4, disabled),
             token_version = token_version + CASE WHEN $5 THEN 1 ELSE 0 END,
             updated_at = now()
           WHERE id = $1
           RETURNING id, email, name, role AS "role: Role", disabled, created_at"#,
        id,
        name,
        change.role as Option<Role>,
        change.disabled,
        disabling
    )
    .fetch_one(&mut *tx)
    .await?;
    audit::record(&mut *tx, Some(actor.id), "user.updated", "user", Some(id), Some(audit::json(&before)), Some(audit::json(&after))).await?;
    tx.commit().await?;
    Ok(after)
}

/// An admin resets a user's password: to one they chose, or with a single-use link.
/// Either way the user's current sign-ins end.
pub async fn admin_reset_password(
    state: &AppState,
    actor: &AuthUser,
    id: Uuid,
    new_password: Option<String>,
) -> Result<InviteOutcome, AppError> {
    actor.require_admin()?;
    let user = find_by_id(&state.pool, id).await?.ok_or_else(|| AppError::not_found("User"))?;
    let mut tx = state.pool.begin().await?;
    match new_password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => {
            check_new_password(p).map_err(AppError::unprocessable)?;
            set_password(&mut *tx, id, &password::hash(p).await?).await?;
        }
        None => {
            sqlx::query!("UPDATE users SET token_version = token_version + 1 WHERE id = $1", id)
                .execute(&mut *tx)
                .await?;
        }
    }
    audit::record(&mut *tx, Some(actor.id), "user.password_reset_by_admin", "user", Some(id), None, None).await?;
    tx.commit().await?;
    let (emailed, link) = if new_password.as_deref().is_some_and(|p| !p.is_empty()) {
        (false, None)
    } else {
        auth::issue_password_link(state, id, &user.email, false).await?
    };
    Ok(InviteOutcome { user: user.view(), emailed, link })
}

fn required_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        Err(AppError::unprocessable("A name is required"))
    } else if name.chars().count() > 200 {
        Err(AppError::unprocessable("Names can have at most 200 characters"))
    } else {
        Ok(name.to_string())
    }
}

pub async fn profile(db: impl PgExecutor<'_>, id: Uuid) -> Result<Profile, AppError> {
    let r = sqlx::query!(
        r#"SELECT id, email, name, role AS "role: Role", mobile_phone, sms_from_number, vm_caller_id, smtp_host, smtp_port,
                  smtp_username, smtp_tls AS "smtp_tls: SmtpTls", smtp_from_email,
                  smtp_password_enc IS NOT NULL AS "smtp_password_set!"
           FROM users WHERE id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AppError::not_found("User"))?;
    Ok(Profile {
        id: r.id,
        email: r.email,
        name: r.name,
        role: r.role,
        mobile_phone: r.mobile_phone,
        sms_from_number: r.sms_from_number,
        vm_caller_id: r.vm_caller_id,
        smtp_host: r.smtp_host,
        smtp_port: r.smtp_port.and_then(|p| u16::try_from(p).ok()),
        smtp_username: r.smtp_username,
        smtp_tls: r.smtp_tls,
        smtp_from_email: r.smtp_from_email,
        smtp_password_set: r.smtp_password_set,
    })
}

/// A user updates their own profile and sending identities; every field is parsed first,
/// and the SMTP password is sealed before it reaches the database.
pub async fn update_profile(state: &AppState, user: &AuthUser, u: ProfileUpdate) -> Result<Profile, AppError> {
    let region = &state.settings.default_region;
    let opt = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string);
    let phone = |label: &str, s: &str| -> Result<Option<String>, AppError> {
        opt(s)
            .map(|s| E164Phone::parse(&s, region).map(|p| p.as_str().to_string()))
            .transpose()
            .map_err(|e| AppError::unprocessable(format!("{label}: {e}")))
    };
    let name = required_name(&u.name)?;
    let sms_from = phone("SMS from-number", &u.sms_from_number)?;
    let mobile = phone("Mobile number", &u.mobile_phone)?;
    let vm_caller = phone("Voicemail caller id", &u.vm_caller_id)?;
    let smtp_port = opt(&u.smtp_port)
        .map(|p| p.parse::<u16>().ok().filter(|p| *p > 0))
        .map(|p| p.ok_or_else(|| AppError::unprocessable("SMTP port must be a number from 1 to 65535")))
        .transpose()?;
    let smtp_tls = SmtpTls::parse(u.smtp_tls.trim())
        .ok_or_else(|| AppError::unprocessable("SMTP TLS mode must be starttls, tls or none"))?;
    let smtp_from = opt(&u.smtp_from_email)
        .map(|e| EmailAddress::parse(&e).map(|e| e.to_string()))
        .transpose()
        .map_err(|e| AppError::unprocessable(format!("SMTP from address: {e}")))?;
    let (set_secret, sealed) = match u.smtp_password.as_deref() {
        None => (false, None),
        Some("") => (true, None),
        Some(p) => (true, Some(state.keys.seal(p).map_err(|e| crate::server::error::internal("sealing a secret", e))?)),
    };
    let before = profile(&state.pool, user.id).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        "UPDATE users SET name = $2, sms_from_number = $3, vm_caller_id = $4, smtp_host = $5, smtp_port = $6,
                smtp_username = $7, smtp_tls = $8, smtp_from_email = $9,
                smtp_password_enc = CASE WHEN $10 THEN $11 ELSE smtp_password_enc END,
                mobile_phone = $12, updated_at = now()
         WHERE id = $1",
        user.id,
        name,
        sms_from,
        vm_caller,
        opt(&u.smtp_host),
        smtp_port.map(i32::from),
        opt(&u.smtp_username),
        smtp_tls as SmtpTls,
        smtp_from,
        set_secret,
        sealed,
        mobile
    )
    .execute(&mut *tx)
    .await?;
    let after = profile(&mut *tx, user.id).await?;
    audit::record(&mut *tx, Some(user.id), "user.profile_updated", "user", Some(user.id), Some(audit::json(&before)), Some(audit::json(&after))).await?;
    tx.commit().await?;
    Ok(after)
}

/// The provider the user chose for their texts; `None` follows the organisation's.
pub async fn sms_provider(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<crate::domain::bonzo::SmsProvider>, AppError> {
    Ok(sqlx::query_scalar!(r#"SELECT sms_provider AS "p: crate::domain::bonzo::SmsProvider" FROM users WHERE id = $1"#, id).fetch_one(db).await?)
}

pub async fn set_sms_provider(db: impl PgExecutor<'_>, id: Uuid, p: Option<crate::domain::bonzo::SmsProvider>) -> Result<(), AppError> {
    sqlx::query!("UPDATE users SET sms_provider = $2 WHERE id = $1", id, p.map(|p| p.as_str())).execute(db).await?;
    Ok(())
}
