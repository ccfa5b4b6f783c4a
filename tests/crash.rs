//! The crash test: the real server binary runs a campaign against the loopback Twilio and
//! is SIGKILLed several times mid-run, then restarted. At the end every contact's step is
//! finished (or `unknown`, for a person to resolve) and Twilio saw no message twice.
//! Size: TURNOUT_CRASH_SIZE contacts (2,000 by default; the benchmark uses 20,000).
//! Settings: send window all day every day, throttles off, a 2 s lease, so the run does not
//! depend on the time of day and killed leases come back quickly.
mod common;

use base64::Engine;
use common::spawn_engine;
use serde_json::json;
use sqlx::PgPool;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use turnout::domain::Role;
use turnout::domain::campaign::{CampaignStatus, EventType};
use turnout::domain::funnel::GraphDraft;
use turnout::server::campaigns::{self, NewCampaign};
use turnout::server::templates::{self, GraphOwner};

fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = pool.connect_options().get_database().unwrap_or("postgres").to_string();
    match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{db}"),
        None => base,
    }
}

fn start_server(db_url: &str, port: u16, twilio: &str, data_dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_turnout"))
        .env("DATABASE_URL", db_url)
        .env("TURNOUT_ADDR", format!("127.0.0.1:{port}"))
        .env("TURNOUT_DATA_DIR", data_dir)
        .env("TURNOUT_SECRET_KEY", base64::engine::general_purpose::STANDARD.encode([42u8; 32]))
        .env("ADMIN_EMAIL", common::ADMIN_EMAIL)
        .env("ADMIN_PASSWORD", common::ADMIN_PASSWORD)
        .env("TWILIO_API_BASE", twilio)
        .env("ENGINE_LEASE_S", "2")
        .env("ENGINE_POLL_MS", "100")
        .env("SMS_PER_SECOND_PER_NUMBER", "0")
        .env("EMAIL_PER_DAY_PER_SENDER", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the turnout binary")
}

async fn wait_healthy(port: u16) {
    let url = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

#[sqlx::test]
async fn a_campaign_survives_repeated_sigkills_without_a_duplicate(pool: PgPool) {
    let size: usize = std::env::var("TURNOUT_CRASH_SIZE").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let fake = common::twilio::FakeTwilio::start().await;
    // The in-process app only sets up; the server binary runs the engine.
    let app = spawn_engine(pool.clone(), Arc::new(turnout::server::clock::ManualClock::at(chrono::Utc::now())), |_| {}).await;
    let owner = app.user("crash@turnout.test", Role::Bdr).await;
    sqlx::query!("UPDATE users SET sms_from_number = '+15550109999' WHERE id = $1", owner.id).execute(&pool).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    turnout::server::providers::save_account(&mut conn, &app.state.keys, "twilio", None, Some((&fake.account_sid, &fake.auth_token))).await.unwrap();
    let id = campaigns::insert(&pool, &NewCampaign {
        name: "Crash test",
        status: CampaignStatus::Active,
        event_type: EventType::Virtual,
        event_start: chrono::Utc::now() + chrono::Duration::days(30),
        event_time_zone: "America/New_York",
        venue: None,
        join_link: Some("https://example.com/join"),
        owner_id: owner.id,
        sender_id: owner.id,
        template_version_id: None,
    })
    .await
    .unwrap();
    sqlx::query!("UPDATE campaigns SET window_start = 0, window_end = 1440, window_days = '{1,2,3,4,5,6,7}' WHERE id = $1", id)
        .execute(&pool)
        .await
        .unwrap();
    let graph: GraphDraft = serde_json::from_value(json!({
        "nodes": [{ "key": "N1", "type": "sms_send", "name": "Invite", "config": { "body": "Hi {{contact.first_name}}, reply STOP to opt out" }, "x": 0.0, "y": 0.0 }],
        "edges": []
    }))
    .unwrap();
    templates::insert_graph(&mut conn, GraphOwner::Campaign(id), &graph).await.unwrap();
    sqlx::query!(
        "WITH c AS (
           INSERT INTO contacts (id, name, phone) SELECT gen_random_uuid(), 'Person ' || i, '+1555' || lpad(i::text, 7, '0')
           FROM generate_series(1, $2::int) AS i RETURNING id)
         INSERT INTO enrollments (id, campaign_id, contact_id) SELECT gen_random_uuid(), $1, id FROM c",
        id,
        size as i32
    )
    .execute(&pool)
    .await
    .unwrap();
    drop(conn);

    let url = database_url(&pool);
    let data_dir = std::env::temp_dir().join(format!("turnout-crash-{}", uuid::Uuid::now_v7()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let remaining = || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM enrollments WHERE campaign_id = $1 AND engine_state NOT IN ('finished', 'held')"#,
                id
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let mut kills = 0;
    for round in 0..5 {
        let mut server = start_server(&url, port, &fake.base_url, &data_dir);
        wait_healthy(port).await;
        if round < 4 && remaining().await > 0 {
            // Somewhere mid-batch: sends recorded, some calls made, outcomes not yet written.
            tokio::time::sleep(Duration::from_millis(150 + rand::random_range(0..350))).await;
            server.kill().expect("SIGKILL");
            server.wait().ok();
            kills += 1;
            continue;
        }
        let deadline = Instant::now() + Duration::from_secs(180);
        while remaining().await > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        server.kill().ok();
        server.wait().ok();
        break;
    }
    assert!(kills >= 1, "the run was never interrupted; make it bigger");
    assert_eq!(remaining().await, 0, "every contact's step finished or is held for a person");
    assert!(fake.duplicates().is_empty(), "Twilio saw duplicates: {:?}", &fake.duplicates()[..fake.duplicates().len().min(5)]);
    let r = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE send_state = 'sent') AS "sent!", count(*) FILTER (WHERE send_state = 'unknown') AS "unknown!",
                  count(*) AS "rows!"
           FROM messages WHERE campaign_id = $1"#,
        id
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(r.rows as usize, size, "one message row per contact");
    assert_eq!((r.sent + r.unknown) as usize, size);
    // Twilio has every sent message, and at most the unknown ones besides.
    let at_twilio = fake.messages().len() as i64;
    assert!(at_twilio >= r.sent && at_twilio <= r.sent + r.unknown, "{at_twilio} at Twilio, {} sent, {} unknown", r.sent, r.unknown);
    eprintln!("crash test: {size} contacts, {kills} SIGKILLs, {} sent, {} unknown", r.sent, r.unknown);
}
