//! First start: the organisation's settings, the first admin, and in demo mode a small,
//! realistic data set to click through.
use crate::domain::campaign::{CampaignStatus, Channel, Direction, EnrollmentStatus, EventType};
use crate::domain::funnel::{EdgeDraft, GraphDraft, NodeDraft, NodeKind};
use crate::domain::template::TemplateStatus;
use crate::domain::{AppError, E164Phone, EmailAddress, Role};
use crate::server::auth::password;
use crate::server::campaigns::{self, NewCampaign};
use crate::server::contacts::{self, NewContact};
use crate::server::conversations::{self, LoggedMessage};
use crate::server::error::internal;
use crate::server::state::AppState;
use crate::server::templates::{self, GraphOwner};
use crate::server::{audit, files, org, users};
use chrono::{Duration, Utc};
use serde_json::json;

/// The demo BDRs' shared password, shown on the terminal and in the README.
pub const DEMO_PASSWORD: &str = "demo-password";

/// What the first start created, for the one-time terminal message.
pub struct FirstStart {
    pub admin_email: String,
    /// Set when the password was generated (written to the data directory too).
    pub generated_password: Option<String>,
    pub demo_users: Vec<String>,
}

/// Prepares an empty database; on later starts only makes sure the org row exists.
pub async fn run(state: &AppState) -> Result<Option<FirstStart>, AppError> {
    let s = &state.settings;
    org::seed(&state.pool, &s.org_name, &s.org_time_zone).await?;
    if users::count(&state.pool).await? > 0 {
        return Ok(None);
    }
    let email = EmailAddress::parse(&s.admin_email)
        .map_err(|e| internal("ADMIN_EMAIL", e))?;
    let generated = s.admin_password.is_empty().then(crate::server::crypto::random_token);
    let password = generated.clone().unwrap_or_else(|| s.admin_password.clone());
    if let Some(p) = &generated {
        files::write_private(&s.turnout_data_dir.join("admin-password"), &format!("{p}\n"))
            .map_err(|e| internal("writing the admin password file", e))?;
    }
    let hash = password::hash(&password).await?;
    let mut tx = state.pool.begin().await?;
    let admin = users::insert(&mut *tx, &email, "Administrator", Role::Admin, Some(&hash)).await?;
    audit::record(&mut *tx, None, "user.created", "user", Some(admin.id), None, Some(audit::json(&admin))).await?;
    let demo_users = if s.turnout_demo {
        seed_demo(&mut tx, admin.id, &s.default_region).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    Ok(Some(FirstStart { admin_email: admin.email, generated_password: generated, demo_users }))
}

async fn seed_demo(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    admin_id: uuid::Uuid,
    region: &str,
) -> Result<Vec<String>, AppError> {
    let hash = password::hash(DEMO_PASSWORD).await?;
    org::seed_postal_address(&mut **tx, "100 Main Street, Suite 200\nSpringfield, IL 62701").await?;
    let mut bdrs = Vec::new();
    for (email, name) in [("ana@demo.turnout.local", "Ana Reyes"), ("ben@demo.turnout.local", "Ben Okafor")] {
        let email = EmailAddress::parse(email).map_err(|e| internal("demo email", e))?;
        let u = users::insert(&mut **tx, &email, name, Role::Bdr, Some(&hash)).await?;
        bdrs.push(u);
    }

    let template = templates::insert_template(&mut **tx, "Seminar invitation", TemplateStatus::Published, admin_id).await?;
    let version = templates::insert_version(&mut **tx, template, 1, admin_id).await?;
    let node = |key: &str, kind: NodeKind, name: &str, config: serde_json::Value, y: f64| NodeDraft {
        key: key.into(),
        kind: kind.as_str().into(),
        name: name.into(),
        config,
        x: 80.0,
        y,
    };
    let edge = |from: &str, to: &str| EdgeDraft { from: from.into(), to: to.into(), condition: None };
    let graph = GraphDraft {
        nodes: vec![
            node("N1", NodeKind::Stage, "Invited", json!({"stage_key": "invited"}), 80.0),
            node("N2", NodeKind::SmsSend, "Invitation text", json!({"body": "Hi {{contact.first_name | \"there\"}}, {{sender.name}} here. Join us {{event.date}} at {{event.venue}}? Reply YES to RSVP."}), 200.0),
            node("N3", NodeKind::Wait, "Wait 2 days", json!({"mode": "duration", "minutes": 2880}), 440.0),
            node("N4", NodeKind::EmailSend, "Invitation email", json!({"subject": "You're invited: {{event.date}}", "body": "Hi {{contact.first_name | \"there\"}},\n\nWe'd love to see you at {{event.venue}} on {{event.date}} at {{event.time}}.\n\n{{sender.name}}"}), 560.0),
            // Right after the text, so a demo soon has real audio in its contacts' timelines.
            node("N5", NodeKind::VoicemailDrop, "Voicemail follow-up", json!({"body": "Hi {{contact.first_name | \"there\"}}, this is {{sender.name}}. I just sent you a text about our event at {{event.venue}} on {{event.date}}. Reply to it to save your seat. Thanks!"}), 320.0),
        ],
        edges: vec![edge("N1", "N2"), edge("N2", "N5"), edge("N5", "N3"), edge("N3", "N4")],
    };
    templates::insert_graph(tx, GraphOwner::TemplateDraft(template), &graph).await?;
    templates::insert_graph(tx, GraphOwner::TemplateVersion(version), &graph).await?;

    let people = [
        ("Maria Gonzalez", "(202) 555-0143", "maria.gonzalez@example.com", "Gonzalez Realty", EnrollmentStatus::ReceivedRsvp),
        ("James Carter", "(312) 555-0198", "james.carter@example.com", "Carter Homes", EnrollmentStatus::NeedsBdr),
        ("Priya Natarajan", "(415) 555-0171", "priya.n@example.com", "Bayview Lending", EnrollmentStatus::NoActivity),
        ("Tom Becker", "(617) 555-0122", "tom.becker@example.com", "Becker & Sons", EnrollmentStatus::Attended),
        ("Lena Fischer", "(305) 555-0156", "lena.fischer@example.com", "Sunrise Title", EnrollmentStatus::OptedOut),
        ("Omar Haddad", "(206) 555-0109", "omar.haddad@example.com", "Harbor Mortgage", EnrollmentStatus::NoActivity),
    ];
    // Three weeks out, 6 pm in New York.
    let event_day = (Utc::now() + Duration::days(21)).with_timezone(&chrono_tz::America::New_York).date_naive();
    let event_start = event_day
        .and_hms_opt(18, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono_tz::America::New_York).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| internal("demo event time", "no such local time"))?;
    let mut campaigns_made = Vec::new();
    for (owner, name, venue) in [
        (&bdrs[0], "Spring homebuyer seminar", "Riverside Conference Center, Hall B"),
        (&bdrs[1], "Refinancing Q&A night", "Harbor Hotel, Room 4"),
    ] {
        let id = campaigns::insert(&mut **tx, &NewCampaign {
            name,
            status: CampaignStatus::Active,
            event_type: EventType::InPerson,
            event_start,
            event_time_zone: "America/New_York",
            venue: Some(venue),
            join_link: None,
            owner_id: owner.id,
            sender_id: owner.id,
            template_version_id: Some(version),
        })
        .await?;
        templates::insert_graph(tx, GraphOwner::Campaign(id), &graph).await?;
        campaigns_made.push((id, venue));
    }

    for (i, (name, phone, email, company, status)) in people.into_iter().enumerate() {
        let phone = E164Phone::parse(phone, region).map_err(|e| internal("demo phone", e))?;
        let email = EmailAddress::parse(email).map_err(|e| internal("demo email", e))?;
        let contact = contacts::insert(&mut **tx, &NewContact {
            name,
            phone: Some(&phone),
            email: Some(&email),
            company: Some(company),
            time_zone: None,
            consent_source: "demo data",
        })
        .await?;
        // The first four are Ana's, the rest Ben's.
        let (campaign, venue) = campaigns_made[usize::from(i >= 4)];
        campaigns::enroll(&mut **tx, campaign, contact, status, Some("invited")).await?;
        if matches!(status, EnrollmentStatus::ReceivedRsvp | EnrollmentStatus::NeedsBdr | EnrollmentStatus::OptedOut) {
            let first = name.split(' ').next().unwrap_or(name);
            let reply = match status {
                EnrollmentStatus::ReceivedRsvp => "YES! Count me in, can I bring my partner?",
                EnrollmentStatus::OptedOut => "STOP",
                _ => "Is there parking at the venue?",
            };
            let conv = conversations::insert(&mut **tx, Some(contact), Channel::Sms, phone.as_str()).await?;
            let sent_at = Utc::now() - Duration::hours(30 - i as i64);
            let out = format!("Hi {first}, join us at {venue} on {}. Reply YES to RSVP.", event_day.format("%b %-d"));
            for (direction, body, at) in [
                (Direction::Out, out.as_str(), sent_at),
                (Direction::In, reply, sent_at + Duration::minutes(42)),
            ] {
                conversations::log_message(tx, &LoggedMessage {
                    conversation_id: conv,
                    direction,
                    body,
                    subject: None,
                    provider: "sandbox",
                    campaign_id: Some(campaign),
                    at,
                })
                .await?;
            }
        }
    }
    Ok(bdrs.into_iter().map(|u| u.email).collect())
}
