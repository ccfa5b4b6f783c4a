//! Compliance at send time: suppressed phones and emails are never sent to, a campaign's
//! first SMS to a contact says who is writing and how to opt out, and every email carries
//! the organisation's postal address and a one-click unsubscribe link (RFC 8058).
use crate::domain::AppError;
use crate::domain::campaign::Channel;
use crate::domain::merge::escape_html;
use crate::server::crypto::Keys;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use std::collections::HashSet;

/// Suppressions are keyed by a hash of the normalised address.
pub fn hash(channel: Channel, address: &str) -> Vec<u8> {
    let normal = match channel {
        Channel::Email => address.trim().to_lowercase(),
        _ => address.trim().to_string(),
    };
    Sha256::digest(normal.as_bytes()).to_vec()
}

fn kind(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "email",
        _ => "phone",
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

/// Adds an address to the suppression list (idempotent).
pub async fn suppress(db: &mut PgConnection, channel: Channel, address: &str, reason: &str, source: &str) -> Result<(), AppError> {
    sqlx::query!(
        "INSERT INTO suppressions (id, kind, value_hash, value, reason, source) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kind, value_hash) DO NOTHING",
        uuid::Uuid::now_v7(),
        kind(channel),
        hash(channel, address),
        address.trim(),
        reason,
        source
    )
    .execute(db)
    .await?;
    Ok(())
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
