//! A BDR imports contacts from CSV into her campaign, finds them on the Leads page, changes
//! their status in bulk and exports them.
mod common;

use chrono::Utc;
use common::{Actor, TestApp, spawn_app};
use serde_json::{Value, json};
use sqlx::PgPool;
use turnout::domain::{E164Phone, EmailAddress, Role};
use turnout::server::contacts::{self, NewContact};
use uuid::Uuid;

async fn upload(app: &TestApp, who: &Actor, campaign: Uuid, csv: String) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("campaign_id", campaign.to_string())
        .text("consent_source", "Spring expo sign-up sheet")
        .part("file", reqwest::multipart::Part::text(csv).file_name("people.csv"));
    reqwest::Client::new()
        .post(app.url("/api/imports"))
        .bearer_auth(&who.token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Uploads, starts with the guessed mapping, and waits for the worker to finish.
async fn import(app: &TestApp, who: &Actor, campaign: Uuid, csv: String) -> Value {
    let (status, view) = common::json(upload(app, who, campaign, csv).await).await;
    assert_eq!(status, 201, "{view}");
    let id = view["id"].as_str().unwrap().to_string();
    let body = json!({ "mapping": view["mapping"] });
    let (status, started) = common::json(app.call("POST", &format!("/api/imports/{id}/start"), Some(&who.token), Some(body)).await).await;
    assert_eq!(status, 202, "{started}");
    wait_done(app, who, &id).await
}

async fn wait_done(app: &TestApp, who: &Actor, id: &str) -> Value {
    for _ in 0..600 {
        let (_, v) = common::json(app.call("GET", &format!("/api/imports/{id}"), Some(&who.token), None).await).await;
        if v["status"] == "done" || v["status"] == "failed" {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("import {id} did not finish");
}

async fn issues(app: &TestApp, who: &Actor, id: &str) -> String {
    let res = app.call("GET", &format!("/api/imports/{id}/issues.csv"), Some(&who.token), None).await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

#[sqlx::test]
async fn a_csv_with_good_and_bad_rows_imports_the_good_and_reports_the_bad_by_line(pool: PgPool) {
    let app = spawn_app(pool).await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let k = app.campaign(&ana).await;
    // Line 4 spans two lines (a quoted newline), so the bad row after it is on line 6.
    let csv = "First Name,Last Name,Phone,Email,Company,Budget\n\
               Maria,Gonzalez,(202) 555-0143,maria@example.com,Gonzalez Realty,400k\n\
               James,Carter,12,james@example.com,,\n\
               Priya,N,(415) 555-0171,priya@example.com,\"Bayview\nLending\",\n\
               Tom,Becker,,not-an-email,,\n\
               Lena,Fischer,,,,\n\
               Omar,Haddad,+44 20 7946 0958,omar@example.com,,900k\n\
               Short,Row,(312) 555-0198\n";
    let (status, view) = common::json(upload(&app, &ana, k, csv.into()).await).await;
    assert_eq!(status, 201);
    assert_eq!(view["total_rows"], 7);
    assert_eq!(view["mapping"], json!(["first_name", "last_name", "phone", "email", "company", "custom"]));
    assert_eq!(view["preview"][0][0], "Maria");
    let id = view["id"].as_str().unwrap();
    let (status, _) = common::json(app.call("POST", &format!("/api/imports/{id}/start"), Some(&ana.token), Some(json!({"mapping": view["mapping"]}))).await).await;
    assert_eq!(status, 202);
    let done = wait_done(&app, &ana, id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!((done["created"].as_i64(), done["enrolled"].as_i64(), done["skipped"].as_i64()), (Some(3), Some(3), Some(4)), "{done}");
    assert_eq!(done["processed_rows"], 7);

    let report = issues(&app, &ana, id).await;
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "line,outcome,reason");
    let rejected: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(rejected, ["3", "6", "7", "9"], "{report}");
    assert!(report.contains("'12' is not a valid phone number"), "{report}");
    assert!(report.contains("'not-an-email' is not a valid email address"), "{report}");
    assert!(report.contains("neither a phone number nor an email"), "{report}");
    assert!(report.contains("The row has 3 fields; the header has 6"), "{report}");

    let row = sqlx::query_as::<_, (String, Option<String>, Option<String>, Option<String>)>(
        "SELECT name, company, time_zone, consent_source FROM contacts WHERE phone = '+12025550143'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row, ("Maria Gonzalez".into(), Some("Gonzalez Realty".into()), Some("America/New_York".into()), Some("Spring expo sign-up sheet".into())));
    let zone: Option<String> = sqlx::query_scalar("SELECT time_zone FROM contacts WHERE phone = '+442079460958'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(zone.as_deref(), Some("Europe/London"));
    let custom: Value = sqlx::query_scalar("SELECT e.custom_fields FROM enrollments e JOIN contacts c ON c.id = e.contact_id WHERE c.phone = '+442079460958'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(custom, json!({"Budget": "900k"}));

    // The leads are on the Leads page, searchable, and export with formulas neutralised.
    let (_, page) = common::json(app.call("GET", &format!("/api/contacts?campaign_id={k}&q=gonz"), Some(&ana.token), None).await).await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["leads"][0]["name"], "Maria Gonzalez");
    let res = app.call("GET", "/api/contacts/export.csv", Some(&ana.token), None).await;
    let export = res.text().await.unwrap();
    assert!(export.contains(",'+12025550143,"), "{export}");
    assert!(export.contains("\"{\"\"Budget\"\":\"\"400k\"\"}\""), "{export}");
}

#[sqlx::test]
async fn people_are_matched_by_phone_then_email_and_duplicates_merge(pool: PgPool) {
    let app = spawn_app(pool).await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let k = app.campaign(&ana).await;
    let phone = |p: &str| E164Phone::parse(p, "US").unwrap();
    let email = |e: &str| EmailAddress::parse(e).unwrap();
    // A has a name and a phone; B only an email and a company.
    let a = contacts::insert(&app.pool, &NewContact {
        name: "Alice Known", phone: Some(&phone("(202) 555-0101")), email: None, company: None, time_zone: Some("America/Chicago"), consent_source: "earlier",
    })
    .await
    .unwrap();
    let b = contacts::insert(&app.pool, &NewContact {
        name: "", phone: None, email: Some(&email("bob@example.com")), company: Some("Bob Co"), time_zone: None, consent_source: "earlier",
    })
    .await
    .unwrap();
    sqlx::query("INSERT INTO suppressions (id, kind, value_hash, value, reason, source) VALUES ($1, 'email', sha256(convert_to('stop@example.com', 'UTF8')), 'stop@example.com', 'opted out', 'test')")
        .bind(Uuid::now_v7())
        .execute(&app.pool)
        .await
        .unwrap();
    let csv = "Name,Phone,Email,Company\n\
               Alice New,202-555-0101,alice@example.com,Alice Co\n\
               Bob Builder,(312) 555-0198,BOB@example.com,Other Co\n\
               Clash,202.555.0101,bob@example.com,\n\
               Carol,(415) 555-0171,,\n\
               ,+1 415 555 0171,carol@example.com,Carol Co\n\
               Carol Again,,carol@example.com,\n\
               Stopped,,stop@example.com,\n";
    let done = import(&app, &ana, k, csv.into()).await;
    assert_eq!(done["status"], "done", "{done}");
    // Carol's three rows merge into one new contact; Stopped is new too.
    assert_eq!(done["created"], 2, "{done}");
    assert_eq!(done["updated"], 2, "{done}");
    assert_eq!(done["enrolled"], 4, "{done}");
    assert_eq!(done["merged"], 3, "{done}");
    assert_eq!(done["conflicts"], 1, "{done}");
    assert_eq!(done["suppressed"], 1, "{done}");
    assert_eq!(done["skipped"], 0, "{done}");

    type Row = (String, Option<String>, Option<String>, Option<String>, Option<String>);
    let get = |id: Uuid| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, Row>("SELECT name, phone, email, company, time_zone FROM contacts WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // Shared fields are only filled where empty.
    assert_eq!(get(a).await, ("Alice Known".into(), Some("+12025550101".into()), Some("alice@example.com".into()), Some("Alice Co".into()), Some("America/Chicago".into())));
    assert_eq!(get(b).await, ("Bob Builder".into(), Some("+13125550198".into()), Some("bob@example.com".into()), Some("Bob Co".into()), Some("America/Chicago".into())));
    let carol: Row = sqlx::query_as("SELECT name, phone, email, company, time_zone FROM contacts WHERE phone = '+14155550171'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(carol, ("Carol".into(), Some("+14155550171".into()), Some("carol@example.com".into()), Some("Carol Co".into()), Some("America/Los_Angeles".into())));
    let state: String = sqlx::query_scalar("SELECT e.engine_state FROM enrollments e JOIN contacts c ON c.id = e.contact_id WHERE c.email = 'stop@example.com'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "stopped");

    let report = issues(&app, &ana, done["id"].as_str().unwrap()).await;
    assert!(report.contains("4,conflict,"), "{report}");
    assert!(report.contains("8,suppressed,"), "{report}");

    // Importing the same file again creates nobody and enrolls nobody twice.
    let again = import(&app, &ana, k, csv.into()).await;
    assert_eq!((again["created"].as_i64(), again["enrolled"].as_i64()), (Some(0), Some(0)), "{again}");

    // A phone of one contact with the email of another: the phone wins, the row is a conflict.
    let clash = import(&app, &ana, k, "Name,Phone,Email\nClash,(202) 555-0101,bob@example.com\n".into()).await;
    assert_eq!((clash["conflicts"].as_i64(), clash["updated"].as_i64(), clash["created"].as_i64()), (Some(1), Some(1), Some(0)), "{clash}");
    assert_eq!(get(a).await.2.as_deref(), Some("alice@example.com"));
    let report = issues(&app, &ana, clash["id"].as_str().unwrap()).await;
    assert!(report.contains("2,conflict,The phone and the email belong to two different contacts"), "{report}");
}

#[sqlx::test]
async fn nobody_imports_into_another_bdrs_campaign(pool: PgPool) {
    let app = spawn_app(pool).await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let ben = app.user("ben@turnout.test", Role::Bdr).await;
    let k = app.campaign(&ana).await;
    let (status, _) = common::json(upload(&app, &ben, k, "email\nx@example.com\n".into()).await).await;
    assert_eq!(status, 404);
    let (status, _) = common::json(upload(&app, &app.admin().await, k, "email\nx@example.com\n".into()).await).await;
    assert_eq!(status, 201);
    // Nothing of the refused upload was spooled.
    let spooled = std::fs::read_dir(app.data_dir.join("imports")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(spooled, 1);
}

#[sqlx::test]
async fn an_import_interrupted_by_a_restart_is_finished_by_the_next_worker(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let k = app.campaign(&ana).await;
    let rows = 60_000;
    let mut csv = String::from("name,email\n");
    for i in 0..rows {
        csv.push_str(&format!("Person {i},p{i}@example.com\n"));
    }
    let (_, view) = common::json(upload(&app, &ana, k, csv).await).await;
    let id = view["id"].as_str().unwrap().to_string();
    let uid = Uuid::parse_str(&id).unwrap();
    app.call("POST", &format!("/api/imports/{id}/start"), Some(&ana.token), Some(json!({"mapping": view["mapping"]}))).await;
    // Stop the server once the first chunk is in.
    loop {
        let done: i64 = sqlx::query_scalar("SELECT processed_rows FROM contact_imports WHERE id = $1").bind(uid).fetch_one(&pool).await.unwrap();
        if done > 0 {
            app.state.shutdown.cancel();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut stopped_at = None;
    for _ in 0..200 {
        let (status, lease): (String, Option<chrono::DateTime<Utc>>) =
            sqlx::query_as("SELECT status, lease_until FROM contact_imports WHERE id = $1").bind(uid).fetch_one(&pool).await.unwrap();
        if lease.is_none() {
            stopped_at = Some(status);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (processed, created): (i64, i64) =
        sqlx::query_as("SELECT processed_rows, created FROM contact_imports WHERE id = $1").bind(uid).fetch_one(&pool).await.unwrap();
    assert_eq!(stopped_at.as_deref(), Some("running"), "the job should be left mid-way");
    assert!(processed > 0 && processed < rows, "processed {processed}");
    assert_eq!(created, processed);

    // A new server on the same data directory picks the job up and finishes it.
    let restarted = common::start(pool.clone(), (*app.state.settings).clone()).await;
    let done = wait_done(&restarted, &ana, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!((done["created"].as_i64(), done["enrolled"].as_i64(), done["processed_rows"].as_i64()), (Some(rows), Some(rows), Some(rows)));
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts").fetch_one(&pool).await.unwrap();
    assert_eq!(contacts, rows);
    // The file goes right after the import is marked done.
    let spooled = restarted.data_dir.join(format!("imports/{id}.csv"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while spooled.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!spooled.exists(), "the spooled file is removed");
}

#[sqlx::test]
async fn bulk_status_changes_reach_only_the_users_own_leads(pool: PgPool) {
    let app = spawn_app(pool).await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let ben = app.user("ben@turnout.test", Role::Bdr).await;
    let ka = app.campaign(&ana).await;
    let kb = app.campaign(&ben).await;
    import(&app, &ana, ka, "email,stage\na1@example.com,x\na2@example.com,y\na3@example.com,z\n".into()).await;
    import(&app, &ben, kb, "email\nb1@example.com\n".into()).await;

    // Ben's "all matching" reaches only his one lead.
    let all = json!({"all_matching": true, "filter": {}, "status": "Needs BDR"});
    let (_, r) = common::json(app.call("POST", "/api/contacts/bulk-status", Some(&ben.token), Some(all)).await).await;
    assert_eq!(r["changed"], 1);
    // Ana changes two of her three leads by choosing them.
    let (_, page) = common::json(app.call("GET", "/api/contacts", Some(&ana.token), None).await).await;
    assert_eq!(page["total"], 3);
    let ids: Vec<Value> = page["leads"].as_array().unwrap().iter().take(2).map(|l| l["enrollment_id"].clone()).collect();
    let some = json!({"ids": ids, "status": "Received RSVP"});
    let (_, r) = common::json(app.call("POST", "/api/contacts/bulk-status", Some(&ana.token), Some(some.clone())).await).await;
    assert_eq!(r["changed"], 2);
    // Ben cannot change Ana's leads by naming them.
    let (_, r) = common::json(app.call("POST", "/api/contacts/bulk-status", Some(&ben.token), Some(some)).await).await;
    assert_eq!(r["changed"], 0);
    let (_, page) = common::json(app.call("GET", "/api/contacts?status=Received%20RSVP", Some(&ana.token), None).await).await;
    assert_eq!(page["total"], 2);
}

async fn timeline(app: &TestApp, who: &Actor, contact: Uuid) -> Vec<Value> {
    let (status, c) = common::json(app.call("GET", &format!("/api/contacts/{contact}"), Some(&who.token), None).await).await;
    assert_eq!(status, 200, "{c}");
    c["timeline"].as_array().cloned().unwrap_or_default()
}

#[sqlx::test]
async fn a_contacts_timeline_shows_engine_steps_and_failed_sends_only_to_who_may_see_the_campaign(pool: PgPool) {
    use turnout::domain::campaign::{Channel, EnrollmentStatus};
    use turnout::server::{campaigns, conversations};
    let app = spawn_app(pool.clone()).await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let ben = app.user("ben@turnout.test", Role::Bdr).await;
    let admin = app.admin().await;
    let (ka, kb) = (app.campaign(&ana).await, app.campaign(&ben).await);
    // One person in both BDRs' campaigns.
    let phone = E164Phone::parse("+12025550123", "US").unwrap();
    let person = NewContact { name: "Pat Doe", phone: Some(&phone), email: None, company: None, time_zone: None, consent_source: "test" };
    let contact = contacts::insert(&pool, &person).await.unwrap();
    let enrollment = campaigns::enroll(&pool, ka, contact, EnrollmentStatus::NoActivity, None).await.unwrap();
    campaigns::enroll(&pool, kb, contact, EnrollmentStatus::NoActivity, None).await.unwrap();

    // Ana pauses her contact (an engine step), then a text of her campaign fails at the provider.
    let res = app.server_fn("act_on_enrollment", Some(&ana.token), &format!("id={ka}&enrollment={enrollment}&action=pause")).await;
    assert_eq!(res.status(), 200);
    let conversation = conversations::insert(&pool, Some(contact), Channel::Sms, phone.as_str()).await.unwrap();
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, direction, body, campaign_id, node_key, send_state, error, created_at)
         VALUES ($1, $2, 'out', 'Hi Pat!', $3, 'N2', 'failed', 'Twilio 21610: the recipient unsubscribed', now() + interval '1 second')",
    )
    .bind(Uuid::now_v7())
    .bind(conversation)
    .bind(ka)
    .execute(&pool)
    .await
    .unwrap();

    // Newest first: the failed send with its error, then the step.
    for who in [&ana, &admin] {
        let t = timeline(&app, who, contact).await;
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!((t[0]["type"].as_str(), t[0]["send_state"].as_str(), t[0]["node"].as_str()), (Some("message"), Some("failed"), Some("N2")));
        assert!(t[0]["error"].as_str().unwrap().contains("21610"));
        assert_eq!((t[1]["type"].as_str(), t[1]["kind"].as_str()), (Some("step"), Some("user")));
        assert_eq!(t[1]["detail"], "Paused by ana@turnout.test");
        assert_eq!(t[1]["campaign_name"], "Spring seminar");
    }
    // Ben sees the person (his own campaign has them) but nothing of Ana's campaign.
    assert!(timeline(&app, &ben, contact).await.is_empty());
}
