//! dispatch: 100,000 enrollments, one SMS step each, all due, sent by the engine's workers to
//! the loopback Twilio; beside a raw batched INSERT of the same message rows, in one run.
//! Then lateness: 100,000 more with due times spread evenly at 80 % of the measured rate;
//! p99 of (sent − due) per message.
//!
//! cargo bench --bench dispatch --no-default-features --features ssr
//! BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/turnout_bench_dispatch) is
//! dropped and made anew. Campaigns are activated as a user does (`campaigns::act`). Settings: throttles off, send window all day every day, the
//! system clock, and the engine defaults of Leptos.toml unless BENCH_WORKERS / BENCH_BATCH set.
// The tests' loopback Twilio; the benchmark uses only part of it.
#[allow(dead_code)]
#[path = "../tests/common/twilio.rs"]
mod twilio;
mod support;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use std::time::Instant;
use turnout::domain::Role;
use turnout::domain::campaign::CampaignAction;
use turnout::server::auth::AuthUser;
use turnout::server::campaigns;
use turnout::server::crypto::Keys;
use turnout::server::settings::Settings;
use turnout::server::state::AppState;
use turnout::server::{db, engine, org};
use uuid::Uuid;

const N: i64 = 100_000;
/// How far ahead of the set-up the lateness phase's first due time lies: writing 100,000
/// contacts and activating takes a few seconds.
const LEAD: Duration = Duration::seconds(10);

#[tokio::main]
async fn main() {
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/turnout_bench_dispatch".into());
    support::recreate_database(&url).await;
    turnout::server::telemetry::init("text");
    let defaults = Settings::default();
    let pool = db::connect(&url, defaults.database_max_connections).await.expect("pool");
    db::migrate(&pool).await.expect("migrate");

    let fake = twilio::FakeTwilio::start().await;
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let settings = Settings {
        turnout_data_dir: std::env::temp_dir().join(format!("turnout-bench-{}", Uuid::now_v7())),
        database_url: url.clone(),
        sms_per_second_per_number: 0.0,
        email_per_day_per_sender: 0,
        twilio_api_base: fake.base_url.clone(),
        engine_workers: env("BENCH_WORKERS").unwrap_or(defaults.engine_workers),
        engine_batch_size: env("BENCH_BATCH").map(|b| b as i64).unwrap_or(defaults.engine_batch_size),
        ..defaults
    };
    println!(
        "settings: workers {}, batch {}, concurrency {}, throttles off, window all day",
        settings.engine_workers, settings.engine_batch_size, settings.engine_concurrency
    );
    let state = AppState::new(pool.clone(), settings, Keys::from_master(&[7u8; 32])).expect("state");
    org::seed(&pool, "Bench", "America/New_York").await.expect("org");
    let user = support::texting_sender(&pool, &state.keys, &fake.account_sid, &fake.auth_token).await;
    let bdr = AuthUser { id: user.id, email: user.email.clone(), name: user.name.clone(), role: Role::Bdr };

    // Phase 1: everything due at once.
    let (first, _) = campaign(&pool, user.id, "Dispatch", 0).await;
    let workers = engine::spawn(&state);
    let t0 = Utc::now();
    campaigns::act(&state, &bdr, first, CampaignAction::Activate).await.expect("activate");
    let seconds = (wait_done(&pool, first).await - t0).as_seconds_f64();
    let rate = N as f64 / seconds;
    assert_eq!(fake.total_calls() as i64, N, "one provider call per step");
    assert!(fake.duplicates().is_empty());

    let insert_rate = raw_insert(&pool, first, user.id).await;

    // Phase 2: due times spread evenly at 80 % of the measured rate.
    let spacing_us = (1_000_000.0 / (rate * 0.8)) as i64;
    let (late, first_due) = campaign(&pool, user.id, "Lateness", spacing_us).await;
    campaigns::act(&state, &bdr, late, CampaignAction::Activate).await.expect("activate");
    // Due times that passed during the set-up would start the run with a backlog.
    assert!(Utc::now() < first_due, "the set-up ran past the first due time; raise LEAD");
    wait_done(&pool, late).await;
    // `bench_due` is the benchmark's own table, so these two statements are not compile-checked.
    let p99: f64 = sqlx::query_scalar(
        "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM m.sent_at - d.due)::float8 * 1000)
         FROM messages m JOIN bench_due d ON d.enrollment_id = m.enrollment_id WHERE m.campaign_id = $1",
    )
    .bind(late)
    .fetch_one(&pool)
    .await
    .expect("p99");
    state.shutdown.cancel();
    let _ = workers.join_all().await;

    println!(
        "dispatch: steps/s {rate:.0}, insert rows/s {insert_rate:.0}, ratio {:.2}, p99 lateness ms {p99:.0}",
        rate / insert_rate
    );
}

/// A draft campaign with one SMS step and N enrollments, due `spacing_us` apart from now
/// (0: all due now). Returns its id and the first due time.
async fn campaign(pool: &PgPool, owner: Uuid, name: &str, spacing_us: i64) -> (Uuid, DateTime<Utc>) {
    let id = support::all_day_campaign(pool, owner, name, serde_json::json!({
        "nodes": [{ "key": "N1", "type": "sms_send", "name": "Invite",
                    "config": { "body": "Hi {{contact.first_name}}, join us {{event.date}}! Reply STOP to opt out" }, "x": 0.0, "y": 0.0 }],
        "edges": []
    }))
    .await;
    let mut conn = pool.acquire().await.expect("conn");
    // Lateness is measured against these due times.
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_due (enrollment_id uuid PRIMARY KEY, due timestamptz NOT NULL)")
        .execute(&mut *conn)
        .await
        .expect("bench_due");
    let start = Utc::now() + LEAD;
    // Phones are distinct across both phases (`offset`), so no two contacts share one.
    let offset = if spacing_us == 0 { 0 } else { N };
    sqlx::query(
        "WITH s AS (SELECT i, gen_random_uuid() AS contact, gen_random_uuid() AS enrollment
                    FROM generate_series(1, $2::bigint) AS i),
         c AS (INSERT INTO contacts (id, name, phone)
               SELECT contact, 'Person ' || i, '+1' || (2000000000 + i + $4::bigint)::text FROM s),
         e AS (INSERT INTO enrollments (id, campaign_id, contact_id, next_run_at)
               SELECT enrollment, $1, contact,
                      CASE WHEN $3::bigint = 0 THEN 'epoch'::timestamptz ELSE $5 + make_interval(secs => i * $3::bigint / 1e6) END
               FROM s)
         INSERT INTO bench_due SELECT enrollment, CASE WHEN $3::bigint = 0 THEN $5 ELSE $5 + make_interval(secs => i * $3::bigint / 1e6) END FROM s",
    )
    .bind(id)
    .bind(N)
    .bind(spacing_us)
    .bind(offset)
    .bind(start)
    .execute(&mut *conn)
    .await
    .expect("contacts");
    (id, start)
}

/// Waits until no enrollment of the campaign is active and returns when its last message
/// was sent. The poll is a cheap existence check so the benchmark's own bookkeeping does not
/// take CPU from the engine it measures.
async fn wait_done(pool: &PgPool, campaign: Uuid) -> DateTime<Utc> {
    loop {
        let active = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM enrollments WHERE campaign_id = $1 AND engine_state = 'active') AS "active!""#,
            campaign
        )
        .fetch_one(pool)
        .await
        .expect("poll");
        if !active {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    sqlx::query_scalar!("SELECT max(sent_at) FROM messages WHERE campaign_id = $1", campaign)
        .fetch_one(pool)
        .await
        .expect("last send")
        .expect("the campaign sent")
}

/// The same message rows written with batched INSERTs of the engine's batch size.
async fn raw_insert(pool: &PgPool, campaign: Uuid, sender: Uuid) -> f64 {
    let rows = sqlx::query!(
        r#"SELECT conversation_id, body, to_address AS "to!", from_address AS "from!", enrollment_id AS "enrollment!"
           FROM messages WHERE campaign_id = $1"#,
        campaign
    )
    .fetch_all(pool)
    .await
    .expect("rows");
    let t0 = Instant::now();
    for chunk in rows.chunks(500) {
        sqlx::query!(
            "INSERT INTO messages (id, conversation_id, direction, body, provider, send_state, campaign_id, node_key, sent_by,
                                   enrollment_id, idempotency_key, to_address, from_address)
             SELECT u.id, u.conv, 'out', u.body, 'twilio', 'sending', $1, 'N1', $2, u.enrollment, u.key, u.to_address, u.from_address
             FROM UNNEST($3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::text[], $8::text[], $9::text[])
                  AS u(id, conv, body, enrollment, key, to_address, from_address)",
            campaign,
            sender,
            &chunk.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>(),
            &chunk.iter().map(|r| r.conversation_id).collect::<Vec<_>>(),
            &chunk.iter().map(|r| r.body.clone()).collect::<Vec<_>>(),
            &chunk.iter().map(|r| r.enrollment).collect::<Vec<_>>(),
            &chunk.iter().map(|r| format!("raw:{}", r.enrollment)).collect::<Vec<_>>(),
            &chunk.iter().map(|r| r.to.clone()).collect::<Vec<_>>(),
            &chunk.iter().map(|r| r.from.clone()).collect::<Vec<_>>()
        )
        .execute(pool)
        .await
        .expect("insert");
    }
    rows.len() as f64 / t0.elapsed().as_secs_f64()
}
