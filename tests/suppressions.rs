//! The suppression list page's functions (admins only), erasing a contact on request, and
//! attendee lists, called as the browser calls them.
mod common;

use chrono::Utc;
use common::{Actor, TestApp, spawn_app};
use serde_json::Value;
use sqlx::PgPool;
use turnout::domain::campaign::{Channel, Direction, EnrollmentStatus};
use turnout::domain::{E164Phone, EmailAddress, Role};
use turnout::server::campaigns;
use turnout::server::contacts::{self, NewContact};
use turnout::server::conversations::{self, LoggedMessage};
use turnout::server::engine::compliance;

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

async fn call(app: &TestApp, who: &Actor, name: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let res = app.server_fn(name, Some(&who.token), &form(pairs)).await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// What the engine asks before each send.
async fn suppressed(app: &TestApp, channel: Channel, address: &str) -> bool {
    let mut conn = app.pool.acquire().await.unwrap();
    !compliance::suppressed(&mut conn, &[(channel, address.to_string())]).await.unwrap().is_empty()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar!("SELECT action FROM audit_log WHERE action LIKE 'suppression%' OR action LIKE 'contact.%' ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn only_admins_manage_the_list_and_every_change_is_audited(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let bdr = app.user("bdr@turnout.test", Role::Bdr).await;
    assert_eq!(call(&app, &bdr, "list_suppressions", &[("q", "")]).await.0, 403);
    assert_eq!(call(&app, &bdr, "add_suppression", &[("address", "+12025550100"), ("reason", "x")]).await.0, 403);
    assert_eq!(app.call("GET", "/api/suppressions/export.csv", Some(&bdr.token), None).await.status(), 403);

    let (status, entry) = call(&app, &admin, "add_suppression", &[("address", "(202) 555-0100"), ("reason", "Asked by phone")]).await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["display"], "•••0100");
    assert!(suppressed(&app, Channel::Sms, "+12025550100").await);
    assert_eq!(call(&app, &admin, "add_suppression", &[("address", "+12025550100"), ("reason", "again")]).await.0, 409);
    assert_eq!(call(&app, &admin, "add_suppression", &[("address", "not a number"), ("reason", "x")]).await.0, 422);

    // By the exact address (its hash), and by words of the reason.
    let (_, found) = call(&app, &admin, "list_suppressions", &[("q", "+1 202 555 0100")]).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (_, found) = call(&app, &admin, "list_suppressions", &[("q", "by phone")]).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (_, found) = call(&app, &admin, "list_suppressions", &[("q", "+12025550199")]).await;
    assert_eq!(found.as_array().unwrap().len(), 0);

    let id = entry["id"].as_str().unwrap();
    assert_eq!(call(&app, &admin, "remove_suppression", &[("id", id), ("reason", "")]).await.0, 422);
    assert_eq!(call(&app, &admin, "remove_suppression", &[("id", id), ("reason", "Entered by mistake")]).await.0, 200);
    assert!(!suppressed(&app, Channel::Sms, "+12025550100").await);
    assert_eq!(audit_actions(&app).await, ["suppression.added", "suppression.removed"]);
    let removal = sqlx::query!("SELECT actor_id, after FROM audit_log WHERE action = 'suppression.removed'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(removal.actor_id, Some(admin.id));
    assert_eq!(removal.after.unwrap()["reason"], "Entered by mistake");
}

#[sqlx::test]
async fn csv_import_keeps_good_rows_names_bad_lines_and_the_export_reads_back(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let csv = "address,reason\n(202) 555-0101,asked\nnot-a-number,typo\nPat@Example.com,\n";
    let (status, report) = call(&app, &admin, "import_suppressions", &[("text", csv)]).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["added"].as_u64(), report["already"].as_u64()), (Some(2), Some(0)));
    assert_eq!(report["errors"].as_array().unwrap().len(), 1);
    assert_eq!(report["errors"][0]["line"], 3);
    assert!(suppressed(&app, Channel::Sms, "+12025550101").await);
    assert!(suppressed(&app, Channel::Email, "pat@example.com").await);

    let export = app.call("GET", "/api/suppressions/export.csv", Some(&admin.token), None).await.text().await.unwrap();
    assert!(export.starts_with("kind,hash,display,reason,source,created_at"));
    assert!(!export.contains("555-0101") && !export.contains("+12025550101") && !export.contains("pat@"), "{export}");
    sqlx::query!("DELETE FROM suppressions").execute(&app.pool).await.unwrap();
    let (_, report) = call(&app, &admin, "import_suppressions", &[("text", &export)]).await;
    assert_eq!((report["added"].as_u64(), report["errors"].as_array().map(Vec::len)), (Some(2), Some(0)), "{report}");
    assert!(suppressed(&app, Channel::Sms, "+12025550101").await);
    assert!(suppressed(&app, Channel::Email, "PAT@example.com").await);
}

#[sqlx::test]
async fn erasing_a_contact_removes_their_data_and_keeps_them_suppressed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let owner = app.user("owner@turnout.test", Role::Bdr).await;
    let campaign = app.campaign(&owner).await;
    let phone = E164Phone::parse("+12025550177", "US").unwrap();
    let email = EmailAddress::parse("sam@example.com").unwrap();
    let contact = contacts::insert(&app.pool, &NewContact {
        name: "Sam Lee",
        phone: Some(&phone),
        email: Some(&email),
        company: Some("Acme"),
        time_zone: None,
        consent_source: "test",
    })
    .await
    .unwrap();
    let enrollment = campaigns::enroll(&app.pool, campaign, contact, EnrollmentStatus::NeedsBdr, None).await.unwrap();
    sqlx::query!(r#"UPDATE enrollments SET custom_fields = '{"budget": "high"}' WHERE id = $1"#, enrollment).execute(&app.pool).await.unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    let conversation = conversations::insert(&mut *conn, Some(contact), Channel::Sms, phone.as_str()).await.unwrap();
    let logged = LoggedMessage { conversation_id: conversation, direction: Direction::In, body: "I'm Sam, call me", subject: None, provider: "sandbox", campaign_id: Some(campaign), at: Utc::now() };
    conversations::log_message(&mut conn, &logged).await.unwrap();

    let id = contact.to_string();
    assert_eq!(call(&app, &owner, "erase_contact", &[("id", &id), ("reason", "asked")]).await.0, 403);
    let (status, body) = call(&app, &admin, "erase_contact", &[("id", &id), ("reason", "Asked by email")]).await;
    assert_eq!(status, 200, "{body}");

    let c = sqlx::query!("SELECT name, phone, email, company, erased_at FROM contacts WHERE id = $1", contact).fetch_one(&app.pool).await.unwrap();
    assert_eq!((c.name.as_str(), c.phone, c.email, c.company), ("", None, None, None));
    assert!(c.erased_at.is_some());
    let m = sqlx::query!("SELECT body FROM messages WHERE conversation_id = $1", conversation).fetch_one(&app.pool).await.unwrap();
    assert_eq!(m.body, "");
    let e = sqlx::query!("SELECT status, custom_fields FROM enrollments WHERE contact_id = $1", contact).fetch_one(&app.pool).await.unwrap();
    assert_eq!((e.status.as_str(), e.custom_fields), ("Opted Out", serde_json::json!({})));
    // The engine's check still finds both addresses, from their hashes alone.
    assert!(suppressed(&app, Channel::Sms, "+12025550177").await);
    assert!(suppressed(&app, Channel::Email, "sam@example.com").await);
    let shown: Vec<Option<String>> = sqlx::query_scalar!("SELECT value FROM suppressions").fetch_all(&app.pool).await.unwrap();
    assert_eq!(shown, [None, None]);
    let audit = sqlx::query!("SELECT actor_id, after FROM audit_log WHERE action = 'contact.erased'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(audit.actor_id, Some(admin.id));
    assert!(!audit.after.unwrap().to_string().contains("0177"));
}

#[sqlx::test]
async fn an_attendee_list_marks_attendance_without_lowering_anyone(pool: PgPool) {
    let app = spawn_app(pool).await;
    let owner = app.user("owner@turnout.test", Role::Bdr).await;
    let other = app.user("other@turnout.test", Role::Bdr).await;
    let campaign = app.campaign(&owner).await;
    let mut people = Vec::new();
    for (phone, email, status) in [
        ("+12025550181", "ann@example.com", EnrollmentStatus::ReceivedRsvp),
        ("+12025550182", "bob@example.com", EnrollmentStatus::OptedOut),
        ("+12025550183", "cy@example.com", EnrollmentStatus::NoActivity),
    ] {
        let (p, e) = (E164Phone::parse(phone, "US").unwrap(), EmailAddress::parse(email).unwrap());
        let c = contacts::insert(&app.pool, &NewContact { name: "X", phone: Some(&p), email: Some(&e), company: None, time_zone: None, consent_source: "test" })
            .await
            .unwrap();
        people.push(campaigns::enroll(&app.pool, campaign, c, status, None).await.unwrap());
    }
    let csv = "Name,Phone,Email\nAnn,(202) 555-0181,\nBob,,BOB@example.com\nCy,,cy@example.com\nNobody,(202) 555-0199,\nBlank,,\n";
    let id = campaign.to_string();
    assert_eq!(call(&app, &other, "import_attendees", &[("id", &id), ("text", csv)]).await.0, 404);
    let (status, report) = call(&app, &owner, "import_attendees", &[("id", &id), ("text", csv)]).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["marked"].as_u64(), report["unchanged"].as_u64()), (Some(2), Some(1)));
    let lines: Vec<u64> = report["unmatched"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [5, 6]);
    let statuses: Vec<String> = sqlx::query_scalar!("SELECT status FROM enrollments WHERE id = ANY($1) ORDER BY id", &people)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(statuses, ["Attended", "Opted Out", "Attended"]);
}
