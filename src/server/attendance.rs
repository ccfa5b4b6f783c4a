//! Who came: an event's attendee list, uploaded as CSV for a campaign, marks the contacts it
//! names `Attended`, matched by phone (E.164) or email. Like every automatic change it only
//! raises a status (an opted-out contact stays opted out); a person can set any status by hand.
use crate::domain::AppError;
use crate::domain::campaign::EnrollmentStatus;
use crate::domain::contact::{AttendeeImport, ImportField, LineError};
use crate::domain::{E164Phone, EmailAddress};
use crate::server::auth::AuthUser;
use crate::server::state::AppState;
use crate::server::{audit, campaigns};
use std::collections::HashMap;
use uuid::Uuid;

/// One attendee line: who it names, by phone, by email, or both.
struct Attendee {
    line: u64,
    phone: Option<E164Phone>,
    email: Option<String>,
}

pub async fn import(state: &AppState, user: &AuthUser, campaign_id: Uuid, text: &str) -> Result<AttendeeImport, AppError> {
    campaigns::get(&state.pool, user, campaign_id).await?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| AppError::unprocessable(format!("Unreadable header line: {e}")))?.clone();
    let col = |field| headers.iter().position(|h| ImportField::guess(h) == field);
    let (phone_col, email_col) = (col(ImportField::Phone), col(ImportField::Email));
    if phone_col.is_none() && email_col.is_none() {
        return Err(AppError::unprocessable("The file needs a phone or an email column"));
    }
    let region = &state.settings.default_region;
    let mut report = AttendeeImport::default();
    let mut attendees = Vec::new();
    for record in reader.records() {
        let r = match record {
            Ok(r) => r,
            Err(e) => {
                report.unmatched.push(LineError { line: e.position().map_or(0, |p| p.line()), error: e.to_string() });
                continue;
            }
        };
        let line = r.position().map_or(0, |p| p.line());
        let cell = |i: Option<usize>| i.and_then(|i| r.get(i)).filter(|c| !c.is_empty());
        let phone = cell(phone_col).and_then(|p| E164Phone::parse(p, region).ok());
        let email = cell(email_col).and_then(|e| EmailAddress::parse(e).ok()).map(|e| e.as_str().to_lowercase());
        if phone.is_none() && email.is_none() {
            report.unmatched.push(LineError { line, error: "no valid phone number or email".into() });
            continue;
        }
        attendees.push(Attendee { line, phone, email });
    }

    let phones: Vec<String> = attendees.iter().filter_map(|a| a.phone.as_ref().map(|p| p.as_str().to_string())).collect();
    let emails: Vec<String> = attendees.iter().filter_map(|a| a.email.clone()).collect();
    let mut tx = state.pool.begin().await?;
    let found = sqlx::query!(
        r#"SELECT e.id, c.phone, lower(c.email) AS email FROM enrollments e JOIN contacts c ON c.id = e.contact_id
           WHERE e.campaign_id = $1 AND (c.phone = ANY($2) OR lower(c.email) = ANY($3))
           FOR UPDATE OF e"#,
        campaign_id,
        &phones,
        &emails
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut by_key: HashMap<&str, Uuid> = HashMap::new();
    for f in &found {
        for key in [f.phone.as_deref(), f.email.as_deref()].into_iter().flatten() {
            by_key.insert(key, f.id);
        }
    }
    let mut marked = Vec::new();
    for a in &attendees {
        let hit = a.phone.as_ref().and_then(|p| by_key.get(p.as_str())).or_else(|| a.email.as_deref().and_then(|e| by_key.get(e)));
        match hit {
            Some(&enrollment) if !marked.contains(&enrollment) => {
                if campaigns::raise_status(&mut tx, enrollment, EnrollmentStatus::Attended).await? {
                    report.marked += 1;
                } else {
                    report.unchanged += 1;
                }
                marked.push(enrollment);
            }
            Some(_) => report.unchanged += 1,
            None => report.unmatched.push(LineError { line: a.line, error: "nobody in this campaign has this phone or email".into() }),
        }
    }
    report.unmatched.sort_by_key(|e| e.line);
    let after = serde_json::json!({
        "status": EnrollmentStatus::Attended, "marked": report.marked, "unchanged": report.unchanged,
        "unmatched": report.unmatched.len(), "source": "attendee_csv",
    });
    audit::record(&mut *tx, Some(user.id), "enrollments.attended_imported", "campaign", Some(campaign_id), None, Some(after)).await?;
    tx.commit().await?;
    Ok(report)
}
