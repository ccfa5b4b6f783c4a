//! Sign-in tokens: HS256 JWTs naming the user and their token version.
use crate::domain::AppError;
use crate::server::crypto::Keys;
use crate::server::error::internal;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    /// Must equal the user's `token_version`; bumping it revokes every token issued before.
    pub ver: i32,
    pub iat: i64,
    pub exp: i64,
}

pub fn issue(
    keys: &Keys,
    user_id: Uuid,
    version: i32,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<String, AppError> {
    let claims = Claims {
        sub: user_id,
        ver: version,
        iat: now.timestamp(),
        exp: (now + ttl).timestamp(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(keys.jwt_secret()),
    )
    .map_err(|e| internal("signing a token", e))
}

pub fn verify(keys: &Keys, token: &str) -> Result<Claims, AppError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(keys.jwt_secret()), &validation)
        .map(|d| d.claims)
        .map_err(|_| AppError::unauthorized())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_and_foreign_tokens_are_refused() {
        let keys = Keys::from_master(&[1u8; 32]);
        let id = Uuid::now_v7();
        let good = issue(&keys, id, 3, Utc::now(), Duration::hours(1)).unwrap();
        let claims = verify(&keys, &good).unwrap();
        assert_eq!((claims.sub, claims.ver), (id, 3));

        let old = issue(&keys, id, 3, Utc::now() - Duration::days(8), Duration::days(7)).unwrap();
        assert_eq!(verify(&keys, &old).unwrap_err().status, 401);

        let other = Keys::from_master(&[2u8; 32]);
        assert_eq!(verify(&other, &good).unwrap_err().status, 401);
        assert_eq!(verify(&keys, "not.a.token").unwrap_err().status, 401);
    }
}
