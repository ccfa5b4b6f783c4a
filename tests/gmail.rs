//! A BDR's own Google account, against a loopback Google (tests/common/gmail.rs): connecting
//! it (authorization code with PKCE, a single-use state), campaign email sent through Gmail
//! with its compliance headers, expired and revoked tokens, disconnecting, and the mailbox
//! synced back: replies matched by thread, by the Message-ID they answer or by the sender,
//! automatic answers and bounces told apart, a lost history id recovered without duplicates,
//! and inbox replies that stay in the contact's thread.
mod common;

use chrono::Duration;
use common::funnel::{Running, contact, edge, node, running, tuesday_in_window};
use common::gmail::{FakeGoogle, SCOPES, SentMail};
use common::{Actor, TestApp, json, settled, spawn_engine};
use reqwest::Url;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::Arc;
use turnout::domain::campaign::Channel;
use turnout::server::clock::ManualClock;
use turnout::server::settings::Settings;
use uuid::Uuid;

const PAT: &str = "pat@example.com";
const SAM: &str = "sam@example.com";
const LEE: &str = "lee@example.com";
const KIM: &str = "kim@example.com";

fn quick(s: &mut Settings) {
    s.sms_per_second_per_number = 0.0;
    s.email_per_day_per_sender = 0;
    s.engine_poll_ms = 100;
}

/// An invitation email, then three days later a last call.
fn two_emails() -> Value {
    json!({
        "nodes": [
            node("N1", "email_send", json!({
                "subject": "Join us on the 20th, {{contact.first_name}}",
                "body": "Hi {{contact.first_name}},\n\nWe'd love to see you at Hall A on the 20th. Just reply yes to save your seat.\n\nAna"
            })),
            node("N2", "wait", json!({ "mode": "duration", "minutes": 4320 })),
            node("N3", "email_send", json!({ "subject": "Last call", "body": "Last call, {{contact.first_name}}!" })),
        ],
        "edges": [edge("N1", "N2"), edge("N2", "N3")]
    })
}

struct World {
    app: TestApp,
    fake: FakeGoogle,
    clock: Arc<ManualClock>,
    /// Ana's campaign; Ana connects her Google account in most tests.
    ana: Running,
}

async fn world(pool: PgPool) -> World {
    let fake = FakeGoogle::start().await;
    let clock = tuesday_in_window();
    let app = spawn_engine(pool, clock.clone(), |s| {
        quick(s);
        fake.configure(s);
    })
    .await;
    let ana = running(&app, "2027-03-20T23:00:00Z", two_emails()).await;
    World { app, fake, clock, ana }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string()
}

fn query_of(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Step one, as the Settings page's Connect link: the app sends the browser to Google.
async fn begin(app: &TestApp, who: &Actor) -> Url {
    let res = no_redirects().get(app.url("/api/google/connect")).bearer_auth(&who.token).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303, "connect: {}", res.text().await.unwrap_or_default());
    Url::parse(&location(&res)).expect("an absolute URL to Google")
}

/// Step two, as the user consenting at Google: Google sends the browser back with a code.
async fn consent(to_google: &Url) -> Url {
    let res = no_redirects().get(to_google.clone()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302, "Google refused the authorization request: {}", res.text().await.unwrap_or_default());
    Url::parse(&location(&res)).unwrap()
}

/// Step three, as the browser coming back (with the session cookie): where the app sends it.
async fn finish(who: &Actor, callback: &Url) -> String {
    let res = no_redirects().get(callback.clone()).header("cookie", format!("turnout_session={}", who.token)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303, "callback: {}", res.text().await.unwrap_or_default());
    location(&res)
}

async fn connect(app: &TestApp, who: &Actor) {
    let back = finish(who, &consent(&begin(app, who).await).await).await;
    assert!(back.ends_with("/settings?google=connected"), "{back}");
}

async fn call_fn(app: &TestApp, who: &Actor, name: &str) -> Value {
    let (status, body) = json(app.server_fn(name, Some(&who.token), "").await).await;
    assert_eq!(status.as_u16(), 200, "{name}: {body}");
    body
}

async fn account(app: &TestApp, who: &Actor) -> Value {
    call_fn(app, who, "get_google_account").await
}

async fn sync(app: &TestApp, who: &Actor) -> Value {
    call_fn(app, who, "sync_google_now").await
}

fn report(r: &Value) -> (u64, u64, u64) {
    (r["replies"].as_u64().unwrap(), r["auto_replies"].as_u64().unwrap(), r["bounces"].as_u64().unwrap())
}

/// The last email the fake took for an address.
fn sent_to(fake: &FakeGoogle, to: &str) -> SentMail {
    fake.sent().into_iter().rev().find(|m| m.to.as_deref().is_some_and(|t| t.contains(to))).unwrap_or_else(|| panic!("nothing sent to {to}"))
}

/// (status, engine state) of an enrollment.
async fn enrollment(app: &TestApp, id: Uuid) -> (String, String) {
    sqlx::query_as("SELECT status, engine_state FROM enrollments WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap()
}

/// The inbound messages of a contact's email conversation: (body, provider, thread, auto kind).
async fn inbound(app: &TestApp, email: &str) -> Vec<(String, Option<String>, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT m.body, m.provider, m.provider_thread_id, m.auto_kind FROM messages m
           JOIN conversations c ON c.id = m.conversation_id
           JOIN contacts ct ON ct.id = c.contact_id
          WHERE lower(ct.email) = $1 AND c.channel = 'email' AND m.direction = 'in'
          ORDER BY m.created_at, m.id",
    )
    .bind(email)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// Every inbound message stored, whoever it is from.
async fn all_inbound(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM messages WHERE direction = 'in'").fetch_one(&app.pool).await.unwrap()
}

/// (provider, provider id, thread, Message-ID header, state, error) of an enrollment's outbound email.
async fn outbound(app: &TestApp, enrollment: Uuid) -> Vec<(Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT provider, provider_message_id, provider_thread_id, message_id_header, send_state, error FROM messages
          WHERE enrollment_id = $1 AND direction = 'out' ORDER BY created_at, id",
    )
    .bind(enrollment)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

// --- realistic mail ------------------------------------------------------------------------

/// Pat answers from Gmail, from another of their addresses, and the headers that would tie
/// the answer to ours are gone (a forwarding hop rewrote them): only Gmail's thread does.
fn pat_replies_from_gmail(ana: &str) -> String {
    format!(
        "Delivered-To: {ana}\n\
Received: by 2002:a05:6a10:8f0e:b0:4e2:1c3a:7d1b with SMTP id x14csp2513409pxh;\n        Tue, 2 Mar 2027 07:41:12 -0800 (PST)\n\
MIME-Version: 1.0\n\
From: Pat Lee <pat.lee@home.example>\n\
Date: Tue, 2 Mar 2027 10:41:02 -0500\n\
Message-ID: <CAJx8pT0ZqX1m7kP2c9FzWv4bN3sQ8rYh5LmT6@mail.gmail.com>\n\
Subject: Re: Join us on the 20th, Pat\n\
To: Ana Ruiz <{ana}>\n\
Content-Type: multipart/alternative; boundary=\"000000000000a1b2c3d4e5f6a7b8\"\n\
\n\
--000000000000a1b2c3d4e5f6a7b8\n\
Content-Type: text/plain; charset=\"UTF-8\"\n\
\n\
Is there parking near Hall A?\n\
\n\
On Tue, Mar 2, 2027 at 10:00 AM Ana Ruiz <{ana}> wrote:\n\
> Hi Pat,\n\
>\n\
> We'd love to see you at Hall A on the 20th. Just reply yes to save your seat.\n\
>\n\
> Ana\n\
\n\
--000000000000a1b2c3d4e5f6a7b8\n\
Content-Type: text/html; charset=\"UTF-8\"\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
<div dir=3D\"ltr\">Is there parking near Hall A?</div><br><div class=3D\"gmail_=\n\
quote\"><div dir=3D\"ltr\" class=3D\"gmail_attr\">On Tue, Mar 2, 2027 at 10:00 AM=\n\
 Ana Ruiz &lt;{ana}&gt; wrote:<br></div><blockquote class=3D\"gmail_quote\">Hi Pat,<br><br>We&#39;d love to see you at Hall A on the 20th. Just reply yes to save your seat.<br><br>Ana</blockquote></div>\n\
\n\
--000000000000a1b2c3d4e5f6a7b8--\n"
    )
}

/// Sam answers from their work address, in a thread of its own (a changed subject), naming
/// our message in `In-Reply-To` and `References`.
fn sam_rsvps_by_reference(ana: &str, ours: &str) -> String {
    format!(
        "Delivered-To: {ana}\n\
MIME-Version: 1.0\n\
From: Sam Poe <sam.poe@work.example>\n\
Date: Tue, 2 Mar 2027 11:02:45 -0500\n\
Message-ID: <CAF9w2sSamPoe0x7dQkV3nR8eT1a@mail.gmail.com>\n\
In-Reply-To: {ours}\n\
References: {ours}\n\
Subject: Seminar on the 20th\n\
To: {ana}\n\
Content-Type: text/plain; charset=\"UTF-8\"\n\
\n\
Count me in! See you on the 20th.\n\
\n\
Sam\n"
    )
}

/// Lee writes anew: no thread, no reference, only the address Lee is enrolled with.
fn lee_writes_anew(ana: &str) -> String {
    format!(
        "Delivered-To: {ana}\n\
MIME-Version: 1.0\n\
From: \"Lee Ray\" <Lee@Example.com>\n\
Date: Tue, 2 Mar 2027 12:15:00 -0500\n\
Message-ID: <CAK3LeeRay9mT2pQwX8vB4nZ1c@mail.gmail.com>\n\
Subject: Question about the seminar\n\
To: {ana}\n\
Content-Type: text/plain; charset=\"UTF-8\"\n\
\n\
Can I bring a colleague along?\n"
    )
}

/// The rest of a BDR's mail, which is none of Turnout's business.
fn newsletter(ana: &str) -> String {
    format!(
        "Delivered-To: {ana}\n\
MIME-Version: 1.0\n\
From: Shop Deals <deals@shop.example>\n\
Date: Tue, 2 Mar 2027 09:00:00 -0500\n\
Message-ID: <20270302140000.1a2b3c@shop.example>\n\
Subject: 20% off this week only\n\
To: {ana}\n\
List-Unsubscribe: <https://shop.example/u/123>\n\
Content-Type: text/plain; charset=\"UTF-8\"\n\
\n\
Yes, it's true: 20% off everything.\n"
    )
}

/// Ben's contact, writing to Ana: a contact, but not of Ana's campaigns.
fn stranger_contact(ana: &str) -> String {
    format!(
        "From: Kim Ode <{KIM}>\n\
Date: Tue, 2 Mar 2027 09:30:00 -0500\n\
Message-ID: <CAKimOde0001@mail.gmail.com>\n\
Subject: Hello\n\
To: {ana}\n\
MIME-Version: 1.0\n\
Content-Type: text/plain; charset=\"UTF-8\"\n\
\n\
Yes, I'll be there.\n"
    )
}

/// Outlook's out-of-office answer to our invitation.
fn outlook_out_of_office(ana: &str, ours: &str) -> String {
    format!(
        "From: Pat Lee <{PAT}>\n\
To: Ana Ruiz <{ana}>\n\
Subject: Automatic reply: Join us on the 20th, Pat\n\
Thread-Topic: Join us on the 20th, Pat\n\
Thread-Index: AQHZx1k2bPq9yV3mS0e7l8f3wq5zQg==\n\
Date: Tue, 2 Mar 2027 15:00:41 +0000\n\
Message-ID: <BN0PR04MB80791E2D3C4A5B6@BN0PR04MB8079.namprd04.prod.outlook.com>\n\
In-Reply-To: {ours}\n\
References: {ours}\n\
Auto-Submitted: auto-replied\n\
X-MS-Has-Attach:\n\
X-Auto-Response-Suppress: All\n\
X-MS-Exchange-Inbox-Rules-Loop: {PAT}\n\
Content-Language: en-US\n\
Content-Type: text/plain; charset=\"us-ascii\"\n\
Content-Transfer-Encoding: quoted-printable\n\
MIME-Version: 1.0\n\
\n\
I am out of the office until Monday, March 8, with limited access to email.=\n\
 For anything urgent please call the front desk.\n"
    )
}

/// Gmail's mailer-daemon: the address does not exist. (It says `Auto-Submitted` too.)
fn gmail_bounce(ana: &str, ours: &str, failed: &str) -> String {
    format!(
        "Delivered-To: {ana}\n\
Return-Path: <>\n\
Received: by 2002:a05:6a10:8f0e:b0:4e2:1c3a:7d1b with SMTP id x14csp2513999pxh;\n        Tue, 2 Mar 2027 07:00:05 -0800 (PST)\n\
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
To: {ana}\n\
Auto-Submitted: auto-replied\n\
Subject: Delivery Status Notification (Failure)\n\
References: {ours}\n\
In-Reply-To: {ours}\n\
X-Failed-Recipients: {failed}\n\
Message-ID: <65e3c1a2.050a0220.8f3e2.0b1fSMTPIN_ADDED_DSN@mx.google.com>\n\
Date: Tue, 02 Mar 2027 07:00:05 -0800 (PST)\n\
MIME-Version: 1.0\n\
Content-Type: multipart/report; boundary=\"000000000000d4c3b2a1f0e9\"; report-type=delivery-status\n\
\n\
--000000000000d4c3b2a1f0e9\n\
Content-Type: text/plain; charset=\"UTF-8\"\n\
\n\
\n\
** Address not found **\n\
\n\
Your message wasn't delivered to {failed} because the address couldn't be found, or is unable to receive mail.\n\
\n\
The response from the remote server was:\n\
550 5.1.1 The email account that you tried to reach does not exist.\n\
\n\
--000000000000d4c3b2a1f0e9\n\
Content-Type: message/delivery-status\n\
\n\
Reporting-MTA: dns; googlemail.com\n\
Arrival-Date: Tue, 02 Mar 2027 07:00:03 -0800 (PST)\n\
X-Original-Message-ID: {ours}\n\
\n\
Final-Recipient: rfc822; {failed}\n\
Action: failed\n\
Status: 5.1.1\n\
Remote-MTA: dns; mx.example.com. (203.0.113.25, the server for the domain example.com.)\n\
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.\n\
Last-Attempt-Date: Tue, 02 Mar 2027 07:00:05 -0800 (PST)\n\
\n\
--000000000000d4c3b2a1f0e9\n\
Content-Type: text/rfc822-headers\n\
\n\
From: Ana Ruiz <{ana}>\n\
To: {failed}\n\
Subject: Join us on the 20th, Sam\n\
Message-ID: {ours}\n\
Date: Tue, 02 Mar 2027 07:00:02 -0800\n\
\n\
--000000000000d4c3b2a1f0e9--\n"
    )
}

// --- connecting -----------------------------------------------------------------------------

#[sqlx::test]
async fn a_bdr_connects_google_with_pkce_and_a_state_that_works_once_for_them_only(pool: PgPool) {
    let w = world(pool).await;
    let (app, fake, ana) = (&w.app, &w.fake, &w.ana.owner);
    let ben = app.user("ben@turnout.test", turnout::domain::Role::Bdr).await;
    let before = account(app, ana).await;
    assert_eq!((before["configured"].as_bool(), before["email"].as_str(), before["state"].as_str()), (Some(true), None, None), "{before}");

    // The app asks Google for a code: offline access to send and read mail, with PKCE.
    let to_google = begin(app, ana).await;
    assert!(to_google.as_str().starts_with(&format!("{}/authorize?", fake.base_url)), "{to_google}");
    let q = |n: &str| query_of(&to_google, n);
    assert_eq!(q("response_type").as_deref(), Some("code"));
    assert_eq!(q("client_id").as_deref(), Some(fake.client_id.as_str()));
    assert_eq!(q("redirect_uri"), Some(app.url("/api/google/callback")));
    assert_eq!(q("scope").as_deref(), Some(SCOPES));
    assert_eq!(q("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!((q("access_type").as_deref(), q("prompt").as_deref()), (Some("offline"), Some("consent")));
    let state = q("state").expect("a state");
    assert!(state.len() >= 16, "an unguessable state: {state}");

    // Ben cannot finish Ana's authorization, nor can anyone with a made-up state.
    let callback = consent(&to_google).await;
    assert_eq!(query_of(&callback, "state").as_deref(), Some(state.as_str()));
    let back = finish(&ben, &callback).await;
    assert!(back.contains("/settings?google=error&reason="), "{back}");
    let mut forged = callback.clone();
    let code = query_of(&callback, "code").unwrap();
    forged.set_query(Some(&format!("state=not-{state}&code={code}")));
    assert!(finish(ana, &forged).await.contains("/settings?google=error&reason="));
    assert!(fake.token_requests().is_empty(), "no code is exchanged without the right state");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM google_accounts").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, 0);

    // Ana's own round trip connects her account.
    let callback = consent(&begin(app, ana).await).await;
    let back = finish(ana, &callback).await;
    assert!(back.ends_with("/settings?google=connected"), "{back}");
    let exchanges = fake.token_requests_of("authorization_code");
    assert_eq!(exchanges.len(), 1);
    let x = &exchanges[0];
    assert_eq!(x.status, 200, "the fake checked the client, the redirect URI and S256(code_verifier)");
    assert_eq!(x.param("redirect_uri"), Some(app.url("/api/google/callback").as_str()));
    assert!(x.param("code_verifier").is_some_and(|v| (43..=128).contains(&v.len())));
    assert!(x.basic.is_some() || x.param("client_secret").is_some());
    assert_eq!(fake.calls("profile"), 1, "the account's address comes from its profile");

    // The same callback again (a reload, or a replay) is refused before reaching Google.
    let again = finish(ana, &callback).await;
    assert!(again.contains("/settings?google=error"), "{again}");
    assert_eq!(fake.token_requests().len(), 1);

    // Stored sealed: neither token is in the database in the clear.
    let (access, refresh) = fake.issued_tokens();
    let row: (String, String, Vec<u8>, Option<Vec<u8>>, String, Option<String>) = sqlx::query_as(
        "SELECT email, state, access_token_enc, refresh_token_enc, scopes, history_id FROM google_accounts WHERE user_id = $1",
    )
    .bind(ana.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (email, account_state, access_enc, refresh_enc, scopes, history_id) = row;
    assert_eq!((email.as_str(), account_state.as_str()), (fake.email.as_str(), "connected"));
    assert!(scopes.contains("gmail.send") && scopes.contains("gmail.readonly"), "{scopes}");
    assert_eq!(history_id, Some(fake.history_id().to_string()), "syncing starts from the mailbox as it is when connected");
    let refresh_enc = refresh_enc.expect("offline access gives a refresh token");
    let contains = |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!contains(&access_enc, &access[0]), "the access token is stored in the clear");
    assert!(!contains(&refresh_enc, &refresh[0]), "the refresh token is stored in the clear");

    let view = account(app, ana).await;
    assert_eq!((view["email"].as_str(), view["state"].as_str()), (Some(fake.email.as_str()), Some("connected")), "{view}");
    let bens = account(app, &ben).await;
    assert!(bens["email"].is_null() && bens["state"].is_null(), "{bens}");
}

#[sqlx::test]
async fn without_a_google_client_nothing_can_be_connected(pool: PgPool) {
    let app = spawn_engine(pool, tuesday_in_window(), quick).await;
    let ana = app.user("ana@turnout.test", turnout::domain::Role::Bdr).await;
    let view = account(&app, &ana).await;
    assert_eq!(view["configured"], false, "{view}");
    let res = no_redirects().get(app.url("/api/google/connect")).bearer_auth(&ana.token).send().await.unwrap();
    assert_ne!(res.status().as_u16(), 303, "nowhere to send the browser: {}", location(&res));
    let res = no_redirects().get(app.url("/api/google/connect")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
}

// --- sending --------------------------------------------------------------------------------

#[sqlx::test]
async fn campaign_email_goes_through_gmail_with_its_headers_and_an_expired_token_is_refreshed_once(pool: PgPool) {
    let w = world(pool).await;
    let (app, fake, ana) = (&w.app, &w.fake, &w.ana.owner);
    connect(app, ana).await;
    let pat = contact(app, w.ana.id, "Pat Lee", "+12025550301", PAT, None).await;
    assert_eq!(app.run_engine().await, 1);

    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    let m = &sent[0];
    assert!(m.to.as_deref().unwrap_or_default().contains(PAT), "{:?}", m.to);
    assert!(m.from.as_deref().unwrap_or_default().contains(&fake.email), "From is the Gmail address Gmail sends as: {:?}", m.from);
    assert_eq!(m.subject.as_deref(), Some("Join us on the 20th, Pat"));
    assert!(m.text.contains("We'd love to see you at Hall A on the 20th."), "{}", m.text);
    assert!(m.text.contains("Acme Homes, 1 Main St, Springfield, IL 62701"), "the postal address: {}", m.text);
    let unsubscribe = m.list_unsubscribe.clone().unwrap_or_default();
    assert!(unsubscribe.starts_with(&format!("<{}/unsubscribe/", app.base)), "{unsubscribe}");
    assert_eq!(m.list_unsubscribe_post.as_deref(), Some("List-Unsubscribe=One-Click"));
    assert!(m.requested_thread_id.is_none() && m.in_reply_to.is_none(), "a first email starts its own thread");
    assert!(m.authorization.as_deref().unwrap_or_default().starts_with("Bearer ya29."));
    assert!(fake.token_requests_of("refresh_token").is_empty(), "a fresh token is not refreshed");

    // The row names Gmail's message and thread, and the Message-ID replies will quote.
    let rows = outbound(app, pat).await;
    assert_eq!(rows.len(), 1);
    let (provider, provider_id, thread, header, send_state, _) = rows[0].clone();
    assert_eq!(provider.as_deref(), Some("gmail"));
    assert_eq!(provider_id.as_deref(), Some(m.id.as_str()));
    assert_eq!(thread.as_deref(), Some(m.thread_id.as_str()));
    assert_eq!(header, m.message_id, "the Message-ID sent is the one kept");
    assert_eq!(send_state.as_deref(), Some("sent"));

    // An hour later Google refuses the access token: one refresh, one retry, one email.
    fake.expire_access_tokens();
    let sam = contact(app, w.ana.id, "Sam Poe", "+12025550302", SAM, None).await;
    assert_eq!(app.run_engine().await, 1);
    assert_eq!(fake.unauthorized(), 1);
    let refreshes = fake.token_requests_of("refresh_token");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].status, 200);
    assert_eq!(fake.sent().len(), 2);
    assert_eq!(sent_to(fake, SAM).subject.as_deref(), Some("Join us on the 20th, Sam"));
    assert_eq!(outbound(app, sam).await[0].4.as_deref(), Some("sent"));
    // The new token is kept: the next email needs no refresh.
    let lee = contact(app, w.ana.id, "Lee Ray", "+12025550303", LEE, None).await;
    app.run_engine().await;
    assert_eq!(outbound(app, lee).await[0].4.as_deref(), Some("sent"));
    assert_eq!(fake.token_requests_of("refresh_token").len(), 1);
    assert_eq!(fake.unauthorized(), 1);
}

#[sqlx::test]
async fn a_revoked_grant_asks_for_a_reconnect_and_disconnecting_revokes_and_falls_back(pool: PgPool) {
    let w = world(pool).await;
    let (app, fake, ana) = (&w.app, &w.fake, &w.ana.owner);
    connect(app, ana).await;
    contact(app, w.ana.id, "Pat Lee", "+12025550301", PAT, None).await;
    app.run_engine().await;
    assert_eq!(fake.sent().len(), 1);

    // Ana removed Turnout's access in her Google account.
    fake.revoke_refresh_tokens();
    let sam = contact(app, w.ana.id, "Sam Poe", "+12025550302", SAM, None).await;
    app.run_engine().await;
    assert_eq!(fake.sent().len(), 1, "nothing went out");
    let refused = fake.token_requests_of("refresh_token");
    assert_eq!(refused.len(), 1, "one refresh, refused: {refused:?}");
    assert_eq!(refused[0].status, 400);
    let rows = outbound(app, sam).await;
    assert_eq!(rows.len(), 1);
    let (_, _, _, _, send_state, error) = rows[0].clone();
    assert_eq!(send_state.as_deref(), Some("failed"));
    let error = error.unwrap_or_default().to_lowercase();
    assert!(error.contains("reconnect google"), "the step says what to do: {error}");
    let view = account(app, ana).await;
    assert_eq!((view["email"].as_str(), view["state"].as_str()), (Some(fake.email.as_str()), Some("reconnect")), "{view}");
    // Later steps fail the same way, on the contact's timeline, without asking Google again.
    let lee = contact(app, w.ana.id, "Lee Ray", "+12025550303", LEE, None).await;
    app.run_engine().await;
    let failed: Vec<String> = sqlx::query_scalar("SELECT detail FROM engine_events WHERE enrollment_id = $1 AND kind = 'failed'")
        .bind(lee)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(failed.iter().any(|d| d.to_lowercase().contains("reconnect google")), "{failed:?}");
    assert!(outbound(app, lee).await.iter().all(|r| r.4.as_deref() != Some("sent")));
    assert_eq!(fake.token_requests_of("refresh_token").len(), 1);
    assert_eq!(fake.sent().len(), 1);

    // Connecting again puts it right.
    connect(app, ana).await;
    let view = account(app, ana).await;
    assert_eq!(view["state"], "connected", "{view}");
    let kim = contact(app, w.ana.id, "Kim Ode", "+12025550304", KIM, None).await;
    app.run_engine().await;
    assert_eq!(outbound(app, kim).await[0].0.as_deref(), Some("gmail"));
    assert_eq!(fake.sent().len(), 2);

    // Disconnecting deletes the tokens and asks Google to revoke them.
    let (_, refresh_tokens) = fake.issued_tokens();
    let view = call_fn(app, ana, "disconnect_google").await;
    assert!(view["email"].is_null() && view["state"].is_null(), "{view}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM google_accounts").fetch_one(&app.pool).await.unwrap();
    assert_eq!(left, 0);
    let revoked = fake.revocations();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    let (access_tokens, _) = fake.issued_tokens();
    assert!(refresh_tokens.contains(&revoked[0]) || access_tokens.contains(&revoked[0]), "a token Google issued is revoked");
    assert!(account(app, ana).await["email"].is_null());

    // Email goes out as before Gmail: here, the sandbox.
    let ola = contact(app, w.ana.id, "Ola Nor", "+12025550305", "ola@example.com", None).await;
    app.run_engine().await;
    assert_eq!(fake.sent().len(), 2);
    let rows = outbound(app, ola).await;
    assert_eq!((rows[0].0.as_deref(), rows[0].4.as_deref()), (Some("sandbox"), Some("sent")), "{rows:?}");
}

// --- syncing --------------------------------------------------------------------------------

struct Synced {
    w: World,
    pat: Uuid,
    sam: Uuid,
    lee: Uuid,
    kim: Uuid,
}

/// Ana (connected) has emailed Pat, Sam and Lee through Gmail; Ben's campaign (no Google) has
/// emailed Kim.
async fn emailed(pool: PgPool) -> Synced {
    let w = world(pool).await;
    let app = &w.app;
    connect(app, &w.ana.owner).await;
    let pat = contact(app, w.ana.id, "Pat Lee", "+12025550301", PAT, None).await;
    let sam = contact(app, w.ana.id, "Sam Poe", "+12025550302", SAM, None).await;
    let lee = contact(app, w.ana.id, "Lee Ray", "+12025550303", LEE, None).await;
    let ben = running(app, "2027-03-20T23:00:00Z", two_emails()).await;
    let kim = contact(app, ben.id, "Kim Ode", "+12025550304", KIM, None).await;
    app.run_engine().await;
    assert_eq!(w.fake.sent().len(), 3, "Ana's three, through Gmail");
    Synced { w, pat, sam, lee, kim }
}

#[sqlx::test]
async fn replies_are_matched_by_thread_by_reference_and_by_sender_and_other_mail_is_ignored(pool: PgPool) {
    let Synced { w, pat, sam, lee, kim } = emailed(pool).await;
    let (app, fake, ana) = (&w.app, &w.fake, &w.ana.owner);
    let gmail = fake.email.clone();
    let to_pat = sent_to(fake, PAT);
    let to_sam = sent_to(fake, SAM);
    // Small pages: the sync must follow nextPageToken.
    fake.page_size(2);

    fake.deliver(&newsletter(&gmail), None);
    fake.deliver(&pat_replies_from_gmail(&gmail), Some(&to_pat.thread_id));
    fake.deliver(&sam_rsvps_by_reference(&gmail, to_sam.message_id.as_deref().unwrap()), Some("18f0a1b2c3d4e5f6"));
    fake.deliver(&lee_writes_anew(&gmail), None);
    fake.deliver(&stranger_contact(&gmail), None);
    let before = all_inbound(app).await;

    let r = sync(app, ana).await;
    assert_eq!(report(&r), (3, 0, 0), "{r}");
    assert!(r["fetched"].as_u64().unwrap() >= 5, "{r}");
    assert!(fake.calls("history") >= 2, "paged");
    assert_eq!(all_inbound(app).await - before, 3, "the newsletter and Ben's contact are not Turnout's");

    // Each reply is in its contact's email conversation, with its Gmail thread.
    let p = inbound(app, PAT).await;
    assert_eq!(p.len(), 1);
    assert!(p[0].0.contains("Is there parking near Hall A?"), "{p:?}");
    assert!(!p[0].0.contains("wrote:") && !p[0].0.contains("reply yes"), "the quoted invitation is not Pat's words: {p:?}");
    assert_eq!((p[0].1.as_deref(), p[0].2.as_deref(), p[0].3.as_deref()), (Some("gmail"), Some(to_pat.thread_id.as_str()), None));
    let s = inbound(app, SAM).await;
    assert_eq!(s.len(), 1);
    assert!(s[0].0.contains("Count me in!"));
    assert_eq!(s[0].2.as_deref(), Some("18f0a1b2c3d4e5f6"));
    let l = inbound(app, LEE).await;
    assert_eq!(l.len(), 1);
    assert!(l[0].0.contains("Can I bring a colleague along?"));
    assert!(inbound(app, KIM).await.is_empty());

    // They act as replies do: Pat and Lee need Ana (and wait for her), Sam said yes.
    assert_eq!(enrollment(app, pat).await, ("Needs BDR".to_string(), "paused".to_string()));
    assert_eq!(enrollment(app, sam).await.0, "Received RSVP");
    assert_eq!(enrollment(app, lee).await.0, "Needs BDR");
    assert_eq!(enrollment(app, kim).await.0, "No Activity");
    let conversation: Uuid = sqlx::query_scalar(
        "SELECT c.id FROM conversations c JOIN contacts ct ON ct.id = c.contact_id WHERE ct.email = $1 AND c.channel = 'email'",
    )
    .bind(PAT)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (_, list) = json(app.call("GET", "/api/conversations?view=needs_reply&channel=email", Some(&ana.token), None).await).await;
    let names: Vec<&str> = list.as_array().unwrap().iter().filter_map(|c| c["contact_name"].as_str()).collect();
    assert!(names.contains(&"Pat Lee") && names.contains(&"Lee Ray"), "{list}");

    // Synced again, nothing is stored twice.
    let again = sync(app, ana).await;
    assert_eq!(report(&again), (0, 0, 0), "{again}");
    assert_eq!(inbound(app, PAT).await.len(), 1);
    let view = account(app, ana).await;
    assert!(view["last_sync_at"].is_string() && view["last_error"].is_null(), "{view}");

    // Ana answers Pat from the inbox: through Gmail, in Pat's thread, answering Pat's message.
    let res = app
        .call("POST", &format!("/api/conversations/{conversation}/replies"), Some(&ana.token), Some(json!({ "key": Uuid::new_v4(), "body": "Yes, free parking in lot B, {{contact.first_name}}." })))
        .await;
    assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap());
    assert_eq!(settled(4, || async { fake.sent().len() }).await, 4);
    let answer = fake.sent().pop().unwrap();
    assert!(answer.text.contains("Yes, free parking in lot B, Pat."), "{}", answer.text);
    assert_eq!(answer.requested_thread_id.as_deref(), Some(to_pat.thread_id.as_str()), "in the thread of Pat's reply");
    let pats_id = "<CAJx8pT0ZqX1m7kP2c9FzWv4bN3sQ8rYh5LmT6@mail.gmail.com>";
    assert_eq!(answer.in_reply_to.as_deref(), Some(pats_id));
    assert!(answer.references.as_deref().unwrap_or_default().contains(pats_id), "{:?}", answer.references);
    assert!(answer.subject.as_deref().unwrap_or_default().contains("Join us on the 20th"), "Gmail threads only when the subject matches: {:?}", answer.subject);
    let row: (Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        // The manual clock stands still: the id (UUIDv7) orders rows written at the same time.
        "SELECT provider, provider_message_id, provider_thread_id FROM messages WHERE conversation_id = $1 AND direction = 'out' ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(conversation)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row, (Some("gmail".into()), Some(answer.id.clone()), Some(to_pat.thread_id.clone())));
    // Our own sent mail comes back through the sync and is not taken for a reply.
    assert_eq!(fake.mailbox().iter().find(|m| m.id == answer.id).map(|m| m.label_ids.clone()), Some(vec!["SENT".to_string()]));
    let after = sync(app, ana).await;
    assert_eq!(report(&after), (0, 0, 0), "{after}");
    assert_eq!(inbound(app, PAT).await.len(), 1);
}

#[sqlx::test]
async fn an_out_of_office_is_marked_and_a_bounce_suppresses_the_address(pool: PgPool) {
    let Synced { w, pat, sam, .. } = emailed(pool).await;
    let (app, fake, ana) = (&w.app, &w.fake, &w.ana.owner);
    let gmail = fake.email.clone();
    let to_pat = sent_to(fake, PAT);
    let to_sam = sent_to(fake, SAM);
    fake.deliver(&outlook_out_of_office(&gmail, to_pat.message_id.as_deref().unwrap()), None);
    fake.deliver(&gmail_bounce(&gmail, to_sam.message_id.as_deref().unwrap(), SAM), Some(&to_sam.thread_id));

    let r = sync(app, ana).await;
    assert_eq!(report(&r), (0, 1, 1), "{r}");

    // The out-of-office is in Pat's conversation, marked, and Pat's funnel goes on.
    let p = inbound(app, PAT).await;
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].3.as_deref(), Some("auto_reply"));
    assert_eq!(enrollment(app, pat).await, ("No Activity".to_string(), "active".to_string()));

    // The bounce is in Sam's, marked; Sam's address is suppressed and the contact Bounced.
    let s = inbound(app, SAM).await;
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].3.as_deref(), Some("bounce"));
    assert_eq!(enrollment(app, sam).await.0, "Bounced");
    let hash = turnout::server::engine::compliance::hash(Channel::Email, SAM);
    let suppressed: i64 = sqlx::query_scalar("SELECT count(*) FROM suppressions WHERE kind = 'email' AND value_hash = $1")
        .bind(hash)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(suppressed, 1);

    // Three days on, Pat gets the last call; Sam does not.
    w.clock.advance(Duration::days(3) + Duration::minutes(1));
    app.run_engine().await;
    assert_eq!(sent_to(fake, PAT).subject.as_deref(), Some("Last call"));
    assert_eq!(fake.sent().iter().filter(|m| m.to.as_deref().unwrap_or_default().contains(SAM)).count(), 1);
}

#[sqlx::test]
async fn a_history_id_google_forgot_is_recovered_by_a_full_sync_without_duplicates(pool: PgPool) {
    let Synced { w, pat, lee, sam, .. } = emailed(pool).await;
    let (app, fake, ana) = (&w.app, &w.fake, &w.ana.owner);
    let gmail = fake.email.clone();
    let to_pat = sent_to(fake, PAT);
    fake.deliver(&pat_replies_from_gmail(&gmail), Some(&to_pat.thread_id));
    assert_eq!(report(&sync(app, ana).await), (1, 0, 0));

    // A week without syncing: Google no longer has the history from Ana's last sync.
    fake.deliver(&lee_writes_anew(&gmail), None);
    fake.forget_history();
    fake.page_size(2);
    let lists = fake.calls("list");
    let r = sync(app, ana).await;
    assert_eq!(report(&r), (1, 0, 0), "Lee's, and not Pat's again: {r}");
    assert!(fake.calls("list") >= lists + 2, "a full sync, every page of it");
    assert_eq!(inbound(app, PAT).await.len(), 1);
    assert_eq!(inbound(app, LEE).await.len(), 1);
    assert_eq!(enrollment(app, lee).await.0, "Needs BDR");
    assert_eq!(enrollment(app, pat).await.0, "Needs BDR");

    // The history id is good again: the next sync is incremental.
    let to_sam = sent_to(fake, SAM);
    fake.deliver(&sam_rsvps_by_reference(&gmail, to_sam.message_id.as_deref().unwrap()), None);
    let lists = fake.calls("list");
    let r = sync(app, ana).await;
    assert_eq!(report(&r), (1, 0, 0), "{r}");
    assert_eq!(fake.calls("list"), lists);
    assert_eq!(enrollment(app, sam).await.0, "Received RSVP");
    let view = account(app, ana).await;
    assert!(view["last_error"].is_null(), "{view}");
}
