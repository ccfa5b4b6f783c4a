//! Reusable message content with merge tags. Owns `content_templates`.
use crate::domain::AppError;
use crate::domain::campaign::Channel;
use crate::domain::content::{ContentInput, ContentView, Preview};
use crate::domain::funnel::{Content, GraphDraft, NodeKind};
use crate::domain::merge::{Escape, MergeTemplate, MergeValues};
use crate::domain::sms::SmsLength;
use crate::server::audit;
use crate::server::auth::AuthUser;
use crate::server::campaigns;
use crate::server::state::AppState;
use sqlx::PgPool;
use uuid::Uuid;

pub async fn list(pool: &PgPool) -> Result<Vec<ContentView>, AppError> {
    Ok(sqlx::query_as!(
        ContentView,
        r#"SELECT id, name, channel AS "channel: Channel", subject, body, body_html, updated_at
           FROM content_templates ORDER BY lower(name), id"#
    )
    .fetch_all(pool)
    .await?)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<ContentView, AppError> {
    sqlx::query_as!(
        ContentView,
        r#"SELECT id, name, channel AS "channel: Channel", subject, body, body_html, updated_at
           FROM content_templates WHERE id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found("Content"))
}

/// Content that passed every check: a name, a body, a subject for email, known merge tags.
struct Checked {
    name: String,
    channel: Channel,
    subject: Option<String>,
    body: String,
    body_html: Option<String>,
}

fn check(input: &ContentInput) -> Result<Checked, AppError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(AppError::unprocessable("Content needs a name"));
    }
    let channel = input.channel.ok_or_else(|| AppError::unprocessable("Choose SMS, email or voicemail"))?;
    if input.body.trim().is_empty() {
        return Err(AppError::unprocessable("Content needs a body"));
    }
    let subject = input.subject.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    let body_html = input.body_html.as_deref().filter(|s| !s.trim().is_empty()).map(String::from);
    match channel {
        Channel::Email if subject.is_none() => return Err(AppError::unprocessable("An email needs a subject")),
        Channel::Sms | Channel::Voicemail if subject.is_some() || body_html.is_some() => {
            return Err(AppError::unprocessable("Only emails have a subject or an HTML body"));
        }
        _ => {}
    }
    for (what, text) in [("Subject", subject.as_deref()), ("Body", Some(input.body.as_str())), ("HTML body", body_html.as_deref())] {
        if let Some(t) = text {
            MergeTemplate::parse(t).map_err(|e| AppError::unprocessable(format!("{what}: {e}")))?;
        }
    }
    Ok(Checked { name: name.to_string(), channel, subject, body: input.body.clone(), body_html })
}

pub async fn create(state: &AppState, actor: &AuthUser, input: &ContentInput) -> Result<ContentView, AppError> {
    actor.require_admin()?;
    let c = check(input)?;
    let mut tx = state.pool.begin().await?;
    let view = sqlx::query_as!(
        ContentView,
        r#"INSERT INTO content_templates (id, name, channel, subject, body, body_html, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING id, name, channel AS "channel: Channel", subject, body, body_html, updated_at"#,
        Uuid::now_v7(),
        c.name,
        c.channel as Channel,
        c.subject,
        c.body,
        c.body_html,
        actor.id
    )
    .fetch_one(&mut *tx)
    .await?;
    audit::record(&mut *tx, Some(actor.id), "content.created", "content", Some(view.id), None, Some(audit::json(&view))).await?;
    tx.commit().await?;
    Ok(view)
}

/// Edits never reach a running campaign: activation copies content into its nodes.
pub async fn update(state: &AppState, actor: &AuthUser, id: Uuid, input: &ContentInput) -> Result<ContentView, AppError> {
    actor.require_admin()?;
    let c = check(input)?;
    let before = get(&state.pool, id).await?;
    let mut tx = state.pool.begin().await?;
    let view = sqlx::query_as!(
        ContentView,
        r#"UPDATE content_templates SET name = $2, channel = $3, subject = $4, body = $5, body_html = $6, updated_at = now()
           WHERE id = $1
           RETURNING id, name, channel AS "channel: Channel", subject, body, body_html, updated_at"#,
        id,
        c.name,
        c.channel as Channel,
        c.subject,
        c.body,
        c.body_html
    )
    .fetch_one(&mut *tx)
    .await?;
    audit::record(&mut *tx, Some(actor.id), "content.updated", "content", Some(id), Some(audit::json(&before)), Some(audit::json(&view))).await?;
    tx.commit().await?;
    Ok(view)
}

/// Values that show what each tag looks like when no contact is chosen.
fn sample_values() -> MergeValues {
    MergeValues {
        contact_name: Some("Jordan Sample".into()),
        contact_company: Some("Sample Realty".into()),
        event_date: Some("Thursday, March 5".into()),
        event_time: Some("6:00 PM".into()),
        event_venue: Some("Riverside Conference Center".into()),
        owner_name: Some("Ana Reyes".into()),
        sender_name: Some("Ana Reyes".into()),
        custom: Default::default(),
    }
}

/// Renders content for one contact of one of the user's campaigns (or sample values).
pub async fn preview(
    pool: &PgPool,
    user: &AuthUser,
    input: &ContentInput,
    campaign: Option<Uuid>,
    contact: Option<Uuid>,
) -> Result<Preview, AppError> {
    let sample = sample_values();
    let values = match campaign {
        Some(campaign) => {
            let real = campaigns::merge_values(pool, user, campaign, contact).await?;
            match contact {
                Some(_) => real,
                // A campaign alone: its event and people, a sample contact.
                None => MergeValues { contact_name: sample.contact_name, contact_company: sample.contact_company, ..real },
            }
        }
        None => sample,
    };
    let parse = |t: &str| MergeTemplate::parse(t).map_err(AppError::unprocessable);
    let mut problem = None;
    let mut render = |t: &str, escape: Escape| -> Result<Option<String>, AppError> {
        match parse(t)?.render(&values, escape) {
            Ok(s) => Ok(Some(s)),
            Err(e) => {
                problem.get_or_insert(e);
                Ok(None)
            }
        }
    };
    let subject = input.subject.as_deref().map(|s| render(s, Escape::Plain)).transpose()?.flatten();
    let body = render(&input.body, Escape::Plain)?;
    let body_html = match input.body_html.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(h) => render(h, Escape::Html)?.map(|h| ammonia::clean(&h)),
        None => None,
    };
    let sms = match input.channel {
        Some(Channel::Sms) => body.as_deref().map(SmsLength::of),
        _ => None,
    };
    Ok(Preview { subject, body, body_html, sms, problem })
}

/// Copies shared content into the graph's send steps (`{"content_id"}` becomes the text
/// itself) and checks every send's merge tags.
pub async fn inline(db: &mut sqlx::PgConnection, mut graph: GraphDraft) -> Result<GraphDraft, AppError> {
    for node in &mut graph.nodes {
        let Some(kind) = NodeKind::parse(&node.kind) else { continue };
        let channel = match kind {
            NodeKind::SmsSend => Channel::Sms,
            NodeKind::EmailSend => Channel::Email,
            NodeKind::VoicemailDrop => Channel::Voicemail,
            _ => continue,
        };
        if let Ok(Content::Template { content_id }) = serde_json::from_value::<Content>(node.config.clone()) {
            let c = sqlx::query!(
                r#"SELECT channel AS "channel: Channel", subject, body, body_html FROM content_templates WHERE id = $1"#,
                content_id
            )
            .fetch_optional(&mut *db)
            .await?
            .ok_or_else(|| AppError::unprocessable(format!("{}: its content no longer exists", node.key)))?;
            if c.channel != channel {
                return Err(AppError::unprocessable(format!("{}: the content is for {}, not {channel}", node.key, c.channel)));
            }
            // A voicemail's voice is the step's own, beside the shared script.
            let voice = node.config.get("voice_id").cloned();
            node.config = serde_json::json!({ "subject": c.subject, "body": c.body, "body_html": c.body_html, "voice_id": voice });
            if let serde_json::Value::Object(m) = &mut node.config {
                m.retain(|_, v| !v.is_null());
            }
        }
        for field in ["subject", "body", "body_html"] {
            if let Some(text) = node.config.get(field).and_then(|v| v.as_str()) {
                MergeTemplate::parse(text).map_err(|e| AppError::unprocessable(format!("{}: {e}", node.key)))?;
            }
        }
    }
    Ok(graph)
}
