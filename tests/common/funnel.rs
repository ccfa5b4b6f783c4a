//! Campaigns with their own funnels, and contacts in them, as the engine and reply tests
//! set them up.
use super::{Actor, TestApp};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use turnout::server::clock::ManualClock;
use serde_json::{Value, json};
use turnout::domain::Role;
use turnout::domain::funnel::GraphDraft;
use turnout::domain::{E164Phone, EmailAddress};
use turnout::server::campaigns;
use turnout::server::contacts::{self, NewContact};
use turnout::server::templates::{self, GraphOwner};

pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("timestamp")
}

/// A running campaign with its own funnel, for an owner who sends as themselves.
pub struct Running {
    pub id: uuid::Uuid,
    pub owner: Actor,
}

pub async fn running(app: &TestApp, event_start: &str, graph: Value) -> Running {
    let owner = app.user(&format!("bdr{}@turnout.test", uuid::Uuid::now_v7().simple()), Role::Bdr).await;
    sqlx::query!("UPDATE users SET name = 'Ana Ruiz', sms_from_number = '+12025550001' WHERE id = $1", owner.id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query!("UPDATE org_settings SET name = 'Acme Homes', postal_address = '1 Main St\nSpringfield, IL 62701'")
        .execute(&app.pool)
        .await
        .unwrap();
    let id = app.campaign_at(&owner, utc(event_start)).await;
    let draft: GraphDraft = serde_json::from_value(graph).unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    templates::insert_graph(&mut conn, GraphOwner::Campaign(id), &draft).await.unwrap();
    Running { id, owner }
}

/// Enrolls a new contact; returns the enrollment id.
pub async fn contact(app: &TestApp, campaign: uuid::Uuid, name: &str, phone: &str, email: &str, tz: Option<&str>) -> uuid::Uuid {
    let phone = E164Phone::parse(phone, "US").unwrap();
    let email = EmailAddress::parse(email).unwrap();
    let c = contacts::insert(&app.pool, &NewContact {
        name,
        phone: Some(&phone),
        email: Some(&email),
        company: None,
        time_zone: tz,
        consent_source: "test",
    })
    .await
    .unwrap();
    campaigns::enroll(&app.pool, campaign, c, turnout::domain::campaign::EnrollmentStatus::NoActivity, None).await.unwrap()
}

pub fn node(key: &str, kind: &str, config: Value) -> Value {
    json!({ "key": key, "type": kind, "name": key, "config": config, "x": 0.0, "y": 0.0 })
}

pub fn edge(from: &str, to: &str) -> Value {
    json!({ "from": from, "to": to })
}

pub fn way(from: &str, to: &str, outcome: &str) -> Value {
    json!({ "from": from, "to": to, "condition": { "outcome": outcome } })
}

/// Tuesday 2 March 2027, 10:00 in New York: inside the default send window.
pub fn tuesday_in_window() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(utc("2027-03-02T15:00:00Z")))
}

/// A text, then three days later another.
pub fn two_texts() -> Value {
    json!({
        "nodes": [
            node("N1", "sms_send", json!({ "body": "Hi {{contact.first_name}}, join us on the 20th?" })),
            node("N2", "wait", json!({ "mode": "duration", "minutes": 4320 })),
            node("N3", "sms_send", json!({ "body": "Last call, {{contact.first_name}}!" })),
        ],
        "edges": [edge("N1", "N2"), edge("N2", "N3")]
    })
}
