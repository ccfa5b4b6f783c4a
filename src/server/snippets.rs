//! Saved snippets: a user's own reusable reply texts (merge tags allowed). Owns `snippets`.
use crate::domain::AppError;
use crate::domain::inbox::{MAX_REPLY_CHARS, Snippet, SnippetInput};
use crate::server::auth::AuthUser;
use sqlx::PgPool;
use uuid::Uuid;

pub async fn list(pool: &PgPool, user: &AuthUser) -> Result<Vec<Snippet>, AppError> {
    Ok(sqlx::query_as!(Snippet, "SELECT id, name, body FROM snippets WHERE user_id = $1 ORDER BY name, id", user.id)
        .fetch_all(pool)
        .await?)
}

/// Creates a snippet, or with `id` changes one of the user's own.
pub async fn save(pool: &PgPool, user: &AuthUser, id: Option<Uuid>, input: &SnippetInput) -> Result<Snippet, AppError> {
    let (name, body) = (input.name.trim(), input.body.trim());
    if name.is_empty() || body.is_empty() {
        return Err(AppError::unprocessable("A snippet needs a name and a text"));
    }
    if body.chars().count() > MAX_REPLY_CHARS {
        return Err(AppError::unprocessable(format!("A snippet is at most {MAX_REPLY_CHARS} characters")));
    }
    let saved = match id {
        None => sqlx::query_as!(
            Snippet,
            "INSERT INTO snippets (id, user_id, name, body) VALUES ($1, $2, $3, $4) RETURNING id, name, body",
            Uuid::now_v7(),
            user.id,
            name,
            body
        )
        .fetch_one(pool)
        .await?,
        Some(id) => sqlx::query_as!(
            Snippet,
            "UPDATE snippets SET name = $3, body = $4 WHERE id = $1 AND user_id = $2 RETURNING id, name, body",
            id,
            user.id,
            name,
            body
        )
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| AppError::not_found("Snippet"))?,
    };
    Ok(saved)
}

pub async fn delete(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<(), AppError> {
    let gone = sqlx::query!("DELETE FROM snippets WHERE id = $1 AND user_id = $2", id, user.id).execute(pool).await?.rows_affected();
    if gone == 0 {
        return Err(AppError::not_found("Snippet"));
    }
    Ok(())
}
