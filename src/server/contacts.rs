//! Contacts: one row per person across campaigns. Owns `contacts`.
use crate::domain::{AppError, E164Phone, EmailAddress};
use sqlx::PgExecutor;
use uuid::Uuid;

pub struct NewContact<'a> {
    pub name: &'a str,
    pub phone: Option<&'a E164Phone>,
    pub email: Option<&'a EmailAddress>,
    pub company: Option<&'a str>,
    pub time_zone: Option<&'a str>,
    pub consent_source: &'a str,
}

pub async fn insert(db: impl PgExecutor<'_>, c: &NewContact<'_>) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO contacts (id, name, phone, email, company, time_zone, consent_source, consent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now()) RETURNING id",
        Uuid::now_v7(),
        c.name,
        c.phone.map(E164Phone::as_str),
        c.email.map(EmailAddress::as_str),
        c.company,
        c.time_zone,
        c.consent_source
    )
    .fetch_one(db)
    .await?)
}
