//! Who is asking: the bearer token or the session cookie, checked against the database.
use crate::domain::{AppError, Role};
use crate::server::auth::token;
use crate::server::settings::Settings;
use crate::server::state::AppState;
use crate::server::users;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use uuid::Uuid;

pub const COOKIE: &str = "turnout_session";

/// A signed-in, enabled user whose token is current.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() { Ok(()) } else { Err(AppError::forbidden()) }
    }
}

/// The token a request carries: `Authorization: Bearer` first, then the session cookie.
pub fn request_token(headers: &HeaderMap) -> Option<String> {
    bearer_token(headers).or_else(|| cookie_token(headers))
}

pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<AuthUser, AppError> {
    let token = request_token(headers).ok_or_else(AppError::unauthorized)?;
    let claims = token::verify(&state.keys, &token)?;
    let user = users::find_by_id(&state.pool, claims.sub)
        .await?
        .ok_or_else(AppError::unauthorized)?;
    if user.disabled || user.token_version != claims.ver {
        return Err(AppError::unauthorized());
    }
    Ok(AuthUser { id: user.id, email: user.email, name: user.name, role: user.role })
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.headers).await
    }
}

pub fn session_cookie(token: &str, settings: &Settings) -> HeaderValue {
    let max_age = settings.token_ttl_hours * 3600;
    cookie_header(token, max_age, settings)
}

pub fn clear_cookie(settings: &Settings) -> HeaderValue {
    cookie_header("", 0, settings)
}

fn cookie_header(value: &str, max_age: i64, settings: &Settings) -> HeaderValue {
    let secure = if settings.secure_cookies() { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    // Tokens are base64url and dots, always a valid header value.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tokens() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; turnout_session=abc.def; b=2"));
        assert_eq!(request_token(&h).as_deref(), Some("abc.def"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
        assert_eq!(request_token(&h).as_deref(), Some("xyz"));
    }
}
