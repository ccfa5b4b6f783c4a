//! Statistics: kept incrementally, equal to a full recount after any sequence of changes,
//! in the organisation's days across DST, limited to what each user may see.
mod common;

use chrono::{DateTime, Duration, Utc};
use common::{Actor, TestApp, json, spawn_app};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use sqlx::PgPool;
use turnout::domain::Role;
use turnout::server::stats;
use uuid::Uuid;

/// A campaign of `owner`'s with a text, an email and a voicemail step.
async fn campaign_with_steps(app: &TestApp, owner: &Actor, name: &str) -> Uuid {
    let id = app.campaign(owner).await;
    sqlx::query("UPDATE campaigns SET name = $2 WHERE id = $1").bind(id).bind(name).execute(&app.pool).await.unwrap();
    for (i, (key, kind)) in [("N1", "sms_send"), ("N2", "email_send"), ("N3", "voicemail_drop")].into_iter().enumerate() {
        sqlx::query("INSERT INTO nodes (id, campaign_id, key, type, name, pos_y) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(Uuid::now_v7())
            .bind(id)
            .bind(key)
            .bind(kind)
            .bind(format!("Step {key}"))
            .bind(i as f64 * 100.0)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    id
}

/// `n` new contacts enrolled in one statement, as an import does, `hours_ago`.
async fn import(pool: &PgPool, campaign: Uuid, n: i64, hours_ago: i64) -> Vec<Uuid> {
    sqlx::query_scalar(
        "WITH c AS (INSERT INTO contacts (id, name) SELECT gen_random_uuid(), 'Guest ' || g FROM generate_series(1, $2) g RETURNING id)
         INSERT INTO enrollments (id, campaign_id, contact_id, created_at)
         SELECT gen_random_uuid(), $1, c.id, now() - make_interval(hours => $3::int) FROM c RETURNING contact_id",
    )
    .bind(campaign)
    .bind(n)
    .bind(hours_ago as i32)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn conversation(pool: &PgPool, contact: Uuid, channel: &str) -> Uuid {
    sqlx::query(
        "INSERT INTO conversations (id, contact_id, channel, address) VALUES ($1, $2, $3, $1::text)
         ON CONFLICT (contact_id, channel) WHERE contact_id IS NOT NULL DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(contact)
    .bind(channel)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query_scalar("SELECT id FROM conversations WHERE contact_id = $1 AND channel = $2")
        .bind(contact)
        .bind(channel)
        .fetch_one(pool)
        .await
        .unwrap()
}

struct Out<'a> {
    campaign: Uuid,
    contact: Uuid,
    node: &'a str,
    channel: &'a str,
    state: &'a str,
    delivery: Option<&'a str>,
    at: DateTime<Utc>,
    by: Uuid,
}

async fn send(pool: &PgPool, m: Out<'_>) -> Uuid {
    let conv = conversation(pool, m.contact, m.channel).await;
    sqlx::query_scalar(
        "INSERT INTO messages (id, conversation_id, direction, body, send_state, delivery_status, campaign_id, node_key, sent_by, created_at, sent_at)
         VALUES ($1, $2, 'out', 'See you there?', $3, $4, $5, $6, $7, $8, CASE WHEN $3 = 'sent' THEN $8 END) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(conv)
    .bind(m.state)
    .bind(m.delivery)
    .bind(m.campaign)
    .bind(m.node)
    .bind(m.by)
    .bind(m.at)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn reply(pool: &PgPool, campaign: Option<Uuid>, contact: Uuid, channel: &str, auto: Option<&str>, at: DateTime<Utc>) {
    let conv = conversation(pool, contact, channel).await;
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, direction, body, campaign_id, auto_kind, created_at)
         VALUES ($1, $2, 'in', 'Count me in', $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(conv)
    .bind(campaign)
    .bind(auto)
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
}

async fn set_status(pool: &PgPool, campaign: Uuid, contact: Uuid, status: &str) {
    sqlx::query("UPDATE enrollments SET status = $3 WHERE campaign_id = $1 AND contact_id = $2")
        .bind(campaign)
        .bind(contact)
        .bind(status)
        .execute(pool)
        .await
        .unwrap();
}

async fn get(app: &TestApp, who: &Actor, path: &str) -> Value {
    let (status, body) = json(app.call("GET", path, Some(&who.token), None).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn by_day(stats: &Value) -> Vec<(String, i64, i64)> {
    stats["messagesByDay"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["day"].as_str().unwrap().to_string(), d["outbound"].as_i64().unwrap(), d["inbound"].as_i64().unwrap()))
        .collect()
}

/// Every statistic as kept incrementally: the folded buckets plus the deltas not folded yet.
async fn incremental(pool: &PgPool) -> Vec<(Uuid, DateTime<Utc>, String, String, String, Uuid, i64)> {
    sqlx::query_as(
        "SELECT campaign_id, bucket, metric, node_key, channel, user_id, sum(n)::bigint FROM (
             SELECT campaign_id, bucket, metric, node_key, channel, user_id, n FROM stat_buckets
             UNION ALL
             SELECT campaign_id, bucket, metric, node_key, channel, user_id, n FROM stat_deltas) x
         GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4, 5, 6",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Import { campaign: usize, n: i64, hours_ago: i64 },
    Send { pick: usize, node: usize, state: usize, hours_ago: i64 },
    BatchSend { campaign: usize, node: usize, hours_ago: i64 },
    GoesOut { pick: usize },
    Report { pick: usize, status: usize },
    Reply { pick: usize, auto: usize, hours_ago: i64 },
    Status { pick: usize, status: usize },
    Erase { pick: usize },
    Compact,
    Zone { zone: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let hours = 0i64..24 * 40;
    prop_oneof![
        2 => (0usize..3, 1i64..12, hours.clone()).prop_map(|(campaign, n, hours_ago)| Op::Import { campaign, n, hours_ago }),
        6 => (any::<usize>(), 0usize..3, 0usize..3, hours.clone()).prop_map(|(pick, node, state, hours_ago)| Op::Send { pick, node, state, hours_ago }),
        1 => (0usize..3, 0usize..3, hours.clone()).prop_map(|(campaign, node, hours_ago)| Op::BatchSend { campaign, node, hours_ago }),
        2 => any::<usize>().prop_map(|pick| Op::GoesOut { pick }),
        3 => (any::<usize>(), 0usize..4).prop_map(|(pick, status)| Op::Report { pick, status }),
        4 => (any::<usize>(), 0usize..4, hours).prop_map(|(pick, auto, hours_ago)| Op::Reply { pick, auto, hours_ago }),
        4 => (any::<usize>(), 0usize..6).prop_map(|(pick, status)| Op::Status { pick, status }),
        1 => any::<usize>().prop_map(|pick| Op::Erase { pick }),
        2 => Just(Op::Compact),
        1 => (0usize..3).prop_map(|zone| Op::Zone { zone }),
    ]
}

const CHANNELS: [(&str, &str); 3] = [("N1", "sms"), ("N2", "email"), ("N3", "voicemail")];
const STATUSES: [&str; 6] = ["No Activity", "Needs BDR", "Received RSVP", "Attended", "Opted Out", "Bounced"];
const ZONES: [&str; 3] = ["America/New_York", "Asia/Kathmandu", "UTC"];

/// The enrollment (campaign, contact, owner) at `pick` modulo their number, if any.
async fn nth_enrollment(pool: &PgPool, pick: usize) -> Option<(Uuid, Uuid, Uuid)> {
    sqlx::query_as(
        "SELECT e.campaign_id, e.contact_id, k.owner_id FROM enrollments e JOIN campaigns k ON k.id = e.campaign_id
         ORDER BY e.id OFFSET $1 % greatest((SELECT count(*) FROM enrollments), 1) LIMIT 1",
    )
    .bind((pick % 1_000_000) as i64)
    .fetch_optional(pool)
    .await
    .unwrap()
}

async fn nth_message(pool: &PgPool, pick: usize, state: &str) -> Option<Uuid> {
    sqlx::query_scalar(
        "SELECT id FROM messages WHERE direction = 'out' AND send_state = $2
         ORDER BY id OFFSET $1 % greatest((SELECT count(*) FROM messages WHERE direction = 'out' AND send_state = $2), 1) LIMIT 1",
    )
    .bind((pick % 1_000_000) as i64)
    .bind(state)
    .fetch_optional(pool)
    .await
    .unwrap()
}

async fn apply(app: &TestApp, admin: &Actor, campaigns: &[(Uuid, Uuid)], op: &Op) {
    let pool = &app.pool;
    let ago = |h: i64| Utc::now() - Duration::hours(h) - Duration::minutes(h * 7 % 60);
    match *op {
        Op::Import { campaign, n, hours_ago } => {
            import(pool, campaigns[campaign].0, n, hours_ago).await;
        }
        Op::Send { pick, node, state, hours_ago } => {
            if let Some((campaign, contact, owner)) = nth_enrollment(pool, pick).await {
                let (node, channel) = CHANNELS[node];
                let state = ["queued", "sent", "failed"][state];
                send(pool, Out { campaign, contact, node, channel, state, delivery: None, at: ago(hours_ago), by: owner }).await;
            }
        }
        Op::BatchSend { campaign, node, hours_ago } => {
            let (campaign, owner) = campaigns[campaign];
            let (node, channel) = CHANNELS[node];
            sqlx::query(
                "INSERT INTO conversations (id, contact_id, channel, address)
                 SELECT gen_random_uuid(), contact_id, $2, contact_id::text FROM enrollments WHERE campaign_id = $1
                 ON CONFLICT (contact_id, channel) WHERE contact_id IS NOT NULL DO NOTHING",
            )
            .bind(campaign)
            .bind(channel)
            .execute(pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO messages (id, conversation_id, direction, body, send_state, campaign_id, node_key, sent_by, created_at, sent_at)
                 SELECT gen_random_uuid(), v.id, 'out', 'Batch', 'sent', $1, $3, $4, $5, $5
                 FROM enrollments e JOIN conversations v ON v.contact_id = e.contact_id AND v.channel = $2 WHERE e.campaign_id = $1",
            )
            .bind(campaign)
            .bind(channel)
            .bind(node)
            .bind(owner)
            .bind(ago(hours_ago))
            .execute(pool)
            .await
            .unwrap();
        }
        Op::GoesOut { pick } => {
            if let Some(id) = nth_message(pool, pick, "queued").await {
                sqlx::query("UPDATE messages SET send_state = 'sent', sent_at = created_at + interval '3 minutes' WHERE id = $1")
                    .bind(id)
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
        Op::Report { pick, status } => {
            if let Some(id) = nth_message(pool, pick, "sent").await {
                sqlx::query("UPDATE messages SET delivery_status = $2 WHERE id = $1")
                    .bind(id)
                    .bind(["delivered", "undelivered", "failed", "read"][status])
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
        Op::Reply { pick, auto, hours_ago } => {
            if let Some((campaign, contact, _)) = nth_enrollment(pool, pick).await {
                let auto = [None, None, Some("auto_reply"), Some("bounce")][auto];
                reply(pool, Some(campaign), contact, if auto == Some("bounce") { "email" } else { "sms" }, auto, ago(hours_ago)).await;
            }
        }
        Op::Status { pick, status } => {
            if let Some((campaign, contact, _)) = nth_enrollment(pool, pick).await {
                set_status(pool, campaign, contact, STATUSES[status]).await;
            }
        }
        Op::Erase { pick } => {
            if let Some((_, contact, _)) = nth_enrollment(pool, pick).await {
                let r = app.server_fn("erase_contact", Some(&admin.token), &format!("id={contact}&reason=Asked+to+be+forgotten")).await;
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            }
        }
        Op::Compact => {
            stats::compact(pool).await.unwrap();
        }
        Op::Zone { zone } => {
            sqlx::query("UPDATE org_settings SET time_zone = $1").bind(ZONES[zone]).execute(pool).await.unwrap();
            stats::zone_changed(pool).await.unwrap();
        }
    }
}

/// What the users see over all time: the organisation's, one BDR's, the comparison, a funnel.
async fn everything_seen(app: &TestApp, admin: &Actor, bdr: &Actor, campaign: Uuid) -> Vec<Value> {
    let all = "from=2020-01-01&to=2029-12-31";
    vec![
        get(app, admin, &format!("/api/stats?{all}")).await,
        get(app, bdr, &format!("/api/stats?{all}")).await,
        get(app, admin, &format!("/api/stats?{all}&channel=sms")).await,
        get(app, admin, &format!("/api/analytics?{all}")).await,
        get(app, admin, &format!("/api/campaigns/{campaign}/stats?{all}")).await,
    ]
}

#[sqlx::test]
async fn incremental_numbers_equal_a_full_recount_after_random_activity(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let ben = app.user("ben@turnout.test", Role::Bdr).await;
    let campaigns = vec![
        (campaign_with_steps(&app, &ana, "Spring mixer").await, ana.id),
        (campaign_with_steps(&app, &ana, "Summer summit").await, ana.id),
        (campaign_with_steps(&app, &ben, "Autumn dinner").await, ben.id),
    ];
    let mut runner = TestRunner::new(Config { cases: 4, ..Config::default() });
    let ops = proptest::collection::vec(op(), 40..90);
    for case in 0..4 {
        let sequence = ops.new_tree(&mut runner).unwrap().current();
        for op in &sequence {
            apply(&app, &admin, &campaigns, op).await;
        }
        let kept = incremental(&app.pool).await;
        let seen = everything_seen(&app, &admin, &ana, campaigns[0].0).await;

        let report = stats::rebuild(&app.pool).await.unwrap();
        assert_eq!(report.milestones_fixed, 0, "case {case}: the triggers kept every first send and reply; ops: {sequence:?}");
        assert_eq!(incremental(&app.pool).await, kept, "case {case}: incremental and recounted buckets differ; ops: {sequence:?}");
        assert_eq!(everything_seen(&app, &admin, &ana, campaigns[0].0).await, seen, "case {case}: ops: {sequence:?}");

        // And the headline numbers against the raw tables, counted without the fact functions.
        let raw: (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM enrollments),
                    (SELECT count(*) FROM enrollments WHERE status IN ('Received RSVP', 'Attended')),
                    (SELECT count(*) FROM messages WHERE direction = 'out' AND send_state = 'sent'),
                    (SELECT count(DISTINCT (e.id)) FROM enrollments e JOIN conversations v ON v.contact_id = e.contact_id
                     JOIN messages m ON m.conversation_id = v.id AND m.campaign_id = e.campaign_id
                     WHERE m.direction = 'out' AND m.send_state = 'sent')",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let org = &seen[0];
        let sent: i64 = by_day(org).iter().map(|d| d.1).sum();
        assert_eq!((org["enrolled"].as_i64().unwrap(), org["respondedPos"].as_i64().unwrap(), sent, org["messaged"].as_i64().unwrap()), raw, "case {case}");
        let statuses: i64 = org["byStatus"].as_array().unwrap().iter().map(|s| s["count"].as_i64().unwrap()).sum();
        assert_eq!(statuses, raw.0);
    }
}

#[sqlx::test]
async fn days_are_the_organisations_across_daylight_saving_changes(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let org = json!({"name": "Acme Events", "time_zone": "America/New_York", "postal_address": "1 Main St"});
    assert_eq!(app.call("PUT", "/api/org", Some(&admin.token), Some(org)).await.status(), 200);
    let campaign = campaign_with_steps(&app, &ana, "Spring mixer").await;
    let contact = import(&app.pool, campaign, 1, 0).await[0];
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    // Spring forward on 8 March 2026: the day starts at 05:00 UTC (EST) and ends at 04:00 UTC (EDT).
    // Fall back on 1 November 2026: the day starts at 04:00 UTC (EDT) and lasts 25 hours.
    for t in ["2026-03-08T04:50:00Z", "2026-03-08T05:05:00Z", "2026-03-09T03:55:00Z", "2026-03-09T04:05:00Z",
              "2026-11-01T04:30:00Z", "2026-11-02T04:55:00Z", "2026-11-02T05:00:00Z"] {
        send(&app.pool, Out { campaign, contact, node: "N1", channel: "sms", state: "sent", delivery: None, at: at(t), by: ana.id }).await;
    }
    let days = |v: &Value| by_day(v).into_iter().filter(|d| d.1 > 0).map(|d| (d.0, d.1)).collect::<Vec<_>>();
    let march = "/api/stats?from=2026-03-07&to=2026-03-09";
    let november = "/api/stats?from=2026-10-31&to=2026-11-02";
    let new_york_march = vec![("2026-03-07".to_string(), 1), ("2026-03-08".into(), 2), ("2026-03-09".into(), 1)];
    let new_york_november = vec![("2026-11-01".to_string(), 2), ("2026-11-02".into(), 1)];
    for folded in [false, true] {
        if folded {
            stats::compact(&app.pool).await.unwrap();
            assert_eq!(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM stat_deltas").fetch_one(&app.pool).await.unwrap(), 0);
        }
        let m = get(&app, &ana, march).await;
        assert_eq!(m["timeZone"], "America/New_York");
        assert_eq!(days(&m), new_york_march, "folded: {folded}");
        assert_eq!(by_day(&m).len(), 3, "every day of the range is listed");
        assert_eq!(days(&get(&app, &ana, november).await), new_york_november, "folded: {folded}");
    }
    // Moving the organisation to UTC folds the same buckets into UTC days; nothing is recounted.
    let org = json!({"name": "Acme Events", "time_zone": "UTC", "postal_address": "1 Main St"});
    assert_eq!(app.call("PUT", "/api/org", Some(&admin.token), Some(org)).await.status(), 200);
    let m = get(&app, &ana, march).await;
    assert_eq!(m["timeZone"], "UTC");
    assert_eq!(days(&m), vec![("2026-03-08".to_string(), 2), ("2026-03-09".into(), 2)]);
    assert_eq!(days(&get(&app, &ana, november).await), vec![("2026-11-01".to_string(), 1), ("2026-11-02".into(), 2)]);
}

#[sqlx::test]
async fn every_number_is_limited_to_what_the_user_may_see(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.admin().await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let ben = app.user("ben@turnout.test", Role::Bdr).await;
    let anas = campaign_with_steps(&app, &ana, "Spring mixer").await;
    let bens = campaign_with_steps(&app, &ben, "Autumn dinner").await;
    let ana_contacts = import(&app.pool, anas, 2, 1).await;
    let ben_contacts = import(&app.pool, bens, 1, 1).await;
    let now = Utc::now() - Duration::minutes(5);
    send(&app.pool, Out { campaign: anas, contact: ana_contacts[0], node: "N1", channel: "sms", state: "sent", delivery: Some("delivered"), at: now, by: ana.id }).await;
    send(&app.pool, Out { campaign: bens, contact: ben_contacts[0], node: "N1", channel: "sms", state: "sent", delivery: None, at: now, by: ben.id }).await;
    reply(&app.pool, Some(bens), ben_contacts[0], "sms", None, now).await;
    set_status(&app.pool, bens, ben_contacts[0], "Received RSVP").await;
    // A text from a number nobody knows: no campaign, only admins see it.
    let stranger = Uuid::now_v7();
    sqlx::query("INSERT INTO conversations (id, channel, address) VALUES ($1, 'sms', '+12025550199')").bind(stranger).execute(&app.pool).await.unwrap();
    sqlx::query("INSERT INTO messages (id, conversation_id, direction, body) VALUES ($1, $2, 'in', 'Who is this?')")
        .bind(Uuid::now_v7())
        .bind(stranger)
        .execute(&app.pool)
        .await
        .unwrap();

    let inbound = |v: &Value| by_day(v).iter().map(|d| d.2).sum::<i64>();
    for compacted in [false, true] {
        if compacted {
            stats::compact(&app.pool).await.unwrap();
        }
        let a = get(&app, &ana, "/api/stats").await;
        assert_eq!((a["enrolled"].as_i64(), a["messaged"].as_i64(), a["respondedPos"].as_i64(), inbound(&a)), (Some(2), Some(1), Some(0), 0));
        assert_eq!(a["campaigns"]["total"], 1);
        let b = get(&app, &ben, "/api/stats").await;
        assert_eq!((b["enrolled"].as_i64(), b["replied"].as_i64(), b["respondedPos"].as_i64(), inbound(&b)), (Some(1), Some(1), Some(1), 1));
        assert_eq!(b["rates"]["rsvp"], 1.0);
        let all = get(&app, &admin, "/api/stats").await;
        assert_eq!((all["enrolled"].as_i64(), all["respondedPos"].as_i64(), inbound(&all)), (Some(3), Some(1), 2));
        assert_eq!(all["campaigns"]["total"], 2);
        // Filters narrow, never widen: Ana asking for Ben's numbers gets none.
        let a_as_ben = get(&app, &ana, &format!("/api/stats?owner_id={}", ben.id)).await;
        assert_eq!(a_as_ben["enrolled"], 0);
        assert_eq!(get(&app, &admin, &format!("/api/stats?owner_id={}", ana.id)).await["enrolled"], 2);
        assert_eq!(get(&app, &admin, &format!("/api/stats?campaign_id={bens}")).await["enrolled"], 1);
        let r = app.call("GET", &format!("/api/campaigns/{bens}/stats"), Some(&ana.token), None).await;
        assert_eq!(r.status(), 404);
        let analytics = get(&app, &ana, "/api/analytics").await;
        assert_eq!(analytics["campaigns"].as_array().unwrap().len(), 1);
        assert_eq!(analytics["bdrs"].as_array().unwrap().len(), 1);
        let analytics = get(&app, &admin, "/api/analytics").await;
        assert_eq!(analytics["bdrs"].as_array().unwrap().len(), 2);
        assert_eq!(analytics["bdrs"][0]["name"], "ben", "the leaderboard ranks RSVPs first");
        let dash = get(&app, &ana, "/api/dashboard").await;
        let upcoming: Vec<&str> = dash["upcoming"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
        assert_eq!(upcoming, ["Spring mixer"]);
        assert_eq!(dash["upcoming"][0]["enrolled"], 2);
        // Her own campaign's messages, and (as in the inbox) texts from unknown numbers.
        let activity: Vec<&Value> = dash["activity"].as_array().unwrap().iter().map(|a| &a["campaignName"]).collect();
        assert_eq!(activity, [&json!(null), &json!("Spring mixer")]);
        let csv = app.call("GET", "/api/analytics/export.csv?table=campaigns", Some(&ana.token), None).await.text().await.unwrap();
        assert!(!csv.contains("Autumn dinner"));
    }
}

#[sqlx::test]
async fn a_campaigns_funnel_by_step_channel_and_sender(pool: PgPool) {
    let app = spawn_app(pool).await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let admin = app.admin().await;
    let campaign = campaign_with_steps(&app, &ana, "=HYPERLINK(\"http://evil.example\")").await;
    let c = import(&app.pool, campaign, 4, 2).await;
    let at = Utc::now() - Duration::hours(1);
    for (contact, delivery) in [(c[0], Some("delivered")), (c[1], Some("read")), (c[2], Some("undelivered"))] {
        send(&app.pool, Out { campaign, contact, node: "N1", channel: "sms", state: "sent", delivery, at, by: ana.id }).await;
    }
    send(&app.pool, Out { campaign, contact: c[3], node: "N1", channel: "sms", state: "failed", delivery: None, at, by: ana.id }).await;
    for contact in [c[0], c[1]] {
        send(&app.pool, Out { campaign, contact, node: "N2", channel: "email", state: "sent", delivery: None, at, by: admin.id }).await;
    }
    reply(&app.pool, Some(campaign), c[0], "sms", None, at + Duration::minutes(30)).await;
    reply(&app.pool, Some(campaign), c[1], "email", Some("auto_reply"), at + Duration::minutes(30)).await;
    set_status(&app.pool, campaign, c[0], "Received RSVP").await;
    set_status(&app.pool, campaign, c[1], "Opted Out").await;

    let s = get(&app, &ana, &format!("/api/campaigns/{campaign}/stats")).await;
    assert_eq!((s["enrolled"].as_i64(), s["messaged"].as_i64(), s["replied"].as_i64(), s["respondedPos"].as_i64(), s["optedOut"].as_i64()), (Some(4), Some(3), Some(1), Some(1), Some(1)));
    let nodes: Vec<(String, i64, i64, i64, i64, i64, i64)> = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let f = |k: &str| n[k].as_i64().unwrap();
            (n["nodeKey"].as_str().unwrap().to_string(), f("reached"), f("sent"), f("delivered"), f("failed"), f("replied"), f("rsvp"))
        })
        .collect();
    assert_eq!(nodes, vec![("N1".into(), 4, 3, 2, 2, 1, 1), ("N2".into(), 2, 2, 0, 0, 0, 0), ("N3".into(), 0, 0, 0, 0, 0, 0)]);
    let sms = s["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "sms").unwrap();
    assert_eq!((sms["sent"].as_i64(), sms["bounced"].as_i64(), sms["failed"].as_i64(), sms["replies"].as_i64()), (Some(3), Some(1), Some(1), Some(1)));
    assert!((sms["bounceRate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    let email = s["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "email").unwrap();
    assert_eq!((email["received"].as_i64(), email["replies"].as_i64()), (Some(1), Some(0)), "an automatic answer is no reply");
    let senders: Vec<(String, i64)> = s["senders"].as_array().unwrap().iter().map(|u| (u["name"].as_str().unwrap().to_string(), u["sent"].as_i64().unwrap())).collect();
    assert!(senders.contains(&("ana".into(), 3)), "{senders:?}");
    assert_eq!(senders.iter().map(|s| s.1).sum::<i64>(), 5, "{senders:?}");
    assert!((s["rates"]["reply"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    // A range without any of it counts nothing.
    let empty = get(&app, &ana, &format!("/api/campaigns/{campaign}/stats?from=2020-01-01&to=2020-01-31")).await;
    assert_eq!(empty["enrolled"], 0);

    // Exports are spreadsheet-safe: the campaign's name is no formula there.
    let r = app.call("GET", "/api/analytics/export.csv?table=campaigns", Some(&ana.token), None).await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let row = rows.records().next().unwrap().unwrap();
    assert_eq!(&row[0], "'=HYPERLINK(\"http://evil.example\")");
    assert_eq!((&row[3], &row[4], &row[6]), ("4", "3", "1"));
    let nodes = app.call("GET", &format!("/api/analytics/export.csv?table=nodes&campaign_id={campaign}"), Some(&ana.token), None).await.text().await.unwrap();
    assert!(nodes.starts_with("Step,Type,Reached,Sent,Delivered,Failed,Replied,RSVP\n"), "{nodes}");
    assert!(nodes.contains("Step N1,sms_send,4,3,2,2,1,1"), "{nodes}");
}

#[sqlx::test]
async fn the_rebuild_command_recounts_from_the_raw_tables(pool: PgPool) {
    let app = spawn_app(pool).await;
    let ana = app.user("ana@turnout.test", Role::Bdr).await;
    let campaign = campaign_with_steps(&app, &ana, "Spring mixer").await;
    import(&app.pool, campaign, 3, 1).await;
    stats::compact(&app.pool).await.unwrap();
    // Statistics lost (say, restored from an old backup) are recounted by the command.
    sqlx::query("DELETE FROM stat_buckets").execute(&app.pool).await.unwrap();
    sqlx::query("DELETE FROM stat_days").execute(&app.pool).await.unwrap();
    assert_eq!(get(&app, &ana, "/api/stats").await["enrolled"], 0);
    let db = app.pool.connect_options().get_database().unwrap().to_string();
    let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let url = format!("{}/{db}", base.rsplit_once('/').unwrap().0);
    // Awaited, not blocking: the app's workers (folding statistics too) go on meanwhile.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_turnout"))
        .arg("rebuild-stats")
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run turnout rebuild-stats");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("statistics rebuilt"), "{said}");
    assert_eq!(get(&app, &ana, "/api/stats").await["enrolled"], 3);
}
