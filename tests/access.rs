//! The access table, walked: every REST route and every server function, as anonymous, as the
//! BDR who owns the records, as another BDR, and as an admin.
mod common;

use chrono::Utc;
use common::{Actor, TestApp, spawn_app};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::BTreeSet;
use turnout::domain::campaign::{Channel, Direction, EnrollmentStatus};
use turnout::domain::template::TemplateStatus;
use turnout::domain::{E164Phone, EmailAddress, Role};
use turnout::server::campaigns;
use turnout::server::contacts::{self, NewContact};
use turnout::server::conversations::{self, LoggedMessage};
use turnout::server::templates;
use uuid::Uuid;

struct World {
    campaign: Uuid,
    template: Uuid,
    version: Uuid,
    content: Uuid,
    campaign_conversation: Uuid,
    assigned_conversation: Uuid,
    /// The user that admin-only writes act on, so the actors' own tokens stay valid.
    target: Uuid,
    contact: Uuid,
    enrollment: Uuid,
    /// A CSV upload into the owner's campaign, not yet started.
    import: Uuid,
    /// The owner's saved snippet.
    snippet: Uuid,
}

async fn world(app: &TestApp, owner: &Actor) -> World {
    let pool = &app.pool;
    let campaign = app.campaign(owner).await;
    let phone = E164Phone::parse("+12025550100", "US").unwrap();
    let email = EmailAddress::parse("pat@example.com").unwrap();
    let contact = contacts::insert(pool, &NewContact {
        name: "Pat Doe",
        phone: Some(&phone),
        email: Some(&email),
        company: None,
        time_zone: None,
        consent_source: "test",
    })
    .await
    .unwrap();
    let enrollment = campaigns::enroll(pool, campaign, contact, EnrollmentStatus::NeedsBdr, None).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let campaign_conversation = conversations::insert(&mut *conn, Some(contact), Channel::Sms, phone.as_str()).await.unwrap();
    conversations::log_message(&mut conn, &LoggedMessage {
        conversation_id: campaign_conversation,
        direction: Direction::In,
        body: "Yes please",
        subject: None,
        provider: "sandbox",
        campaign_id: Some(campaign),
        at: Utc::now(),
    })
    .await
    .unwrap();
    // A stranger's email, assigned to the owner by hand: no campaign ties it to them.
    let assigned_conversation = conversations::insert(&mut *conn, None, Channel::Email, "stranger@example.com").await.unwrap();
    conversations::log_message(&mut conn, &LoggedMessage {
        conversation_id: assigned_conversation,
        direction: Direction::In,
        body: "Who is this?",
        subject: Some("Hello"),
        provider: "sandbox",
        campaign_id: None,
        at: Utc::now(),
    })
    .await
    .unwrap();
    sqlx::query("UPDATE conversations SET assigned_to = $1 WHERE id = $2")
        .bind(owner.id)
        .bind(assigned_conversation)
        .execute(pool)
        .await
        .unwrap();
    let target = app.user("target@turnout.test", Role::Bdr).await.id;
    let form = reqwest::multipart::Form::new()
        .text("campaign_id", campaign.to_string())
        .part("file", reqwest::multipart::Part::text("phone,name\n(202) 555-0177,Sam\n").file_name("a.csv"));
    let res = reqwest::Client::new().post(app.url("/api/imports")).bearer_auth(&owner.token).multipart(form).send().await.unwrap();
    let (_, view) = common::json(res).await;
    let import = Uuid::parse_str(view["id"].as_str().unwrap()).unwrap();
    let template = templates::insert_template(pool, "Invitation", TemplateStatus::Draft, owner.id).await.unwrap();
    let version = templates::insert_version(pool, template, 1, owner.id).await.unwrap();
    let content: Uuid = sqlx::query_scalar("INSERT INTO content_templates (id, name, channel, body) VALUES (gen_random_uuid(), 'Hi', 'sms', 'Hi') RETURNING id")
        .fetch_one(pool)
        .await
        .unwrap();
    let snippet: Uuid = sqlx::query_scalar("INSERT INTO snippets (id, user_id, name, body) VALUES (gen_random_uuid(), $1, 'Hi', 'Hi') RETURNING id")
        .bind(owner.id)
        .fetch_one(pool)
        .await
        .unwrap();
    World { campaign, template, version, content, campaign_conversation, assigned_conversation, target, contact, enrollment, import, snippet }
}

/// The app, the owner BDR, another BDR, the admin, and the owner's records.
async fn setup(pool: PgPool) -> (TestApp, Actor, Actor, Actor, World) {
    let app = spawn_app(pool).await;
    let owner = app.user("owner@turnout.test", Role::Bdr).await;
    let other = app.user("other@turnout.test", Role::Bdr).await;
    let admin = app.admin().await;
    let w = world(&app, &owner).await;
    (app, owner, other, admin, w)
}

/// Expected statuses as [anonymous, owner BDR, other BDR, admin].
type Expect = [u16; 4];

const SIGNED_IN: Expect = [401, 200, 200, 200];
const ADMIN_ONLY: Expect = [401, 403, 403, 200];
const OWNER: Expect = [401, 200, 404, 200];

fn new_campaign(version: Uuid) -> Value {
    json!({"name": "Another", "template_version_id": version, "event_type": "In-Person",
           "event_start": "2027-01-14T18:00", "event_time_zone": "America/Chicago", "venue": "Hall C"})
}

fn profile_update() -> Value {
    json!({
        "name": "Renamed", "sms_from_number": "(202) 555-0111", "vm_caller_id": "", "smtp_host": "smtp.example.com",
        "smtp_port": "587", "smtp_username": "me", "smtp_tls": "starttls", "smtp_from_email": "me@example.com",
        "smtp_password": "smtp-secret"
    })
}

#[sqlx::test]
async fn every_rest_route_enforces_the_access_table(pool: PgPool) {
    let (app, owner, other, admin, w) = setup(pool).await;
    let actors = [None, Some(&owner), Some(&other), Some(&admin)];

    let mut n = 0;
    let rows: Vec<(&str, String, Option<Value>, Expect)> = vec![
        ("GET", "/api/me".into(), None, SIGNED_IN),
        // The API's own description is public.
        ("GET", "/api/openapi.json".into(), None, [200, 200, 200, 200]),
        ("GET", "/api/docs".into(), None, [200, 200, 200, 200]),
        ("GET", "/api/me/profile".into(), None, SIGNED_IN),
        ("PUT", "/api/me/profile".into(), Some(profile_update()), SIGNED_IN),
        ("POST", "/api/me/password".into(), Some(json!({"current": "wrong-password", "new": "whatever-123"})), [401, 422, 422, 422]),
        ("GET", "/api/users".into(), None, ADMIN_ONLY),
        ("POST", "/api/users".into(), Some(json!({"email": "made@turnout.test", "name": "Made", "role": "bdr", "password": "made-password-1"})), [401, 403, 403, 201]),
        ("PATCH", format!("/api/users/{}", w.target), Some(json!({"name": "Tess"})), ADMIN_ONLY),
        ("POST", format!("/api/users/{}/reset-password", w.target), Some(json!({"password": "reset-password-1"})), ADMIN_ONLY),
        ("GET", "/api/org".into(), None, ADMIN_ONLY),
        ("PUT", "/api/org".into(), Some(json!({"name": "Acme Events", "time_zone": "America/Chicago", "postal_address": "1 Main St"})), ADMIN_ONLY),
        ("GET", "/api/audit".into(), None, ADMIN_ONLY),
        ("GET", "/api/dashboard".into(), None, SIGNED_IN),
        ("GET", "/api/stats".into(), None, SIGNED_IN),
        ("GET", "/api/stats?from=2026-03-02&to=2026-03-01".into(), None, [401, 422, 422, 422]),
        ("GET", "/api/analytics".into(), None, SIGNED_IN),
        ("GET", "/api/analytics/export.csv?table=campaigns".into(), None, SIGNED_IN),
        ("GET", "/api/analytics/export.csv?table=nodes".into(), None, [401, 422, 422, 422]),
        ("GET", format!("/api/analytics/export.csv?table=nodes&campaign_id={}", w.campaign), None, OWNER),
        ("GET", "/api/templates".into(), None, SIGNED_IN),
        ("POST", "/api/templates".into(), Some(json!({"name": "New funnel"})), [401, 403, 403, 201]),
        ("GET", format!("/api/templates/{}", w.template), None, SIGNED_IN),
        ("PUT", format!("/api/templates/{}", w.template), Some(json!({"name": "Renamed", "draft": {"nodes": [], "edges": []}})), ADMIN_ONLY),
        // An empty funnel cannot be published: the admin gets past the role check to a 422.
        ("POST", format!("/api/templates/{}/publish", w.template), None, [401, 403, 403, 422]),
        ("GET", format!("/api/templates/{}/export?format=json", w.template), None, SIGNED_IN),
        ("POST", "/api/templates/import?format=json&name=Imported".into(), Some(json!({"nodes": [], "edges": []})), [401, 403, 403, 201]),
        ("GET", "/api/campaigns".into(), None, SIGNED_IN),
        ("GET", format!("/api/campaigns/{}", w.campaign), None, OWNER),
        ("GET", format!("/api/campaigns/{}/stats", w.campaign), None, OWNER),
        ("GET", format!("/api/campaigns/{}", Uuid::now_v7()), None, [401, 404, 404, 404]),
        ("POST", "/api/campaigns".into(), Some(new_campaign(w.version)), [401, 201, 201, 201]),
        // The campaign is active: the owner and the admin get past access to the state check.
        ("POST", format!("/api/campaigns/{}/actions", w.campaign), Some(json!({"action": "activate"})), [401, 409, 404, 409]),
        ("PUT", format!("/api/campaigns/{}/graph", w.campaign), Some(json!({"nodes": [], "edges": []})), [401, 422, 404, 422]),
        ("POST", format!("/api/campaigns/{}/enrollments/move", w.campaign), Some(json!({"enrollments": [], "to_node": "N9"})), [401, 422, 404, 422]),
        // The owner pauses the contact; for the admin it is already paused.
        ("POST", format!("/api/campaigns/{}/enrollments/{}/actions", w.campaign, w.enrollment), Some(json!({"action": "pause"})), [401, 200, 404, 409]),
        // The campaign has no funnel yet: past access, the dry run and test send say so.
        ("GET", format!("/api/campaigns/{}/dry-run", w.campaign), None, [401, 422, 404, 422]),
        ("POST", format!("/api/campaigns/{}/test-send", w.campaign), Some(json!({"node": "N1"})), [401, 422, 404, 422]),
        ("PUT", format!("/api/campaigns/{}/window", w.campaign), Some(json!({"start": "09:00", "end": "20:00", "days": [1, 2, 3, 4, 5], "opt_out_line": "Reply STOP to opt out"})), OWNER),
        ("POST", format!("/api/campaigns/{}/execute-sms", w.campaign), Some(json!({"body": "Hi {{contact.first_name}}"})), [401, 202, 404, 202]),
        ("GET", "/api/me/twilio".into(), None, SIGNED_IN),
        ("PUT", "/api/me/twilio".into(), Some(json!({"account_sid": ""})), SIGNED_IN),
        ("PUT", "/api/org/twilio".into(), Some(json!({"account_sid": ""})), ADMIN_ONLY),
        // Webhooks answer to a Twilio signature, not to a session.
        ("POST", "/api/twilio/status".into(), Some(json!({})), [403, 403, 403, 403]),
        ("POST", "/api/twilio/inbound-sms".into(), Some(json!({})), [403, 403, 403, 403]),
        ("POST", "/api/bonzo/webhook/not-the-secret".into(), Some(json!({})), [404, 404, 404, 404]),
        // Prometheus' scrape answers to its own token, not to a session; none is set here.
        ("GET", "/metrics".into(), None, [404, 404, 404, 404]),
        // Google is not set up in this app: signed in, Connect says so; the callback ends on
        // Settings saying what went wrong (the redirect is followed to the page).
        ("GET", "/api/google/connect".into(), None, [401, 422, 422, 422]),
        ("GET", "/api/google/callback".into(), None, [401, 200, 200, 200]),
        // Media are "not found" to anyone who may not see their conversation (tests/media.rs).
        ("GET", format!("/api/media/{}", Uuid::now_v7()), None, [401, 404, 404, 404]),
        ("GET", "/api/suppressions/export.csv".into(), None, ADMIN_ONLY),
        ("GET", "/api/content".into(), None, SIGNED_IN),
        ("POST", "/api/content".into(), Some(json!({"name": "New", "channel": "sms", "body": "Hello"})), [401, 403, 403, 201]),
        ("PUT", format!("/api/content/{}", w.content), Some(json!({"name": "Edited", "channel": "sms", "body": "Hello"})), ADMIN_ONLY),
        ("POST", "/api/content/preview".into(), Some(json!({"name": "P", "channel": "sms", "body": "Hi {{contact.first_name}}", "campaign_id": w.campaign})), OWNER),
        ("GET", "/api/conversations".into(), None, SIGNED_IN),
        ("GET", format!("/api/conversations/{}", w.campaign_conversation), None, OWNER),
        ("GET", format!("/api/conversations/{}", w.assigned_conversation), None, OWNER),
        ("POST", "/api/conversations/done".into(), Some(json!({"ids": [w.campaign_conversation]})), SIGNED_IN),
        // The same key each time: the admin's request finds the owner's reply, sent once.
        ("POST", format!("/api/conversations/{}/replies", w.campaign_conversation), Some(json!({"key": Uuid::nil(), "body": "Thanks!"})), [401, 201, 404, 201]),
        ("PUT", format!("/api/conversations/{}/assignee", w.assigned_conversation), Some(json!({"user_id": owner.id})), [401, 204, 404, 204]),
        ("GET", "/api/inbox/counts".into(), None, SIGNED_IN),
        ("GET", "/api/events".into(), None, SIGNED_IN),
        ("GET", "/api/snippets".into(), None, SIGNED_IN),
        ("POST", "/api/snippets".into(), Some(json!({"name": "Parking", "body": "Lot B"})), [401, 201, 201, 201]),
        // Snippets are each user's own, admins' too.
        ("PUT", format!("/api/snippets/{}", w.snippet), Some(json!({"name": "Hello", "body": "Hello"})), [401, 200, 404, 404]),
        ("DELETE", format!("/api/snippets/{}", w.snippet), None, [401, 204, 404, 404]),
        ("GET", "/api/contacts".into(), None, SIGNED_IN),
        ("GET", "/api/contacts/export.csv".into(), None, SIGNED_IN),
        ("GET", format!("/api/contacts/{}", w.contact), None, OWNER),
        // Everything matching: the other BDR has no leads to change.
        ("POST", "/api/contacts/bulk-status".into(), Some(json!({"all_matching": true, "status": "Needs BDR"})), [401, 200, 422, 200]),
        // Not multipart (uploads into another BDR's campaign are 404: tests/leads.rs).
        ("POST", "/api/imports".into(), Some(json!({})), [401, 400, 400, 400]),
        ("GET", format!("/api/imports/{}", w.import), None, OWNER),
        ("GET", format!("/api/imports/{}/issues.csv", w.import), None, OWNER),
        // Once the owner started it, it cannot be started again.
        ("POST", format!("/api/imports/{}/start", w.import), Some(json!({"mapping": ["phone", "name"]})), [401, 202, 404, 409]),
        ("GET", "/api/campaigns/not-a-uuid".into(), None, [401, 400, 400, 400]),
        ("GET", "/api/no-such-route".into(), None, [404, 404, 404, 404]),
        // Last: signing out revokes each actor's token.
        ("POST", "/api/auth/logout".into(), None, [401, 204, 204, 204]),
    ];
    for (method, path, body, expect) in rows {
        for (actor, want) in actors.iter().zip(expect) {
            let res = app.call(method, &path, actor.map(|a| a.token.as_str()), body.clone()).await;
            let status = res.status();
            let who = actor.map(|a| a.email.as_str()).unwrap_or("anonymous");
            assert_eq!(status.as_u16(), want, "{method} {path} as {who}");
            if !status.is_success() {
                let (_, err) = common::json(res).await;
                assert!(err["error"].is_string(), "{method} {path} as {who}: {err}");
            }
            n += 1;
        }
    }
    assert!(n >= 80);
}

#[sqlx::test]
async fn lists_show_each_bdr_only_their_own_records(pool: PgPool) {
    let (app, owner, other, admin, w) = setup(pool).await;
    let ids = |v: Value| v.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    for (who, campaigns, conversations) in [(&owner, 1, 2), (&other, 0, 0), (&admin, 1, 2)] {
        let (_, list) = common::json(app.call("GET", "/api/campaigns", Some(&who.token), None).await).await;
        assert_eq!(ids(list).len(), campaigns, "{}", who.email);
        let (_, list) = common::json(app.call("GET", "/api/conversations", Some(&who.token), None).await).await;
        assert_eq!(ids(list).len(), conversations, "{}", who.email);
        let (_, dash) = common::json(app.call("GET", "/api/dashboard", Some(&who.token), None).await).await;
        assert_eq!(dash["stats"]["enrolled"], campaigns as i64, "{}", who.email);
        let (_, stats) = common::json(app.call("GET", "/api/stats", Some(&who.token), None).await).await;
        let needs_bdr = stats["byStatus"].as_array().unwrap().iter().find(|s| s["status"] == "Needs BDR").unwrap()["count"].clone();
        assert_eq!(needs_bdr, campaigns as i64, "{}", who.email);
        let (_, a) = common::json(app.call("GET", "/api/analytics", Some(&who.token), None).await).await;
        assert_eq!(a["campaigns"].as_array().unwrap().len(), campaigns, "{}", who.email);
    }
    let (_, c) = common::json(app.call("GET", &format!("/api/campaigns/{}", w.campaign), Some(&owner.token), None).await).await;
    assert_eq!((c["summary"]["enrolled"].as_i64(), c["summary"]["needs_bdr"].as_i64()), (Some(1), Some(1)));
}

#[sqlx::test]
async fn every_server_function_enforces_the_access_table(pool: PgPool) {
    let (app, owner, other, admin, w) = setup(pool).await;
    let actors = [None, Some(&owner), Some(&other), Some(&admin)];
    let profile = "update[name]=Renamed&update[sms_from_number]=&update[vm_caller_id]=&update[smtp_host]=&update[smtp_port]=\
                   &update[smtp_username]=&update[smtp_tls]=starttls&update[smtp_from_email]=";

    let rows: Vec<(&str, String, Expect)> = vec![
        ("current_user", String::new(), [200, 200, 200, 200]),
        ("get_profile", String::new(), SIGNED_IN),
        ("update_profile", profile.into(), SIGNED_IN),
        ("change_password", "current=wrong-password&new=whatever-1234".into(), [401, 422, 422, 422]),
        ("list_users", String::new(), ADMIN_ONLY),
        ("create_user", "new[email]=fn%40turnout.test&new[name]=Fn&new[role]=bdr&new[password]=fn-password-1".into(), ADMIN_ONLY),
        ("update_user", format!("id={}&change[name]=Tess", w.target), ADMIN_ONLY),
        ("reset_user_password", format!("id={}&password=reset-password-2", w.target), ADMIN_ONLY),
        ("get_org", String::new(), ADMIN_ONLY),
        ("update_org", r#"{"settings": {"name": "Acme", "time_zone": "America/Chicago", "postal_address": "1 Main St"}}"#.into(), ADMIN_ONLY),
        ("list_audit", String::new(), ADMIN_ONLY),
        ("dashboard", String::new(), SIGNED_IN),
        ("stats", String::new(), SIGNED_IN),
        ("analytics", "query[channel]=sms".into(), SIGNED_IN),
        ("campaign_stats", format!("campaign_id={}", w.campaign), OWNER),
        ("list_templates", String::new(), SIGNED_IN),
        ("get_template", format!("id={}", w.template), SIGNED_IN),
        ("create_template", "name=From+a+function".into(), ADMIN_ONLY),
        ("save_template", json!({"id": w.template, "name": "Saved", "draft": {"nodes": [], "edges": []}}).to_string(), ADMIN_ONLY),
        ("publish_template", format!("id={}", w.template), [401, 403, 403, 422]),
        ("export_template", format!("id={}&format=csv", w.template), SIGNED_IN),
        ("import_template", json!({"name": "Imported", "format": "json", "text": "{\"nodes\": [], \"edges\": []}"}).to_string(), ADMIN_ONLY),
        ("list_campaigns", String::new(), SIGNED_IN),
        ("get_campaign", format!("id={}", w.campaign), OWNER),
        ("published_templates", String::new(), SIGNED_IN),
        ("create_campaign", json!({"input": new_campaign(w.version)}).to_string(), SIGNED_IN),
        ("change_campaign_status", format!("id={}&action=activate", w.campaign), [401, 409, 404, 409]),
        ("save_campaign_graph", json!({"id": w.campaign, "graph": {"nodes": [], "edges": []}}).to_string(), [401, 422, 404, 422]),
        ("move_enrollments", json!({"id": w.campaign, "enrollments": [], "to_node": "N9"}).to_string(), [401, 422, 404, 422]),
        ("act_on_enrollment", format!("id={}&enrollment={}&action=pause", w.campaign, w.enrollment), [401, 200, 404, 409]),
        ("campaign_dry_run", format!("id={}", w.campaign), [401, 422, 404, 422]),
        ("test_send", format!("id={}&node=N1", w.campaign), [401, 422, 404, 422]),
        ("save_send_window", json!({"id": w.campaign, "window": {"start": "08:00", "end": "24:00", "days": [1, 2, 3, 4, 5, 6, 7], "opt_out_line": "Text STOP to quit"}}).to_string(), OWNER),
        ("get_twilio_account", String::new(), SIGNED_IN),
        ("set_twilio_account", "input[account_sid]=&input[auth_token]=&org=false".into(), SIGNED_IN),
        ("get_bonzo", String::new(), SIGNED_IN),
        ("set_bonzo_account", json!({"input": {"label": "", "api_token": ""}, "org": false}).to_string(), SIGNED_IN),
        ("set_sms_provider", json!({"choice": "", "org": false}).to_string(), SIGNED_IN),
        // The organisation's default is the admins'; Bonzo without a token is refused.
        ("set_sms_provider", json!({"choice": "twilio", "org": true}).to_string(), ADMIN_ONLY),
        // Nobody here has a Google account: nothing to sync, nothing to disconnect.
        ("get_google_account", String::new(), SIGNED_IN),
        ("sync_google_now", String::new(), [401, 404, 404, 404]),
        ("disconnect_google", String::new(), SIGNED_IN),
        // Voicemail: without keys the local voice speaks, so these make no outside call.
        ("list_voices", String::new(), SIGNED_IN),
        ("preview_voicemail", json!({"input": {"script": "Hi {{contact.first_name}}", "campaign_id": w.campaign}}).to_string(), OWNER),
        ("get_voicemail_accounts", String::new(), SIGNED_IN),
        ("set_slybroadcast_account", json!({"input": {"uid": "", "password": ""}, "org": false}).to_string(), SIGNED_IN),
        ("set_elevenlabs_key", json!({"api_key": ""}).to_string(), ADMIN_ONLY),
        ("list_content", String::new(), SIGNED_IN),
        ("save_content", json!({"id": null, "input": {"name": "Fn", "channel": "sms", "body": "Hello"}}).to_string(), ADMIN_ONLY),
        ("preview_content", json!({"input": {"name": "P", "channel": "sms", "body": "Hi"}, "campaign_id": w.campaign, "contact_id": null}).to_string(), OWNER),
        ("list_conversations", json!({"filter": {"view": "needs_reply"}}).to_string(), SIGNED_IN),
        ("get_conversation", format!("id={}", w.campaign_conversation), OWNER),
        ("unread_counts", String::new(), SIGNED_IN),
        ("reply_to_conversation", json!({"input": {"conversation_id": w.campaign_conversation, "key": Uuid::nil(), "body": "Thanks!"}}).to_string(), [401, 200, 404, 200]),
        ("assign_conversation", json!({"id": w.assigned_conversation, "user_id": owner.id}).to_string(), [401, 200, 404, 200]),
        ("mark_conversations_done", json!({"ids": [w.campaign_conversation]}).to_string(), SIGNED_IN),
        ("list_snippets", String::new(), SIGNED_IN),
        ("save_snippet", json!({"id": null, "input": {"name": "Fn", "body": "Hi"}}).to_string(), SIGNED_IN),
        ("delete_snippet", format!("id={}", w.snippet), [401, 200, 404, 404]),
        ("list_leads", "filter[q]=".into(), SIGNED_IN),
        ("bulk_set_status", "change[all_matching]=true&change[status]=Needs+BDR".into(), [401, 200, 422, 200]),
        ("get_contact", format!("id={}", w.contact), OWNER),
        ("get_import", format!("id={}", w.import), OWNER),
        ("start_import", format!("id={}&mapping[0]=phone&mapping[1]=name&consent_source=", w.import), [401, 200, 404, 409]),
        ("import_attendees", format!("id={}&text=phone%0A%2B12025550100", w.campaign), OWNER),
        ("list_suppressions", "q=".into(), ADMIN_ONLY),
        ("add_suppression", "address=%2B12025550999&reason=Asked".into(), ADMIN_ONLY),
        ("remove_suppression", format!("id={}&reason=Mistake", Uuid::now_v7()), [401, 403, 403, 404]),
        ("import_suppressions", "text=address%0A%2B12025550998".into(), ADMIN_ONLY),
        // Last of the records' functions: it erases the contact's personal data.
        ("erase_contact", format!("id={}&reason=Asked", w.contact), ADMIN_ONLY),
        // Public: answers do not depend on who asks.
        ("login", "email=nobody%40turnout.test&password=wrong-password".into(), [401, 401, 401, 401]),
        ("forgot_password", "email=nobody%40turnout.test".into(), [422, 422, 422, 422]),
        ("reset_password", "token=not-a-token&password=long-enough-password".into(), [422, 422, 422, 422]),
        ("logout", String::new(), SIGNED_IN),
    ];

    // The table must name every server function the app registers.
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.trim_start_matches("/api/fn/").to_string())
        .collect();
    let walked: BTreeSet<String> = rows.iter().map(|r| r.0.to_string()).collect();
    assert_eq!(registered, walked, "server functions missing from the access table");

    for (name, form, expect) in rows {
        for (actor, want) in actors.iter().zip(expect) {
            let res = app.server_fn(name, actor.map(|a| a.token.as_str()), &form).await;
            let status = res.status();
            let text = res.text().await.unwrap();
            let who = actor.map(|a| a.email.as_str()).unwrap_or("anonymous");
            assert_eq!(status.as_u16(), want, "{name} as {who}: {text}");
        }
    }
}
