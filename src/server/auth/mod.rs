//! Sign-in, sign-out, password changes and resets.
pub mod limiter;
pub mod password;
pub mod session;
pub mod token;

use crate::domain::user::{LoginResponse, check_new_password};
use crate::domain::{AppError, EmailAddress};
use crate::server::state::AppState;
use crate::server::{audit, crypto, users};
use chrono::{Duration, Utc};
pub use session::AuthUser;
use std::net::IpAddr;
use uuid::Uuid;

/// How long an emailed reset or invitation link works.
const RESET_TTL_HOURS: i64 = 24;
const INVITE_TTL_HOURS: i64 = 72;

pub async fn login(state: &AppState, ip: IpAddr, email: &str, password: &str) -> Result<LoginResponse, AppError> {
    state.limiter.check(ip, email)?;
    let wrong = || AppError { status: 401, error: "Wrong email or password".into() };
    let user = match EmailAddress::parse(email) {
        Ok(email) => users::find_by_email(&state.pool, &email).await?,
        Err(_) => None,
    };
    let ok = password::verify(password, user.as_ref().and_then(|u| u.password_hash.as_deref())).await?;
    let user = match user {
        Some(u) if ok => u,
        _ => return Err(wrong()),
    };
    if user.disabled {
        return Err(AppError { status: 403, error: "This account is disabled; ask an admin".into() });
    }
    let token = token::issue(
        &state.keys,
        user.id,
        user.token_version,
        Utc::now(),
        Duration::hours(state.settings.token_ttl_hours),
    )?;
    Ok(LoginResponse { token, user: user.view() })
}

/// Signing out everywhere: every token issued so far stops working.
pub async fn logout_everywhere(state: &AppState, user: &AuthUser) -> Result<(), AppError> {
    users::bump_token_version(&state.pool, user.id).await
}

pub async fn change_password(state: &AppState, user: &AuthUser, current: &str, new: &str) -> Result<String, AppError> {
    check_new_password(new).map_err(AppError::unprocessable)?;
    let row = users::find_by_id(&state.pool, user.id).await?.ok_or_else(AppError::unauthorized)?;
    if !password::verify(current, row.password_hash.as_deref()).await? {
        return Err(AppError::unprocessable("Your current password is not right"));
    }
    let hash = password::hash(new).await?;
    let mut tx = state.pool.begin().await?;
    let version = users::set_password(&mut *tx, user.id, &hash).await?;
    audit::record(&mut *tx, Some(user.id), "user.password_changed", "user", Some(user.id), None, None).await?;
    tx.commit().await?;
    // A fresh token for this browser; all others are now revoked.
    token::issue(&state.keys, user.id, version, Utc::now(), Duration::hours(state.settings.token_ttl_hours))
}

/// Creates a single-use link to set a password, and emails it when a system sender exists.
/// Returns the link when it could not be emailed, for an admin to pass on.
pub async fn issue_password_link(
    state: &AppState,
    user_id: Uuid,
    email: &str,
    invitation: bool,
) -> Result<(bool, Option<String>), AppError> {
    let token = crypto::random_token();
    let ttl = if invitation { INVITE_TTL_HOURS } else { RESET_TTL_HOURS };
    users::insert_reset(&state.pool, &crypto::token_hash(&token), user_id, Utc::now() + Duration::hours(ttl)).await?;
    let link = format!("{}/reset-password?token={token}", state.settings.public_origin());
    match &state.mailer {
        Some(mailer) => {
            let (subject, intro) = if invitation {
                ("You're invited to Turnout", "An admin has created a Turnout account for you.")
            } else {
                ("Reset your Turnout password", "Someone asked to reset the password of your Turnout account. If it wasn't you, ignore this email.")
            };
            let body = format!(
                "{intro}\n\nSet your password here (the link works once, for {ttl} hours):\n{link}\n"
            );
            mailer.send(email, subject, &body).await?;
            Ok((true, None))
        }
        None => Ok((false, Some(link))),
    }
}

/// A forgotten password: emails a reset link. The answer does not reveal whether the
/// address has an account.
pub async fn request_reset(state: &AppState, email: &str) -> Result<(), AppError> {
    if state.mailer.is_none() {
        return Err(AppError::unprocessable(
            "Password reset by email is not set up on this server; ask an admin to reset your password",
        ));
    }
    let Ok(email) = EmailAddress::parse(email) else {
        return Err(AppError::unprocessable("Enter a valid email address"));
    };
    match users::find_by_email(&state.pool, &email).await? {
        Some(u) if !u.disabled => {
            issue_password_link(state, u.id, u.email.as_str(), false).await?;
        }
        _ => tracing::info!("password reset asked for an unknown or disabled account"),
    }
    Ok(())
}

/// Uses a reset or invitation link once: sets the password and revokes every earlier token.
pub async fn complete_reset(state: &AppState, token: &str, new_password: &str) -> Result<(), AppError> {
    check_new_password(new_password).map_err(AppError::unprocessable)?;
    let hash = password::hash(new_password).await?;
    let mut tx = state.pool.begin().await?;
    let user_id = users::take_reset(&mut tx, &crypto::token_hash(token))
        .await?
        .ok_or_else(|| AppError::unprocessable("This link is invalid, expired or already used"))?;
    users::set_password(&mut *tx, user_id, &hash).await?;
    audit::record(&mut *tx, Some(user_id), "user.password_reset", "user", Some(user_id), None, None).await?;
    tx.commit().await?;
    Ok(())
}
