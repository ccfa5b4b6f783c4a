//! Password hashing with argon2id, off the async runtime.
use crate::domain::AppError;
use crate::server::error::internal;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub async fn hash(password: &str) -> Result<String, AppError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|e| internal("password hashing task", e))?
    .map_err(|e| internal("password hashing", e))
}

/// Checks a password against a stored hash. Without a hash (unknown user, or an invited
/// user who has not set one) a dummy hash is checked so the answer takes as long.
pub async fn verify(password: &str, stored: Option<&str>) -> Result<bool, AppError> {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$qsLMYHcDP1IOOvOGe5xQ1L5dCS+3Cz1I5t1lX7ml1Z8";
    let password = password.to_owned();
    let known = stored.is_some();
    let stored = stored.unwrap_or(DUMMY).to_owned();
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .map_err(|e| internal("password check task", e))?;
    Ok(known && ok)
}
