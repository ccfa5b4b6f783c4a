//! Compliance at send time: suppressed phones and emails are never sent to, a campaign's
//! first SMS to a contact says who is writing and how to opt out, and every email carries
//! the organisation's postal address and a one-click unsubscribe link (RFC 8058).
use crate::domain::campaign::Channel;
use crate::domain::merge::escape_html;
use crate::domain::suppression::{SuppressionKind, SuppressionView, mask};
use crate::domain::{AppError, E164Phone, EmailAddress};
use crate::server::crypto::Keys;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use std::collections::HashSet;
use uuid::Uuid;

/// Suppressions are keyed by a hash of the normalised address.
pub fn hash(channel: Channel, address: &str) -> Vec<u8> {
    let normal = match channel {
        Channel::Email => address.trim().to_lowercase(),
        _ => address.trim().to_string(),
    };
    Sha256::digest(normal.as_bytes()).to_vec()
}

fn kind(channel: Channel) -> &'static str {
    suppression_kind(channel).as_str()
}

fn suppression_kind(channel: Channel) -> SuppressionKind {
    match channel {
        Channel::Email => SuppressionKind::Email,
        _ => SuppressionKind::Phone,
    }
}

/// An address someone typed for the suppression list: an email when it has an `@`, else a
/// phone number (in the default region when written without a country code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Phone(E164Phone),
    Email(EmailAddress),
}

impl Address {
    pub fn parse(input: &str, default_region: &str) -> Result<Self, String> {
        if input.contains('@') {
            EmailAddress::parse(input).map(Address::Email).map_err(|e| e.to_string())
        } else {
            E164Phone::parse(input, default_region).map(Address::Phone)
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            Address::Phone(_) => Channel::Sms,
            Address::Email(_) => Channel::Email,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Address::Phone(p) => p.as_str(),
            Address::Email(e) => e.as_str(),
        }
    }

    pub fn kind(&self) -> SuppressionKind {
        suppression_kind(self.channel())
    }

    pub fn hash(&self) -> Vec<u8> {
        hash(self.channel(), self.as_str())
    }

    pub fn masked(&self) -> String {
        mask(self.kind(), self.as_str())
    }
}

/// Which of these addresses are suppressed; run in the transaction that records the sends.
pub async fn suppressed(db: &mut PgConnection, wanted: &[(Channel, String)]) -> Result<HashSet<(Channel, String)>, AppError> {
    if wanted.is_empty() {
        return Ok(HashSet::new());
    }
    let kinds: Vec<String> = wanted.iter().map(|(c, _)| kind(*c).to_string()).collect();
    let hashes: Vec<Vec<u8>> = wanted.iter().map(|(c, a)| hash(*c, a)).collect();
    let found = sqlx::query!(
        r#"SELECT w.i AS "i!" FROM UNNEST($1::text[], $2::bytea[]) WITH ORDINALITY AS w(kind, hash, i)
           WHERE EXISTS (SELECT 1 FROM suppressions s WHERE s.kind = w.kind AND s.value_hash = w.hash)"#,
        &kinds,
        &hashes
    )
    .fetch_all(db)
    .await?;
    Ok(found.into_iter().filter_map(|r| wanted.get(usize::try_from(r.i - 1).ok()?).cloned()).collect())
}

/// Adds an address to the suppression list (idempotent): the new entry, or `None` when it
/// was on the list already.
pub async fn suppress(db: &mut PgConnection, channel: Channel, address: &str, reason: &str, source: &str) -> Result<Option<SuppressionView>, AppError> {
    let kind = suppression_kind(channel);
    insert(db, kind, &hash(channel, address), Some(&mask(kind, address)), reason, source).await
}

/// Adds an entry by its hash; the new entry, or `None` when the address was on the list.
pub async fn insert(
    db: &mut PgConnection,
    kind: SuppressionKind,
    value_hash: &[u8],
    display: Option<&str>,
    reason: &str,
    source: &str,
) -> Result<Option<SuppressionView>, AppError> {
    Ok(sqlx::query_as!(
        SuppressionView,
        r#"INSERT INTO suppressions (id, kind, value_hash, value, reason, source) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (kind, value_hash) DO NOTHING
           RETURNING id, kind AS "kind: SuppressionKind", value AS display, reason, source, created_at"#,
        Uuid::now_v7(),
        kind as SuppressionKind,
        value_hash,
        display,
        reason,
        source
    )
    .fetch_optional(db)
    .await?)
}

/// Keeps an erased contact's address suppressed for good: an entry of its own source, so
/// no START and no admin's lifting of an opt-out undoes it unnoticed, showing no address.
pub async fn suppress_erased(db: &mut PgConnection, channel: Channel, address: &str) -> Result<(), AppError> {
    sqlx::query!(
        "INSERT INTO suppressions (id, kind, value_hash, value, reason, source) VALUES ($1, $2, $3, NULL, $4, 'erasure')
         ON CONFLICT (kind, value_hash) DO UPDATE SET value = NULL, reason = EXCLUDED.reason, source = 'erasure'",
        Uuid::now_v7(),
        kind(channel),
        hash(channel, address),
        "Contact erased on request"
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Lifts the entries for these addresses that one of `sources` made; how many there were.
pub async fn lift(db: &mut PgConnection, channel: Channel, addresses: &[String], sources: &[&str]) -> Result<u64, AppError> {
    let hashes: Vec<Vec<u8>> = addresses.iter().map(|a| hash(channel, a)).collect();
    let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
    Ok(sqlx::query!(
        "DELETE FROM suppressions WHERE kind = $1 AND value_hash = ANY($2) AND source = ANY($3)",
        kind(channel),
        &hashes,
        &sources
    )
    .execute(db)
    .await?
    .rows_affected())
}

/// Removes one entry (an admin's decision); the entry as it was.
pub async fn remove(db: &mut PgConnection, id: Uuid) -> Result<Option<SuppressionView>, AppError> {
    Ok(sqlx::query_as!(
        SuppressionView,
        r#"DELETE FROM suppressions WHERE id = $1
           RETURNING id, kind AS "kind: SuppressionKind", value AS display, reason, source, created_at"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Entries for the address given (by its hash) or whose reason or source holds `text`;
/// the newest `limit` of them, or the newest of all when both are empty.
pub async fn search(db: &mut PgConnection, address: Option<&Address>, text: &str, limit: i64) -> Result<Vec<SuppressionView>, AppError> {
    let (kind, value_hash) = match address {
        Some(a) => (Some(kind(a.channel())), Some(hash(a.channel(), a.as_str()))),
        None => (None, None),
    };
    let text = text.trim();
    let pattern = crate::server::db::like_pattern(text);
    Ok(sqlx::query_as!(
        SuppressionView,
        r#"SELECT id, kind AS "kind: SuppressionKind", value AS display, reason, source, created_at FROM suppressions
           WHERE ($1::text IS NULL AND $3 = '')
              OR (kind = $1 AND value_hash = $2)
              OR ($3 <> '' AND (reason ILIKE $4 OR source ILIKE $4))
           ORDER BY created_at DESC, id DESC
           LIMIT $5"#,
        kind,
        value_hash,
        text,
        pattern,
        limit
    )
    .fetch_all(db)
    .await?)
}

/// Every entry with its hash, oldest first (the export).
pub async fn all(db: &mut PgConnection) -> Result<Vec<(SuppressionView, Vec<u8>)>, AppError> {
    let rows = sqlx::query!(
        r#"SELECT id, kind AS "kind: SuppressionKind", value, value_hash, reason, source, created_at FROM suppressions
           ORDER BY created_at, id"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let view = SuppressionView { id: r.id, kind: r.kind, display: r.value, reason: r.reason, source: r.source, created_at: r.created_at };
            (view, r.value_hash)
        })
        .collect())
}

/// The first SMS of a campaign names the sender (unless the text already does) and ends
/// with the opt-out line (unless it already tells how to stop).
pub fn introduce_sms(body: &str, sender_name: &str, opt_out_line: &str) -> String {
    let mut text = if sender_name.trim().is_empty() || body.contains(sender_name.trim()) {
        body.to_string()
    } else {
        format!("{}: {body}", sender_name.trim())
    };
    let opt_out = opt_out_line.trim();
    if !opt_out.is_empty() && !body.to_lowercase().contains("stop") {
        text.push('\n');
        text.push_str(opt_out);
    }
    text
}

/// The unsubscribe link for one address: signed, so it works without a session.
pub fn unsubscribe_url(keys: &Keys, origin: &str, email: &str) -> String {
    format!("{origin}/unsubscribe/{}", keys.sign_link(&format!("email:{}", email.trim().to_lowercase())))
}

/// The address an unsubscribe token was made for.
pub fn unsubscribe_address(keys: &Keys, token: &str) -> Option<String> {
    keys.open_link(token)?.strip_prefix("email:").map(str::to_string)
}

/// An email's text and HTML bodies with the footer, and its unsubscribe headers.
pub struct EmailParts {
    pub text: String,
    pub html: String,
    pub headers: Vec<(String, String)>,
}

pub fn email_parts(text: &str, html_body: &str, org_name: &str, postal_address: &str, unsubscribe: &str) -> EmailParts {
    let address_line = postal_address.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(", ");
    let text = format!("{text}\n\n--\n{org_name}, {address_line}\nUnsubscribe: {unsubscribe}\n");
    let html = format!(
        "<!doctype html><html><body><div>{html_body}</div><hr><p style=\"font-size:12px;color:#666\">{}, {}<br>\
         <a href=\"{}\">Unsubscribe</a></p></body></html>",
        escape_html(org_name),
        escape_html(&address_line),
        escape_html(unsubscribe)
    );
    EmailParts {
        text,
        html,
        headers: vec![
            ("List-Unsubscribe".into(), format!("<{unsubscribe}>")),
            ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()),
        ],
    }
}

/// Plain text as HTML paragraphs (merge values already escaped by the renderer).
pub fn paragraphs(html_escaped_text: &str) -> String {
    html_escaped_text
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", p.trim().replace('\n', "<br>")))
        .collect::<Vec<_>>()
        .join("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_sms_names_the_sender_and_says_how_to_stop() {
        assert_eq!(introduce_sms("Join us Friday!", "Ana Ruiz", "Reply STOP to opt out"), "Ana Ruiz: Join us Friday!\nReply STOP to opt out");
        assert_eq!(introduce_sms("Ana Ruiz here. Text STOP to quit", "Ana Ruiz", "Reply STOP to opt out"), "Ana Ruiz here. Text STOP to quit");
    }

    #[test]
    fn unsubscribe_links_are_signed() {
        let keys = Keys::from_master(&[7u8; 32]);
        let url = unsubscribe_url(&keys, "https://app.example", "Pat@Example.com");
        let token = url.rsplit('/').next().unwrap();
        assert_eq!(unsubscribe_address(&keys, token).as_deref(), Some("pat@example.com"));
        assert_eq!(unsubscribe_address(&Keys::from_master(&[8u8; 32]), token), None);
        let forged = format!("{}x", token);
        assert_eq!(unsubscribe_address(&keys, &forged), None);
    }

    #[test]
    fn every_email_carries_the_postal_address_and_one_click_headers() {
        let p = email_parts("Hi", "<p>Hi</p>", "Acme", "1 Main St\nSpringfield", "https://x/unsubscribe/t");
        assert!(p.text.contains("Acme, 1 Main St, Springfield"));
        assert!(p.html.contains("href=\"https://x/unsubscribe/t\""));
        assert_eq!(p.headers[1], ("List-Unsubscribe-Post".to_string(), "List-Unsubscribe=One-Click".to_string()));
    }
}
