//! The organisation's settings. Owns `org_settings` (one row).
use crate::domain::AppError;
use crate::domain::org::OrgSettings;
use crate::server::audit;
use crate::server::auth::AuthUser;
use crate::server::state::AppState;
use sqlx::PgPool;

pub async fn get(pool: &PgPool) -> Result<OrgSettings, AppError> {
    Ok(sqlx::query_as!(OrgSettings, r#"SELECT name, time_zone, postal_address, rsvp_phrases AS "rsvp_phrases?" FROM org_settings"#)
        .fetch_one(pool)
        .await?)
}

/// Seeds the row on first start; later starts leave it alone.
pub async fn seed(pool: &PgPool, name: &str, time_zone: &str) -> Result<(), AppError> {
    parse_time_zone(time_zone)?;
    sqlx::query!(
        "INSERT INTO org_settings (name, time_zone) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        name,
        time_zone
    )
    .execute(pool)
    .await?;
    crate::server::stats::zone_changed(pool).await
}

/// The demo's postal address, so its emails (which must carry one) go out.
pub async fn seed_postal_address(db: impl sqlx::PgExecutor<'_>, address: &str) -> Result<(), AppError> {
    sqlx::query!("UPDATE org_settings SET postal_address = $1 WHERE postal_address = ''", address).execute(db).await?;
    Ok(())
}

pub async fn update(state: &AppState, actor: &AuthUser, new: OrgSettings) -> Result<OrgSettings, AppError> {
    actor.require_admin()?;
    let name = new.name.trim();
    if name.is_empty() {
        return Err(AppError::unprocessable("The organisation needs a name"));
    }
    parse_time_zone(new.time_zone.trim())?;
    let phrases = new.rsvp_phrases.as_deref().map(crate::domain::reply::clean_phrases);
    let before = get(&state.pool).await?;
    let mut tx = state.pool.begin().await?;
    let after = sqlx::query_as!(
        OrgSettings,
        r#"UPDATE org_settings SET name = $1, time_zone = $2, postal_address = $3,
                  rsvp_phrases = coalesce($4, rsvp_phrases), updated_at = now()
           RETURNING name, time_zone, postal_address, rsvp_phrases AS "rsvp_phrases?""#,
        name,
        new.time_zone.trim(),
        new.postal_address.trim(),
        phrases.as_deref()
    )
    .fetch_one(&mut *tx)
    .await?;
    audit::record(&mut *tx, Some(actor.id), "org.updated", "org", None, Some(audit::json(&before)), Some(audit::json(&after))).await?;
    tx.commit().await?;
    if after.time_zone != before.time_zone {
        crate::server::stats::zone_changed(&state.pool).await?;
    }
    Ok(after)
}

fn parse_time_zone(tz: &str) -> Result<chrono_tz::Tz, AppError> {
    tz.parse::<chrono_tz::Tz>()
        .map_err(|_| AppError::unprocessable(format!("'{tz}' is not a known time zone (e.g. America/Chicago)")))
}

/// What texts go out through for users who chose nothing themselves.
pub async fn sms_provider(db: impl sqlx::PgExecutor<'_>) -> Result<crate::domain::bonzo::SmsProvider, AppError> {
    Ok(sqlx::query_scalar!(r#"SELECT sms_provider AS "p: crate::domain::bonzo::SmsProvider" FROM org_settings"#).fetch_one(db).await?)
}

pub async fn set_sms_provider(db: impl sqlx::PgExecutor<'_>, p: crate::domain::bonzo::SmsProvider) -> Result<(), AppError> {
    sqlx::query!("UPDATE org_settings SET sms_provider = $1, updated_at = now()", p.as_str()).execute(db).await?;
    Ok(())
}
