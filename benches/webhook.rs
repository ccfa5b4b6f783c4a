//! webhook: signed inbound texts posted by `wrk` to `/api/twilio/inbound-sms` of the release
//! server binary on loopback, beside `GET /health` of the same server in the same run; then
//! the stored texts are counted against the 200s wrk saw.
//!
//! cargo bench --bench webhook --no-default-features --features ssr   (or ./scripts/bench-webhook)
//! BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/turnout_bench_webhook) is
//! dropped and made anew, with `synchronous_commit = on`. BENCH_CONNECTIONS (64),
//! BENCH_SECONDS (20), BENCH_THREADS (2) are wrk's -c, -d and -t. Needs `wrk` on the PATH.
//!
//! The texts come from 10,000 contacts of a running campaign that has texted each of them
//! once (sent by the server's own engine to the loopback Twilio), so each takes the whole
//! path: signature check with the account's sealed token, contact match, the campaign it
//! answers, status raised, run paused, audit rows, committed before the 200. Every request is
//! distinct (its own `MessageSid`), signed in advance by this driver and read by wrk's Lua
//! script, since wrk's Lua has no HMAC-SHA1.
// The tests' loopback Twilio; the benchmark uses only part of it.
#[allow(dead_code)]
#[path = "../tests/common/twilio.rs"]
mod twilio;
mod support;

use base64::Engine;
use chrono::{Duration, Utc};
use sqlx::PgPool;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use turnout::domain::E164Phone;
use turnout::server::auth::token;
use turnout::server::crypto::Keys;
use turnout::server::webhooks::twilio_signature::signature;
use turnout::server::db;
use uuid::Uuid;

const CONTACTS: i64 = 10_000;
const PATH: &str = "/api/twilio/inbound-sms";
const MASTER_KEY: [u8; 32] = [7u8; 32];
/// Replies and RSVPs: every text is stored and acted on; none opts out or asks for HELP.
const BODIES: [&str; 4] = ["Sounds good, what time does it start?", "Yes, count me in!", "Can I bring a colleague?", "Is there parking?"];

/// wrk's end-of-run summary as one line the driver reads.
const DONE_LUA: &str = r#"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK requests %d duration_us %d non2xx %d socket_errors %d p99_us %d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(99)))
end
"#;

/// Each wrk thread takes every n-th line of the file of signed requests ("signature\tbody")
/// and sends them in order, each once.
const WEBHOOK_LUA: &str = r#"
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local reqs = {}
local i = 0
function init(args)
  local n, every = 0, tonumber(os.getenv("WEBHOOK_THREADS"))
  for line in io.lines(os.getenv("WEBHOOK_REQUESTS")) do
    if n % every == id then
      local tab = line:find("\t", 1, true)
      reqs[#reqs + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = line:sub(1, tab - 1),
      }, line:sub(tab + 1))
    end
    n = n + 1
  end
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
"#;

struct Wrk {
    rps: f64,
    requests: u64,
    non_2xx: u64,
    socket_errors: u64,
    p99_ms: f64,
}

#[tokio::main]
async fn main() {
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/turnout_bench_webhook".into());
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(d);
    let (connections, seconds, threads) = (env("BENCH_CONNECTIONS", 64), env("BENCH_SECONDS", 20), env("BENCH_THREADS", 2));
    if Command::new("wrk").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        panic!("wrk is not installed: apt-get install -y wrk (./scripts/bench-webhook installs it)");
    }
    let (mut admin, name) = support::recreate_database(&url).await;
    // Whatever the cluster's default: each text is on disk before its 200.
    sqlx::query(&format!("ALTER DATABASE {name} SET synchronous_commit = on")).execute(&mut admin).await.expect("synchronous_commit");

    let fake = twilio::FakeTwilio::start().await;
    fake.send_status_callbacks(false);
    let work = std::env::temp_dir().join(format!("turnout-bench-webhook-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&work).expect("work dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let origin = format!("http://127.0.0.1:{port}");
    let mut app = start_server(&url, port, &fake.base_url, &work);
    let http = reqwest::Client::new();
    wait_healthy(&http, &origin, &mut app, &work).await;

    let pool = db::connect(&url, 4).await.expect("pool");
    let sync: String = sqlx::query_scalar("SHOW synchronous_commit").fetch_one(&pool).await.expect("show");
    println!(
        "settings: wrk -t{threads} -c{connections} -d{seconds}s on loopback, release server binary with Leptos.toml defaults \
         (pool {}, log info), synchronous_commit {sync}, {CONTACTS} contacts",
        turnout::server::settings::Settings::default().database_max_connections
    );
    let keys = Keys::from_master(&MASTER_KEY);
    let campaign = texted_campaign(&pool, &keys, &http, &origin, &fake).await;

    let trivial = run_wrk(&work, DONE_LUA, &[], threads, connections, seconds / 2, &format!("{origin}/health"));

    // Enough distinct requests for the webhook to run as fast as the trivial route did.
    let needed = (trivial.rps * seconds as f64 * 1.5) as u64 + 10_000;
    let file = work.join("requests.txt");
    write_requests(&file, needed, &format!("{origin}{PATH}"), &fake.account_sid, &fake.auth_token);
    let lua = format!("{WEBHOOK_LUA}{DONE_LUA}");
    let vars = [("WEBHOOK_REQUESTS", file.display().to_string()), ("WEBHOOK_THREADS", threads.to_string())];
    let webhook = run_wrk(&work, &lua, &vars, threads, connections, seconds, &format!("{origin}{PATH}"));
    // Each thread sends its share once; past it a request would repeat a MessageSid.
    assert!(webhook.requests + threads * connections < needed, "more requests than were generated: raise the margin");

    // Requests in flight when wrk stopped finish (and may be stored) after its count.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let stored = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM messages WHERE direction = 'in' AND campaign_id = $1"#, campaign)
        .fetch_one(&pool)
        .await
        .expect("count") as u64;
    let ok = webhook.requests - webhook.non_2xx;
    let lost = ok.saturating_sub(stored);
    let _ = app.kill();
    let _ = app.wait();
    let _ = std::fs::remove_dir_all(&work);

    println!(
        "detail: webhook {} requests, {} non-2xx, {} socket errors, {stored} texts stored; trivial p99 ms {:.1}, {} non-2xx",
        webhook.requests, webhook.non_2xx, webhook.socket_errors, trivial.p99_ms, trivial.non_2xx
    );
    println!(
        "webhook: req/s {:.0}, trivial req/s {:.0}, ratio {:.2}, p99 ms {:.1}, lost {lost}",
        webhook.rps,
        trivial.rps,
        webhook.rps / trivial.rps,
        webhook.p99_ms
    );
}

/// The server binary cargo built for this bench (release), its log in the work directory.
fn start_server(db_url: &str, port: u16, twilio_base: &str, work: &Path) -> Child {
    let log = std::fs::File::create(work.join("server.log")).expect("log");
    Command::new(env!("CARGO_BIN_EXE_turnout"))
        .env("TURNOUT_CONFIG", concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml"))
        .env("DATABASE_URL", db_url)
        .env("TURNOUT_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_BASE_URL", "")
        .env("TURNOUT_DATA_DIR", work.join("data"))
        .env("TURNOUT_SECRET_KEY", base64::engine::general_purpose::STANDARD.encode(MASTER_KEY))
        .env("TURNOUT_DEMO", "false")
        .env("ADMIN_PASSWORD", "bench-admin-password")
        .env("TWILIO_API_BASE", twilio_base)
        .env("SMS_PER_SECOND_PER_NUMBER", "0")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start the server binary")
}

async fn wait_healthy(http: &reqwest::Client, origin: &str, app: &mut Child, work: &Path) {
    for _ in 0..600 {
        if let Ok(Some(status)) = app.try_wait() {
            panic!("the server exited ({status}); see {}", work.join("server.log").display());
        }
        if http.get(format!("{origin}/health")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the server did not answer /health within 60 s");
}

/// A running campaign with two texts three days apart whose first text has gone to each of
/// `CONTACTS` contacts, through the server's engine and the loopback Twilio (the org's
/// account). Returns its id.
async fn texted_campaign(pool: &PgPool, keys: &Keys, http: &reqwest::Client, origin: &str, fake: &twilio::FakeTwilio) -> Uuid {
    let user = support::texting_sender(pool, keys, &fake.account_sid, &fake.auth_token).await;
    let id = support::all_day_campaign(pool, user.id, "Webhook", serde_json::json!({
        "nodes": [
            { "key": "N1", "type": "sms_send", "name": "Invite", "config": { "body": "Hi {{contact.first_name}}, join us {{event.date}}?" }, "x": 0.0, "y": 0.0 },
            { "key": "N2", "type": "wait", "name": "Wait", "config": { "mode": "duration", "minutes": 4320 }, "x": 0.0, "y": 0.0 },
            { "key": "N3", "type": "sms_send", "name": "Last call", "config": { "body": "Last call, {{contact.first_name}}!" }, "x": 0.0, "y": 0.0 }
        ],
        "edges": [{ "from": "N1", "to": "N2" }, { "from": "N2", "to": "N3" }]
    }))
    .await;
    let mut conn = pool.acquire().await.expect("conn");
    sqlx::query!(
        "WITH s AS (SELECT i, gen_random_uuid() AS contact FROM generate_series(0, $2::bigint - 1) AS i),
         c AS (INSERT INTO contacts (id, name, phone) SELECT contact, 'Person ' || i, '+12122' || lpad(i::text, 6, '0') FROM s)
         INSERT INTO enrollments (id, campaign_id, contact_id) SELECT gen_random_uuid(), $1, contact FROM s",
        id,
        CONTACTS
    )
    .execute(&mut *conn)
    .await
    .expect("contacts");
    assert!(E164Phone::parse(&phone(0), "US").is_ok(), "the contacts' numbers are valid");

    let bearer = token::issue(keys, user.id, 0, Utc::now(), Duration::hours(1)).expect("token");
    let res = http
        .post(format!("{origin}/api/campaigns/{id}/actions"))
        .bearer_auth(bearer)
        .json(&serde_json::json!({ "action": "activate" }))
        .send()
        .await
        .expect("activate");
    assert!(res.status().is_success(), "activate: {}", res.text().await.unwrap_or_default());
    for _ in 0..1200 {
        let sent = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM messages WHERE campaign_id = $1 AND send_state = 'sent'"#,
            id
        )
        .fetch_one(pool)
        .await
        .expect("count");
        if sent == CONTACTS {
            return id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the campaign's first texts were not all sent within 120 s");
}

fn phone(i: u64) -> String {
    format!("+12122{:06}", i % CONTACTS as u64)
}

/// `n` inbound texts as Twilio posts them, each with its own MessageSid, signed for `url`.
fn write_requests(file: &Path, n: u64, url: &str, account: &str, token: &str) {
    let mut out = BufWriter::new(std::fs::File::create(file).expect("requests file"));
    for i in 0..n {
        let sid = format!("SM{:032x}", i + 1);
        let from = phone(i);
        // A contact's later texts differ from its first ones.
        let body = BODIES[(i / CONTACTS as u64) as usize % BODIES.len()];
        let params: Vec<(String, String)> = [
            ("ToCountry", "US"), ("ToState", "NY"), ("SmsMessageSid", sid.as_str()), ("NumMedia", "0"), ("ToCity", "NEW YORK"),
            ("FromState", "NY"), ("SmsSid", sid.as_str()), ("SmsStatus", "received"), ("Body", body), ("FromCountry", "US"),
            ("To", "+15550100000"), ("NumSegments", "1"), ("MessageSid", sid.as_str()), ("AccountSid", account), ("From", from.as_str()),
            ("ApiVersion", "2010-04-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
        writeln!(out, "{}\t{body}", signature(token, url, &params)).expect("write");
    }
    out.flush().expect("flush");
}

/// Runs wrk with a Lua script (written to the work directory) and reads its summary line.
fn run_wrk(work: &Path, lua: &str, vars: &[(&str, String)], threads: u64, connections: u64, seconds: u64, url: &str) -> Wrk {
    let script = work.join(format!("wrk-{}.lua", Uuid::now_v7()));
    std::fs::write(&script, lua).expect("script");
    let out = Command::new("wrk")
        .args([format!("-t{threads}"), format!("-c{connections}"), format!("-d{seconds}s"), "--latency".into(), "-s".into()])
        .arg(&script)
        .arg(url)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    let line = text.lines().find(|l| l.starts_with("WRK ")).unwrap_or_else(|| panic!("no summary from wrk: {text}"));
    let field = |name: &str| -> u64 {
        let mut words = line.split_whitespace();
        words.find(|w| *w == name).and_then(|_| words.next()).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} in {line}"))
    };
    let requests = field("requests");
    Wrk {
        rps: requests as f64 / (field("duration_us") as f64 / 1e6),
        requests,
        non_2xx: field("non2xx"),
        socket_errors: field("socket_errors"),
        p99_ms: field("p99_us") as f64 / 1000.0,
    }
}
