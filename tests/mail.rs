//! Emails the app sends through its system mail sender, received by a real SMTP server.
mod common;

use common::{json, spawn_with, test_settings};
use mailin_embedded::response::{OK, Response};
use mailin_embedded::{Handler, Server, SslConfig};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use turnout::domain::Role;
use turnout::server::settings::Settings;

/// One received message: its envelope recipients and raw data.
#[derive(Debug, Clone, Default)]
struct Mail {
    to: Vec<String>,
    data: String,
}

#[derive(Clone, Default)]
struct Inbox {
    current: Mail,
    received: Arc<Mutex<Vec<Mail>>>,
}

impl Handler for Inbox {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Mail { to: to.to_vec(), data: String::new() };
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.received.lock().unwrap().push(std::mem::take(&mut self.current));
        OK
    }
}

/// Starts an SMTP server on a random loopback port; returns its URL and what it receives.
fn smtp_server() -> (String, Arc<Mutex<Vec<Mail>>>) {
    let inbox = Inbox::default();
    let received = inbox.received.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let mut server = Server::new(inbox);
    server.with_name("mail.test").with_ssl(SslConfig::None).unwrap().with_tcp_listener(listener);
    std::thread::spawn(move || {
        if let Err(e) = server.serve() {
            eprintln!("smtp server stopped: {e}");
        }
    });
    (url, received)
}

/// The first link in a message, with quoted-printable soft line breaks undone.
fn link_in(mail: &Mail) -> String {
    let body = mail.data.replace("=\r\n", "").replace("=3D", "=");
    let start = body.find("http://").expect("a link");
    body[start..].split_whitespace().next().unwrap().to_string()
}

async fn wait_for_mail(received: &Arc<Mutex<Vec<Mail>>>, n: usize) -> Vec<Mail> {
    for _ in 0..100 {
        let got = received.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("expected {n} emails, got {}", received.lock().unwrap().len());
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
