//! Contacts: one row per person across campaigns. Owns `contacts`.
//! The shared fields (name, company, time zone) are visible wherever a user shares the
//! contact; campaign data only within the user's campaigns.
use crate::domain::campaign::{Channel, Direction, EnrollmentStatus};
use crate::domain::contact::{BulkStatusChange, ContactDetail, Lead, LeadFilter, LeadPage, TimelineEntry, TimelineEvent, csv_safe};
use crate::domain::{AppError, E164Phone, EmailAddress};
use crate::server::auth::AuthUser;
use crate::server::campaigns;
use crate::server::error::internal;
use crate::server::providers::bonzo::Prospect;
use sqlx::{PgExecutor, PgPool};
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

/// Leads (contacts in campaigns) the user may see that match the filter, newest first:
/// `limit` of them after the cursor, or all of them (exports, bulk changes) without a limit.
pub async fn leads(
    pool: &PgPool,
    user: &AuthUser,
    filter: &LeadFilter,
    after: Option<Uuid>,
    limit: Option<i64>,
) -> Result<LeadPage, AppError> {
    let q = filter.q.trim();
    let pattern = crate::server::db::like_pattern(q);
    let stage = filter.stage.trim();
    let rows = sqlx::query!(
        r#"WITH m AS (
             SELECT e.id AS enrollment_id, c.id AS contact_id, c.name, c.phone, c.email, c.company, c.time_zone,
                    k.id AS campaign_id, k.name AS campaign_name, e.status AS "status: EnrollmentStatus",
                    e.stage_key, e.custom_fields, e.created_at
             FROM enrollments e
             JOIN campaigns k ON k.id = e.campaign_id
             JOIN contacts c ON c.id = e.contact_id
             WHERE ($2 OR k.owner_id = $1)
               AND ($3::uuid IS NULL OR e.campaign_id = $3)
               AND ($4::text IS NULL OR e.status = $4)
               AND ($5 = '' OR e.stage_key = $5)
               AND ($6 = '' OR c.name ILIKE $7 OR c.email ILIKE $7 OR c.phone LIKE $7 OR c.company ILIKE $7)
               AND ($8::uuid IS NULL OR e.contact_id = $8)
           )
           SELECT m.*, (SELECT count(*) FROM m) AS "total!" FROM m
           WHERE $9::uuid IS NULL OR m.enrollment_id < $9
           ORDER BY m.enrollment_id DESC
           LIMIT $10"#,
        user.id,
        user.is_admin(),
        filter.campaign_id,
        filter.status.map(EnrollmentStatus::as_str),
        stage,
        q,
        pattern,
        filter.contact_id,
        after,
        limit.map(|l| l + 1)
    )
    .fetch_all(pool)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let mut leads: Vec<Lead> = rows
        .into_iter()
        .map(|r| Lead {
            enrollment_id: r.enrollment_id,
            contact_id: r.contact_id,
            name: r.name,
            phone: r.phone,
            email: r.email,
            company: r.company,
            time_zone: r.time_zone,
            campaign_id: r.campaign_id,
            campaign_name: r.campaign_name,
            status: r.status,
            stage_key: r.stage_key,
            custom_fields: r.custom_fields,
            created_at: r.created_at,
        })
        .collect();
    let next = match limit {
        Some(l) if leads.len() as i64 > l => {
            leads.truncate(l as usize);
            leads.last().map(|l| l.enrollment_id)
        }
        _ => None,
    };
    Ok(LeadPage { leads, next, total })
}

/// A contact with the enrollments and messages the user may see. A BDR sees a contact that
/// is in one of their campaigns; anyone else's is "not found".
pub async fn detail(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<ContactDetail, AppError> {
    let c = sqlx::query!(
        "SELECT c.id, c.name, c.phone, c.email, c.company, c.time_zone, c.consent_source, c.erased_at FROM contacts c
         WHERE c.id = $1 AND ($3 OR EXISTS (
           SELECT 1 FROM enrollments e JOIN campaigns k ON k.id = e.campaign_id
           WHERE e.contact_id = c.id AND k.owner_id = $2))",
        id,
        user.id,
        user.is_admin()
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found("Contact"))?;
    let filter = LeadFilter { contact_id: Some(id), ..LeadFilter::default() };
    let enrollments = leads(pool, user, &filter, None, None).await?.leads;
    let timeline = timeline(pool, user, id).await?;
    Ok(ContactDetail {
        id: c.id,
        name: c.name,
        phone: c.phone,
        email: c.email,
        company: c.company,
        time_zone: c.time_zone,
        consent_source: c.consent_source,
        erased_at: c.erased_at,
        enrollments,
        timeline,
    })
}

/// A contact's messages and engine steps the user may see, newest first: a message when the
/// user may see its conversation (assigned to them, or of their campaign), a step when the
/// campaign is theirs (admins see all).
async fn timeline(pool: &PgPool, user: &AuthUser, contact_id: Uuid) -> Result<Vec<TimelineEntry>, AppError> {
    let rows = sqlx::query!(
        r#"SELECT t.at AS "at!", t.campaign_name, t.node, t.is_message AS "is_message!", t.channel AS "channel: Channel",
                  t.direction AS "direction: Direction", t.subject, t.body AS "body!", t.kind, t.send_state, t.delivery_status, t.error, t.audio
           FROM (
             SELECT m.id, m.created_at AS at, k.name AS campaign_name, m.node_key AS node, true AS is_message, c.channel,
                    m.direction, m.subject, m.body, NULL::text AS kind, m.send_state, m.delivery_status, m.error,
                    -- A voicemail's audio, played from the signed-in media route.
                    (SELECT mm.id FROM message_media mm
                     WHERE mm.message_id = m.id AND mm.state = 'stored' AND mm.content_type LIKE 'audio/%' LIMIT 1) AS audio
             FROM messages m
             JOIN conversations c ON c.id = m.conversation_id
             LEFT JOIN campaigns k ON k.id = m.campaign_id
             WHERE c.contact_id = $3 AND ($2 OR c.assigned_to = $1 OR k.owner_id = $1)
             UNION ALL
             SELECT v.id, v.at, k.name, v.node_key, false, NULL, NULL, NULL, v.detail, v.kind, NULL, NULL, NULL, NULL
             FROM engine_events v
             JOIN enrollments e ON e.id = v.enrollment_id
             JOIN campaigns k ON k.id = e.campaign_id
             WHERE e.contact_id = $3 AND ($2 OR k.owner_id = $1)
             UNION ALL
             -- Finishing is the enrollment's state, not a row of its own: the engine's last
             -- step time is when it finished.
             SELECT e.id, e.last_step_at, k.name, NULL, false, NULL, NULL, NULL, 'Finished the funnel', 'finished', NULL, NULL, NULL, NULL
             FROM enrollments e
             JOIN campaigns k ON k.id = e.campaign_id
             WHERE e.contact_id = $3 AND e.engine_state = 'finished' AND e.last_step_at IS NOT NULL AND ($2 OR k.owner_id = $1)
           ) t
           ORDER BY t.at DESC, t.id DESC
           LIMIT 500"#,
        user.id,
        user.is_admin(),
        contact_id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let event = match (r.is_message, r.channel, r.direction) {
                (true, Some(channel), Some(direction)) => TimelineEvent::Message {
                    channel,
                    direction,
                    subject: r.subject,
                    body: r.body,
                    send_state: r.send_state,
                    delivery_status: r.delivery_status,
                    error: r.error,
                    audio_url: r.audio.map(|id| format!("/api/media/{id}")),
                },
                _ => TimelineEvent::Step { kind: r.kind.unwrap_or_default(), detail: r.body },
            };
            TimelineEntry { at: r.at, campaign_name: r.campaign_name, node: r.node, event }
        })
        .collect())
}

/// Contacts and their enrollments matching the filter as CSV, one row per enrollment, with
/// cells a spreadsheet would run as formulas neutralised.
pub async fn export_csv(pool: &PgPool, user: &AuthUser, filter: &LeadFilter) -> Result<Vec<u8>, AppError> {
    let page = leads(pool, user, filter, None, None).await?;
    let out = |e| internal("writing CSV", e);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "contact_id", "name", "phone", "email", "company", "time_zone", "campaign", "status", "stage",
        "custom_fields", "enrolled_at",
    ])
    .map_err(out)?;
    for l in page.leads {
        let custom = if l.custom_fields.as_object().is_some_and(|m| !m.is_empty()) {
            l.custom_fields.to_string()
        } else {
            String::new()
        };
        let cells = [
            l.contact_id.to_string(),
            l.name,
            l.phone.unwrap_or_default(),
            l.email.unwrap_or_default(),
            l.company.unwrap_or_default(),
            l.time_zone.unwrap_or_default(),
            l.campaign_name,
            l.status.as_str().to_string(),
            l.stage_key.unwrap_or_default(),
            custom,
            l.created_at.to_rfc3339(),
        ];
        w.write_record(cells.iter().map(|c| csv_safe(c).into_owned())).map_err(out)?;
    }
    w.into_inner().map_err(|e| internal("writing CSV", e))
}

/// Changes the status of the chosen leads, or of every lead the filter matches.
pub async fn bulk_set_status(pool: &PgPool, user: &AuthUser, change: &BulkStatusChange) -> Result<i64, AppError> {
    let ids: Vec<Uuid> = if change.all_matching {
        leads(pool, user, &change.filter, None, None).await?.leads.into_iter().map(|l| l.enrollment_id).collect()
    } else {
        change.ids.clone()
    };
    if ids.is_empty() {
        return Err(AppError::unprocessable("Choose the leads to change"));
    }
    campaigns::set_status(pool, user, &ids, change.status).await
}

/// Notes that the contact behind a conversation wrote to us (the engine's "replied" branches).
pub async fn record_inbound(db: &mut sqlx::PgConnection, conversation_id: Uuid, at: chrono::DateTime<chrono::Utc>) -> Result<(), AppError> {
    sqlx::query!(
        "UPDATE contacts SET last_inbound_at = GREATEST(last_inbound_at, $2)
         WHERE id = (SELECT contact_id FROM conversations WHERE id = $1)",
        conversation_id,
        at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The contact with this number and the number as stored: by E.164, else (stored numbers
/// written another way) by the last ten digits, only for a number of the default region and
/// only when that names a single contact.
pub async fn find_by_phone(db: &mut sqlx::PgConnection, phone: &E164Phone, default_region: &str) -> Result<Option<(Uuid, String)>, AppError> {
    let exact = sqlx::query!(r#"SELECT id, phone AS "phone!" FROM contacts WHERE phone = $1"#, phone.as_str())
        .fetch_optional(&mut *db)
        .await?;
    if exact.is_some() || !phone.in_region(default_region) {
        return Ok(exact.map(|c| (c.id, c.phone)));
    }
    let digits: String = phone.as_str().chars().filter(char::is_ascii_digit).collect();
    let last10 = &digits[digits.len().saturating_sub(10)..];
    let found = sqlx::query!(
        r#"SELECT id, phone AS "phone!" FROM contacts
           WHERE phone IS NOT NULL AND right(regexp_replace(phone, '\D', '', 'g'), 10) = $1 LIMIT 2"#,
        last10
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(match found.as_slice() {
        [one] => Some((one.id, one.phone.clone())),
        _ => None,
    })
}

/// The contact a message is for, as a Bonzo prospect; a message without a contact (a test
/// send has no row) is the number alone.
pub async fn prospect_of_message(pool: &PgPool, message: Uuid, to: &str) -> Result<Prospect, AppError> {
    let contact = sqlx::query!(
        "SELECT ct.name, ct.email FROM messages m JOIN conversations c ON c.id = m.conversation_id
         JOIN contacts ct ON ct.id = c.contact_id WHERE m.id = $1",
        message
    )
    .fetch_optional(pool)
    .await?;
    Ok(match contact {
        Some(c) => Prospect::new(&c.name, c.email, to),
        None => Prospect::new("", None, to),
    })
}

/// Erases a contact on request (admins): name, phone, email, company, time zone and the
/// enrollments' custom fields are removed, message texts and media too; their runs stop as
/// opted out, and the phone and email stay suppressed (as hashes only), so they are never
/// written to again. The audit entry names no personal data.
pub async fn erase(state: &crate::server::state::AppState, user: &AuthUser, id: Uuid, reason: &str) -> Result<(), AppError> {
    use crate::server::engine::compliance;
    use crate::server::{audit, conversations, media};
    user.require_admin()?;
    let reason = Some(reason.trim()).filter(|r| !r.is_empty()).ok_or_else(|| AppError::unprocessable("Give a reason"))?;
    let mut tx = state.pool.begin().await?;
    let old = sqlx::query!(
        "WITH old AS (SELECT id, phone, email FROM contacts WHERE id = $1 FOR UPDATE)
         UPDATE contacts c SET name = '', phone = NULL, email = NULL, company = NULL, time_zone = NULL,
                erased_at = coalesce(c.erased_at, now()), updated_at = now()
         FROM old WHERE c.id = old.id
         RETURNING old.phone, old.email",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found("Contact"))?;
    if let Some(phone) = &old.phone {
        compliance::suppress_erased(&mut tx, Channel::Sms, phone).await?;
    }
    if let Some(email) = &old.email {
        compliance::suppress_erased(&mut tx, Channel::Email, email).await?;
    }
    campaigns::opt_out_contacts(&mut tx, &[id], state.clock.now()).await?;
    campaigns::erase_custom_fields(&mut tx, id).await?;
    let messages = conversations::erase_contact(&mut tx, id).await?;
    let files = media::erase_contact(state, &mut tx, id).await?;
    let voicemail_audio = crate::server::voicemail::erase_contact(state, &mut tx, id).await?;
    let after = serde_json::json!({
        "erased": true, "reason": reason, "source": "admin", "messages": messages, "media_files": files,
        "voicemail_audio": voicemail_audio,
        "suppressed": { "phone": old.phone.is_some(), "email": old.email.is_some() },
    });
    audit::record(&mut *tx, Some(user.id), "contact.erased", "contact", Some(id), None, Some(after)).await?;
    tx.commit().await?;
    Ok(())
}
