//! import_1m: a 1,000,000-row CSV imported into a campaign (scan, parse, normalise, match,
//! create, enroll), beside a raw `COPY` of the same rows into `contacts`, in one run.
//!
//! cargo bench --bench import_1m --no-default-features --features ssr
//! BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/turnout_bench) is dropped
//! and made anew.
use chrono::{Duration, Utc};
use sqlx::{Connection, PgConnection, PgPool};
use std::io::Write;
use std::time::Instant;
use turnout::domain::campaign::{CampaignStatus, EventType};
use turnout::domain::contact::ImportStatus;
use turnout::domain::{EmailAddress, Role};
use turnout::server::auth::AuthUser;
use turnout::server::campaigns::{self, NewCampaign};
use turnout::server::crypto::Keys;
use turnout::server::settings::Settings;
use turnout::server::state::AppState;
use turnout::server::{db, imports, users};
use uuid::Uuid;

const ROWS: usize = 1_000_000;
const AREAS: [u32; 5] = [212, 312, 415, 617, 713];

#[tokio::main]
async fn main() {
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/turnout_bench".into());
    let (server, name) = url.rsplit_once('/').expect("a database URL ends in /<name>");
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await.expect("connect");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut admin).await.expect("drop");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create");
    let pool = db::connect(&url, 4).await.expect("pool");
    db::migrate(&pool).await.expect("migrate");

    let data_dir = std::env::temp_dir().join(format!("turnout-bench-{}", Uuid::now_v7()));
    let settings = Settings { turnout_data_dir: data_dir.clone(), database_url: url.clone(), ..Settings::default() };
    let state = AppState::new(pool.clone(), settings, Keys::from_master(&[7u8; 32])).expect("state");
    let email = EmailAddress::parse("bench@turnout.test").unwrap();
    let u = users::insert(&pool, &email, "Bench", Role::Admin, None).await.expect("user");
    let user = AuthUser { id: u.id, email: u.email.clone(), name: "Bench".into(), role: Role::Admin };
    let campaign = campaigns::insert(&pool, &NewCampaign {
        name: "Bench seminar",
        status: CampaignStatus::Active,
        event_type: EventType::InPerson,
        event_start: Utc::now() + Duration::days(30),
        event_time_zone: "America/New_York",
        venue: None,
        join_link: None,
        owner_id: u.id,
        sender_id: u.id,
        template_version_id: None,
    })
    .await
    .expect("campaign");

    // The same people twice: as the uploaded CSV, and as COPY rows already normalised.
    let id = Uuid::now_v7();
    let path = data_dir.join(imports::spool_path(id));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut copy = Vec::with_capacity(ROWS * 100);
    writeln!(csv, "First Name,Last Name,Phone,Email,Company,Budget").unwrap();
    for i in 0..ROWS {
        let area = AREAS[i % AREAS.len()];
        let n = i / AREAS.len();
        let (exchange, line) = (200 + n / 10_000, n % 10_000);
        writeln!(csv, "Person,Number {i},({area}) {exchange}-{line:04},person{i}@example.com,Company {},{}k", i % 977, i % 900).unwrap();
        writeln!(copy, "{},Person Number {i},+1{area}{exchange}{line:04},person{i}@example.com,Company {},America/New_York,bench", Uuid::now_v7(), i % 977).unwrap();
    }
    csv.flush().unwrap();
    drop(csv);

    let t0 = Instant::now();
    let view = imports::create(&state, &user, id, campaign, "bench.csv", "bench").await.expect("create");
    imports::start(&state, &user, id, view.mapping, "bench").await.expect("start");
    let job = imports::claim(&pool).await.expect("claim").expect("a job");
    imports::run(&state, job).await;
    let seconds = t0.elapsed().as_secs_f64();
    let done = imports::get(&pool, &user, id).await.expect("get");
    assert_eq!(done.status, ImportStatus::Done, "{:?}", done.error);
    assert_eq!((done.created, done.enrolled, done.skipped), (ROWS as i64, ROWS as i64, 0));

    sqlx::query("TRUNCATE contacts CASCADE").execute(&pool).await.expect("truncate");
    let copy_seconds = raw_copy(&pool, copy).await;
    let _ = std::fs::remove_dir_all(&data_dir);

    let rate = ROWS as f64 / seconds;
    let copy_rate = ROWS as f64 / copy_seconds;
    println!(
        "import_1m: seconds {seconds:.1}, rows/s {rate:.0}, copy rows/s {copy_rate:.0}, ratio {:.2}",
        rate / copy_rate
    );
}

async fn raw_copy(pool: &PgPool, data: Vec<u8>) -> f64 {
    let mut conn = pool.acquire().await.expect("conn");
    let t0 = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY contacts (id, name, phone, email, company, time_zone, consent_source) FROM STDIN (FORMAT csv)")
        .await
        .expect("copy");
    copy.send(data).await.expect("send");
    copy.finish().await.expect("finish");
    t0.elapsed().as_secs_f64()
}
