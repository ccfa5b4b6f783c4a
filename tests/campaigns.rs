//! BDRs start campaigns from published templates, activate them, and change a running
//! campaign's funnel; content is copied in at activation.
mod common;

use common::{Actor, TestApp, json, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use turnout::domain::Role;

/// An admin publishes a three-step funnel whose text comes from shared content.
async fn published(app: &TestApp, admin: &Actor) -> (String, String) {
    let (status, content) = json(
        app.call("POST", "/api/content", Some(&admin.token), Some(json!({
            "name": "Invite text", "channel": "sms", "body": "Hi {{contact.first_name | \"there\"}}, join us {{event.date}} at {{event.venue}}!"
        })))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{content}");
    let content_id = content["id"].as_str().unwrap().to_string();
    let draft = json!({
        "nodes": [
            {"key": "N1", "type": "stage", "name": "Invited", "config": {"stage_key": "invited"}, "x": 0.0, "y": 0.0},
            {"key": "N2", "type": "sms_send", "name": "Text", "config": {"content_id": content_id}, "x": 0.0, "y": 100.0},
            {"key": "N3", "type": "wait", "name": "Wait", "config": {"mode": "duration", "minutes": 60}, "x": 0.0, "y": 200.0}
        ],
        "edges": [{"from": "N1", "to": "N2"}, {"from": "N2", "to": "N3"}]
    });
    let (_, t) = json(app.call("POST", "/api/templates", Some(&admin.token), Some(json!({"name": "Seminar", "draft": draft}))).await).await;
    let id = t["id"].as_str().unwrap();
    let (status, t) = json(app.call("POST", &format!("/api/templates/{id}/publish"), Some(&admin.token), None).await).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    (t["versions"][0]["id"].as_str().unwrap().to_string(), content_id)
}

async fn act(app: &TestApp, who: &Actor, id: &str, action: &str) -> reqwest::Response {
    app.call("POST", &format!("/api/campaigns/{id}/actions"), Some(&who.token), Some(json!({ "action": action }))).await
}

async fn list(app: &TestApp, who: &Actor, query: &str) -> reqwest::Response {
    app.call("GET", &format!("/api/campaigns{query}"), Some(&who.token), None).await
}

fn new_campaign(version: &str) -> Value {
    json!({
        "name": "Spring seminar", "template_version_id": version, "event_type": "In-Person",
        "event_start": "2027-03-04T18:30", "event_time_zone": "America/Chicago", "venue": "Hall B"
    })
}

#[sqlx::test]
async fn a_bdr_starts_activates_and_revises_a_campaign(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let ben = app.user("ben@turnout.test", Role::Bdr).await;
    let (version, content_id) = published(&app, &admin).await;

    // Created from the version: the graph is cloned, the event time is local to its zone.
    let (status, c) = json(app.call("POST", "/api/campaigns", Some(&ana.token), Some(new_campaign(&version))).await).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = c["summary"]["id"].as_str().unwrap().to_string();
    assert_eq!(c["summary"]["status"], "draft");
    assert_eq!(c["summary"]["owner_id"], ana.id.to_string());
    assert_eq!(c["summary"]["event_start"], "2027-03-05T00:30:00Z");
    assert_eq!(c["graph"]["nodes"].as_array().unwrap().len(), 3);

    // A BDR cannot start a campaign for someone else; another BDR cannot see it.
    let mut for_ben = new_campaign(&version);
    for_ben["owner_id"] = json!(ben.id);
    assert_eq!(app.call("POST", "/api/campaigns", Some(&ana.token), Some(for_ben)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.call("GET", &format!("/api/campaigns/{id}"), Some(&ben.token), None).await.status(), StatusCode::NOT_FOUND);

    // Activation copies the shared content into the node; later edits don't reach it.
    let (status, c) = json(act(&app, &ana, &id, "activate").await).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["summary"]["status"], "active");
    let text = c["graph"]["nodes"][1]["config"]["body"].as_str().unwrap().to_string();
    assert!(text.starts_with("Hi {{contact.first_name"), "{c}");
    let res = app
        .call("PUT", &format!("/api/content/{content_id}"), Some(&admin.token), Some(json!({"name": "Invite text", "channel": "sms", "body": "Changed"})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, c) = json(app.call("GET", &format!("/api/campaigns/{id}"), Some(&ana.token), None).await).await;
    assert_eq!(c["graph"]["nodes"][1]["config"]["body"], text);
    let (status, err) = json(act(&app, &ana, &id, "activate").await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"], "The campaign is active; it cannot activate");

    // Editing the running funnel makes a new version; contacts on a removed node pause.
    let contact: uuid::Uuid = sqlx::query_scalar("INSERT INTO contacts (id, name) VALUES (gen_random_uuid(), 'Pat Doe') RETURNING id")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO enrollments (id, campaign_id, contact_id, current_node) VALUES (gen_random_uuid(), $1::uuid, $2, 'N3')")
        .bind(&id)
        .bind(contact)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut graph = c["graph"].clone();
    graph["nodes"].as_array_mut().unwrap().truncate(2);
    graph["edges"].as_array_mut().unwrap().truncate(1);
    let (status, c) = json(app.call("PUT", &format!("/api/campaigns/{id}/graph"), Some(&ana.token), Some(graph.clone())).await).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["graph_version"], 2);
    assert_eq!(c["stranded"][0]["contact_name"], "Pat Doe");
    assert_eq!(c["stranded"][0]["engine_state"], "paused");

    // The BDR moves them to a step that exists; they are active again.
    let stranded = c["stranded"][0]["id"].clone();
    let moved = app
        .call("POST", &format!("/api/campaigns/{id}/enrollments/move"), Some(&ana.token), Some(json!({"enrollments": [stranded], "to_node": "N2"})))
        .await;
    let (status, c) = json(moved).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert!(c["stranded"].as_array().unwrap().is_empty());
    let state: (String, String) = sqlx::query_as("SELECT engine_state, current_node FROM enrollments WHERE contact_id = $1")
        .bind(contact)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, ("active".to_string(), "N2".to_string()));

    // A running campaign takes only a funnel that can run.
    graph["nodes"][1]["config"] = json!({"body": ""});
    let (status, err) = json(app.call("PUT", &format!("/api/campaigns/{id}/graph"), Some(&ana.token), Some(graph)).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"], "The funnel has problems: N2: a send needs content");

    // Filters.
    let (_, all) = json(list(&app, &ana, "").await).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (_, none) = json(list(&app, &ana, "?status=draft").await).await;
    assert!(none.as_array().unwrap().is_empty());
    let (_, dated) = json(list(&app, &ana, "?from=2027-03-05&to=2027-03-05").await).await;
    assert_eq!(dated.as_array().unwrap().len(), 1);
    let (_, before) = json(list(&app, &ana, "?to=2027-03-04").await).await;
    assert!(before.as_array().unwrap().is_empty());
}

#[sqlx::test]
async fn a_campaign_needs_a_real_event(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let (version, _) = published(&app, &admin).await;
    let attempt = |change: Value| {
        let mut body = new_campaign(&version);
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        app.call("POST", "/api/campaigns", Some(&admin.token), Some(body))
    };
    for (change, message) in [
        (json!({"event_time_zone": "Mars/Olympus"}), "'Mars/Olympus' is not a known time zone"),
        (json!({"event_start": "2027-03-14T02:30"}), "That time does not exist in the event's time zone (a clock change)"),
        (json!({"venue": ""}), "An in-person event needs a venue"),
        (json!({"event_type": "Virtual", "join_link": "zoom"}), "A virtual event needs a join link (https://...)"),
        (json!({"template_version_id": uuid::Uuid::now_v7()}), "That template version does not exist"),
    ] {
        let (status, err) = json(attempt(change).await).await;
        assert_eq!((status, err["error"].as_str().unwrap()), (StatusCode::UNPROCESSABLE_ENTITY, message));
    }
}

#[sqlx::test]
async fn content_is_checked_when_saved_and_previewed_for_a_contact(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let save = |body: Value| app.call("POST", "/api/content", Some(&admin.token), Some(body));
    let (status, err) = json(save(json!({"name": "X", "channel": "sms", "body": "Hi {{contact.nickname}}"})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["error"].as_str().unwrap().starts_with("Body: unknown merge tag {{contact.nickname}}"), "{err}");
    let (status, err) = json(save(json!({"name": "X", "channel": "email", "body": "Hi"})).await).await;
    assert_eq!((status, err["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("An email needs a subject")));

    // A preview for a real contact: values filled, HTML escaped and sanitised, a missing
    // value without fallback named.
    let (version, _) = published(&app, &admin).await;
    let mut body = new_campaign(&version);
    body["venue"] = json!("Hall <B>");
    let (_, c) = json(app.call("POST", "/api/campaigns", Some(&admin.token), Some(body)).await).await;
    let campaign = c["summary"]["id"].as_str().unwrap();
    let contact: uuid::Uuid = sqlx::query_scalar("INSERT INTO contacts (id, name) VALUES (gen_random_uuid(), 'Maria Gonzalez') RETURNING id")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO enrollments (id, campaign_id, contact_id, custom_fields) VALUES (gen_random_uuid(), $1::uuid, $2, '{\"officer\": \"Sam\"}')")
        .bind(campaign)
        .bind(contact)
        .execute(&app.pool)
        .await
        .unwrap();
    let preview = json!({
        "name": "Invite", "channel": "email", "subject": "See you {{event.date}}",
        "body": "Hi {{contact.first_name}}, ask {{contact.custom.officer}}. {{contact.company}}",
        "body_html": "<p onclick=\"x()\">At <b>{{event.venue}}</b></p><script>alert(1)</script>",
        "campaign_id": campaign, "contact_id": contact
    });
    let (status, p) = json(app.call("POST", "/api/content/preview", Some(&admin.token), Some(preview)).await).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["subject"], "See you Thursday, March 4");
    assert_eq!(p["body_html"], "<p>At <b>Hall &lt;B&gt;</b></p>");
    assert_eq!(p["body"], Value::Null);
    assert_eq!(p["problem"], "{{contact.company}} has no value for this contact and no fallback");

    let sms = json!({"name": "T", "channel": "sms", "body": "Hi {{contact.first_name}} 😀", "campaign_id": campaign, "contact_id": contact});
    let (_, p) = json(app.call("POST", "/api/content/preview", Some(&admin.token), Some(sms)).await).await;
    assert_eq!(p["body"], "Hi Maria 😀");
    assert_eq!(p["sms"], json!({"encoding": "Ucs2", "units": 11, "segments": 1}));
}
