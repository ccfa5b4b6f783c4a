//! The PostgreSQL pool and migrations.
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connections are not pinged before each use (a round trip per checkout, a third of a
/// statistics read's): one the server dropped fails its statement and is discarded, and
/// connections idle for 10 minutes are closed.
fn options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
}

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, String> {
    options(max_connections)
        .connect(url)
        .await
        .map_err(|e| {
            format!(
                "cannot connect to PostgreSQL at {}: {e}\n\
                 Set DATABASE_URL, or start with ./scripts/start, which finds or runs a server.",
                redact(url)
            )
        })
}

/// A pool that connects on first use (the read replica: the app starts while it is away).
pub fn connect_lazy(url: &str, max_connections: u32) -> Result<PgPool, String> {
    options(max_connections)
        .connect_lazy(url)
        .map_err(|e| format!("READ_DATABASE_URL {} is not a database URL: {e}", redact(url)))
}

pub async fn migrate(pool: &PgPool) -> Result<(), String> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| format!("database migration failed: {e}"))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_password() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}

/// A substring pattern for LIKE / ILIKE: the wildcards in the text searched for are literal.
pub fn like_pattern(text: &str) -> String {
    format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}
