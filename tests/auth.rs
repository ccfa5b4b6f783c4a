//! Signing in and out, token expiry and revocation, rate limits, the same-origin rule,
//! and password resets.
mod common;

use chrono::{Duration, Utc};
use common::{ADMIN_EMAIL, ADMIN_PASSWORD, json, spawn_app};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use turnout::domain::Role;
use turnout::server::auth::token;

#[sqlx::test]
async fn admin_signs_in_and_gets_token_user_and_cookie(pool: PgPool) {
    let app = spawn_app(pool).await;
    let res = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let cookie = res.headers().get("set-cookie").expect("cookie").to_str().unwrap().to_string();
    assert!(cookie.starts_with("turnout_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Max-Age=604800"));
    assert!(!cookie.contains("Secure"), "plain http must not set Secure");
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email"], ADMIN_EMAIL);
    assert_eq!(body["user"]["role"], "admin");
    assert!(body["user"].get("password_hash").is_none());

    let token = body["token"].as_str().unwrap();
    let (status, me) = json(app.call("GET", "/api/me", Some(token), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], ADMIN_EMAIL);
}

#[sqlx::test]
async fn wrong_password_and_unknown_account_get_the_same_answer(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (s1, b1) = json(app.login(ADMIN_EMAIL, "not-the-password").await).await;
    let (s2, b2) = json(app.login("nobody@turnout.test", "not-the-password").await).await;
    assert_eq!((s1, s2), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(b1, b2);
    assert_eq!(b1["error"], "Wrong email or password");
}

#[sqlx::test]
async fn expired_and_tampered_tokens_are_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let expired = token::issue(&app.state.keys, admin.id, 0, Utc::now() - Duration::days(8), Duration::days(7)).unwrap();
    let (status, body) = json(app.call("GET", "/api/me", Some(&expired), None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "Please sign in");

    let mut tampered = admin.token.clone();
    tampered.pop();
    assert_eq!(app.call("GET", "/api/me", Some(&tampered), None).await.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn changing_password_disabling_and_signing_out_revoke_tokens(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;

    // Password change: the old token dies, the new one works.
    let bdr = app.user("ana@turnout.test", Role::Bdr).await;
    let res = app
        .call("POST", "/api/me/password", Some(&bdr.token), Some(json!({"current": "user-password-1", "new": "a-new-password-2"})))
        .await;
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = body["token"].as_str().unwrap().to_string();
    assert_eq!(app.call("GET", "/api/me", Some(&bdr.token), None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.call("GET", "/api/me", Some(&fresh), None).await.status(), StatusCode::OK);
    assert_eq!(app.login("ana@turnout.test", "a-new-password-2").await.status(), StatusCode::OK);

    // Disabling: tokens die and sign-in is refused.
    let other = app.user("ben@turnout.test", Role::Bdr).await;
    let res = app.call("PATCH", &format!("/api/users/{}", other.id), Some(&admin.token), Some(json!({"disabled": true}))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.call("GET", "/api/me", Some(&other.token), None).await.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = json(app.login("ben@turnout.test", "user-password-1").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["error"].as_str().unwrap().contains("disabled"));

    // Sign-out ends every session of that user.
    let res = app.call("POST", "/api/auth/logout", Some(&fresh), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(app.call("GET", "/api/me", Some(&fresh), None).await.status(), StatusCode::UNAUTHORIZED);

    // Each change is in the audit log.
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(actions.contains(&"user.password_changed".to_string()), "{actions:?}");
    assert!(actions.contains(&"user.updated".to_string()), "{actions:?}");
}

#[sqlx::test]
async fn sign_in_attempts_are_rate_limited_per_account(pool: PgPool) {
    let app = spawn_app(pool).await;
    for _ in 0..5 {
        assert_eq!(app.login(ADMIN_EMAIL, "wrong-password").await.status(), StatusCode::UNAUTHORIZED);
    }
    let (status, body) = json(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body["error"].as_str().unwrap().starts_with("Too many sign-in attempts for this account"), "{body}");
    // Another account from the same address is still allowed.
    assert_eq!(app.login("someone@turnout.test", "wrong-password").await.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn cookie_requests_that_change_state_must_come_from_the_app(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let client = reqwest::Client::new();
    let body = json!({"email": "new@turnout.test", "name": "New", "role": "bdr", "password": "new-user-password"});
    let post = |origin: Option<&str>| {
        let mut req = client
            .post(app.url("/api/users"))
            .header("cookie", format!("turnout_session={}", admin.token))
            .json(&body);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let (status, err) = json(post(Some("https://evil.example")).await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(err["error"], "Cross-origin request refused");
    assert_eq!(post(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(post(Some(&app.base)).await.unwrap().status(), StatusCode::CREATED);
    // Reads with the cookie need no Origin.
    let res = client.get(app.url("/api/me")).header("cookie", format!("turnout_session={}", admin.token)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[sqlx::test]
async fn admin_reset_link_sets_a_password_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let bdr = app.user("ana@turnout.test", Role::Bdr).await;

    // Without a mail sender, forgotten passwords go through an admin.
    let (status, body) = json(app.call("POST", "/api/auth/forgot-password", None, Some(json!({"email": "ana@turnout.test"}))).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("ask an admin"));

    let res = app.call("POST", &format!("/api/users/{}/reset-password", bdr.id), Some(&admin.token), None).await;
    let (status, outcome) = json(res).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["emailed"], false);
    let link = outcome["link"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/reset-password?token=", app.base)));
    let reset_token = link.split("token=").nth(1).unwrap();
    assert!(reset_token.len() >= 43, "at least 256 bits");
    // The reset ended the user's sessions.
    assert_eq!(app.call("GET", "/api/me", Some(&bdr.token), None).await.status(), StatusCode::UNAUTHORIZED);

    let reset = |password: &str| {
        app.call("POST", "/api/auth/reset-password", None, Some(json!({"token": reset_token, "password": password})))
    };
    let (status, body) = json(reset("short").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("10 characters"));
    assert_eq!(reset("brand-new-password").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.login("ana@turnout.test", "brand-new-password").await.status(), StatusCode::OK);
    let (status, body) = json(reset("another-password-9").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("already used"));
}

#[sqlx::test]
async fn server_function_login_sets_the_cookie_and_errors_carry_their_status(pool: PgPool) {
    let app = spawn_app(pool).await;
    let res = app.server_fn("login", None, &format!("email={ADMIN_EMAIL}&password={ADMIN_PASSWORD}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    let token = cookie.trim_start_matches("turnout_session=").split(';').next().unwrap().to_string();
    let (status, me) = json(app.server_fn("current_user", Some(&token), "").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], ADMIN_EMAIL);

    let (status, body) = json(app.server_fn("login", None, "email=x%40y.com&password=nope").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "Wrong email or password");
}
