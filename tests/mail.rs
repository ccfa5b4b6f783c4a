//! Emails the app sends through its system mail sender, received by a real SMTP server.
mod common;

use common::smtp::{Mail, smtp_server, wait_for_mail};
use common::{json, spawn_with, test_settings};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use turnout::domain::Role;
use turnout::server::settings::Settings;

/// The first link in a message, with quoted-printable soft line breaks undone.
fn link_in(mail: &Mail) -> String {
    let body = mail.data.replace("=\r\n", "").replace("=3D", "=");
    let start = body.find("http://").expect("a link");
    body[start..].split_whitespace().next().unwrap().to_string()
}

#[sqlx::test]
async fn a_forgotten_password_is_reset_through_an_emailed_link(pool: PgPool) {
    let (url, received) = smtp_server();
    let app = spawn_with(pool, Settings { system_smtp_url: url, ..test_settings() }).await;
    let bdr = app.user("ana@turnout.test", Role::Bdr).await;

    // An unknown address gets the same answer, and no email.
    let forgot = |email: &str| app.call("POST", "/api/auth/forgot-password", None, Some(json!({ "email": email })));
    assert_eq!(forgot("nobody@turnout.test").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(forgot("ANA@turnout.test").await.status(), StatusCode::NO_CONTENT);
    let mails = wait_for_mail(&received, 1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["ana@turnout.test"]);
    assert!(mails[0].data.contains("Subject: Reset your Turnout password"));
    let link = link_in(&mails[0]);
    assert!(link.starts_with(&format!("{}/reset-password?token=", app.base)), "{link}");

    // The link's page renders, and its token sets the password once.
    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let token = link.split("token=").nth(1).unwrap();
    let reset = app.call("POST", "/api/auth/reset-password", None, Some(json!({"token": token, "password": "emailed-reset-pw"}))).await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.call("GET", "/api/me", Some(&bdr.token), None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("ana@turnout.test", "emailed-reset-pw").await.status(), StatusCode::OK);
    let used: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar("SELECT used_at FROM password_resets")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(used.is_some());
}

#[sqlx::test]
async fn a_user_added_without_a_password_is_invited_by_email(pool: PgPool) {
    let (url, received) = smtp_server();
    let app = spawn_with(pool, Settings { system_smtp_url: url, ..test_settings() }).await;
    let admin = app.admin().await;
    let body = json!({"email": "casey@turnout.test", "name": "Casey Lin", "role": "bdr"});
    let (status, outcome) = json(app.call("POST", "/api/users", Some(&admin.token), Some(body)).await).await;
    assert_eq!(status, StatusCode::CREATED, "{outcome}");
    assert_eq!(outcome["emailed"], true);
    assert!(outcome["link"].is_null(), "the link goes only to the invitee");
    // An invited user cannot sign in until they set a password.
    assert_eq!(app.login("casey@turnout.test", "").await.status(), StatusCode::UNAUTHORIZED);

    let mails = wait_for_mail(&received, 1).await;
    assert!(mails[0].data.contains("Subject: You're invited to Turnout"), "{}", mails[0].data);
    assert_eq!(mails[0].to, ["casey@turnout.test"]);
    let link = link_in(&mails[0]);
    let token = link.split("token=").nth(1).unwrap();
    let set = app.call("POST", "/api/auth/reset-password", None, Some(json!({"token": token, "password": "casey-password-1"}))).await;
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    let (status, me) = json(app.login("casey@turnout.test", "casey-password-1").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["name"], "Casey Lin");
}
