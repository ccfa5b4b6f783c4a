//! Admins design funnel templates; publishing freezes immutable versions; graphs travel as
//! CSV or JSON.
mod common;

use common::{json, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use turnout::domain::Role;

fn funnel(with_body: bool) -> Value {
    json!({
        "nodes": [
            {"key": "N1", "type": "stage", "name": "Invited", "config": {"stage_key": "invited"}, "x": 80.0, "y": 80.0},
            {"key": "N2", "type": "sms_send", "name": "Text", "config": {"body": if with_body { "Hi {{contact.first_name}}" } else { "" }}, "x": 80.0, "y": 200.0},
            {"key": "N3", "type": "wait", "name": "Wait", "config": {"mode": "duration", "minutes": 60}, "x": 80.0, "y": 320.0}
        ],
        "edges": [{"from": "N1", "to": "N2"}, {"from": "N2", "to": "N3"}]
    })
}

#[sqlx::test]
async fn an_admin_drafts_publishes_and_revises_a_template(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let bdr = app.user("ana@turnout.test", Role::Bdr).await;

    let (status, t) = json(app.call("POST", "/api/templates", Some(&admin.token), Some(json!({"name": "Seminar"}))).await).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let id = t["id"].as_str().unwrap().to_string();
    assert_eq!(t["issues"][0]["message"], "the funnel has no steps");

    // An invalid draft is saved, with its issues named by node.
    let path = format!("/api/templates/{id}");
    let (status, t) = json(app.call("PUT", &path, Some(&admin.token), Some(json!({"name": "Seminar", "draft": funnel(false)}))).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["issues"], json!([{"node": "N2", "message": "a send needs content"}]));
    assert_eq!(t["draft"]["nodes"].as_array().unwrap().len(), 3);
    let (status, err) = json(app.call("POST", &format!("{path}/publish"), Some(&admin.token), None).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"], "The funnel cannot be published: N2: a send needs content");

    // Fixed, it publishes as version 1.
    app.call("PUT", &path, Some(&admin.token), Some(json!({"name": "Seminar", "draft": funnel(true)}))).await;
    let (status, t) = json(app.call("POST", &format!("{path}/publish"), Some(&admin.token), None).await).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["status"].as_str(), t["versions"][0]["version"].as_i64()), (Some("published"), Some(1)));

    // Editing a published template makes a new draft; version 1 stays as it was.
    let mut edited = funnel(true);
    edited["nodes"][1]["config"]["body"] = json!("Hello again");
    let (_, t) = json(app.call("PUT", &path, Some(&admin.token), Some(json!({"name": "Seminar", "draft": edited}))).await).await;
    assert_eq!(t["status"], "draft");
    let v1: String = sqlx::query_scalar(
        "SELECT n.config->>'body' FROM nodes n JOIN template_versions v ON v.id = n.template_version_id WHERE v.version = 1 AND n.key = 'N2'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(v1, "Hi {{contact.first_name}}");
    let (_, t) = json(app.call("POST", &format!("{path}/publish"), Some(&admin.token), None).await).await;
    assert_eq!(t["versions"].as_array().unwrap().len(), 2);

    // BDRs read templates but do not change them.
    assert_eq!(app.call("GET", &path, Some(&bdr.token), None).await.status(), StatusCode::OK);
    let res = app.call("PUT", &path, Some(&bdr.token), Some(json!({"name": "Mine", "draft": funnel(true)}))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (_, list) = json(app.call("GET", "/api/templates", Some(&bdr.token), None).await).await;
    assert_eq!(list[0]["latest_version"], 2);
    assert_eq!(list[0]["status"], "published");
}

#[sqlx::test]
async fn templates_round_trip_through_csv_and_refuse_malformed_rows(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let (_, t) = json(app.call("POST", "/api/templates", Some(&admin.token), Some(json!({"name": "A", "draft": funnel(true)}))).await).await;
    let id = t["id"].as_str().unwrap();

    let csv = app.call("GET", &format!("/api/templates/{id}/export?format=csv"), Some(&admin.token), None).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("record,key,type,name,config,x,y,from,to,condition\nnode,N1,stage,Invited,"), "{csv}");

    let client = reqwest::Client::new();
    let import = |body: String| {
        client
            .post(app.url("/api/templates/import?format=csv&name=Copy"))
            .bearer_auth(&admin.token)
            .body(body)
            .send()
    };
    let (status, copy) = json(import(csv.clone()).await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    let again = app
        .call("GET", &format!("/api/templates/{}/export?format=csv", copy["id"].as_str().unwrap()), Some(&admin.token), None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(again, csv, "export(import(export(t))) == export(t)");

    let broken = csv.replacen("node,N2,sms_send,Text,", "node,N2,sms_send,Text,{oops", 1) + "edge,,,,,,,N1,,\n";
    let (status, err) = json(import(broken).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = err["error"].as_str().unwrap();
    assert!(message.starts_with("The file was not imported: line 3: config is not valid JSON"), "{message}");
    assert!(message.contains("line 7: an edge needs 'from' and 'to'"), "{message}");

    // Well-formed but invalid: kept as a draft with its issues.
    let invalid = csv.replace("\"\"body\"\":\"\"Hi {{contact.first_name}}\"\"", "\"\"body\"\":\"\"\"\"");
    let (status, draft) = json(import(invalid).await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["issues"][0]["node"], "N2");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM templates").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 3, "the malformed file created nothing");
}
