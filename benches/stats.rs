//! stats: `GET /api/stats` and `GET /api/campaigns/{id}/stats` under concurrent load, on an
//! organisation of 1,000,000 contacts, 2,000,000 enrollments and 10,000,000 messages over 200
//! campaigns, beside the naive full-table aggregate of the same numbers in the same run; then
//! the answer for the admin's range is checked against the naive one.
//!
//! cargo bench --bench stats --no-default-features --features ssr   (or ./scripts/bench-stats)
//! BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/turnout_bench_stats) is
//! dropped and made anew, unless BENCH_KEEP=1 and it already holds the rows of a generation of
//! the same size (then only the load is run again; the statistics are rebuilt first if that
//! generation had not got that far). BENCH_SCALE (1) scales contacts, enrollments
//! and messages (0.01: 10,000 / 20,000 / 100,000; always 200 campaigns, 20 BDRs and an admin).
//! BENCH_CONNECTIONS ("1,4,8,16"): the numbers of concurrent clients, each level a
//! `/api/stats` and a campaign phase of BENCH_SECONDS (20); BENCH_NAIVE_CONNECTIONS (2) for
//! the naive aggregate, run once.
//!
//! The generator writes set-based `INSERT … SELECT FROM generate_series` statements, two at a
//! time, with `session_replication_role = replica` (no triggers, no foreign-key checks) and
//! the secondary indexes of the four big tables dropped and made again afterwards (the schema
//! ends as the migrations left it). Every row is a pure function of its number, so the
//! enrollments' milestones (first send, first reply, RSVP, status time) are written consistent
//! with their messages; `stats::rebuild` then recounts every statistic from the raw tables
//! (and reports how many milestones it had to correct: 0 when the generator agrees with it).
//! The shape: 200 campaigns owned by 20 BDRs, started evenly from a year ago to two weeks ago,
//! their event six weeks after the start, so about a tenth have activity in the last 30 days;
//! each with 4–6 send steps (text, email, text, voicemail, email, text); 10,000 enrollments per
//! campaign made in its first two days, two per contact; five messages per enrollment, a week
//! apart in business hours (closer in the campaigns of the last five weeks, so that none lies
//! ahead of now): three quarters of the enrollments get only sends (2 % refused by the
//! provider, 3 % of the rest undelivered or failed), a quarter answer a text or an email and
//! write three times (a fifth of the emailed first answers an auto-reply or a bounce), 85 %
//! outbound in all. Statuses: 67.5 % No Activity, 10 % Needs
//! BDR, 8.75 % Received RSVP, 3.75 % Attended, 6.25 % Opted Out, 3.75 % Bounced.
// Only the database's set-up of the shared helpers is used here.
#[allow(dead_code)]
mod support;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;
use tokio::net::TcpListener;
use turnout::domain::stats::Stats;
use turnout::server::auth::token;
use turnout::server::crypto::Keys;
use turnout::server::settings::Settings;
use turnout::server::state::AppState;
use turnout::server::{db, org, stats};
use uuid::Uuid;

const CAMPAIGNS: i64 = 200;
const BDRS: i64 = 20;
const ZONE: &str = "America/New_York";
/// Each campaign's enrollments and messages fall within its first six weeks; the event ends them.
const ACTIVE_DAYS: i64 = 42;
const MASTER_KEY: [u8; 32] = [7u8; 32];
/// Enrollments per statement of the generator (five messages each).
const CHUNK: i64 = 50_000;

/// How many rows of each: `per` enrollments per campaign, two per contact, five messages each.
#[derive(Clone, Copy)]
struct Shape {
    per: i64,
    contacts: i64,
    enrollments: i64,
    messages: i64,
}

impl Shape {
    fn new(scale: f64) -> Shape {
        let per = ((10_000.0 * scale).round() as i64).max(1);
        Shape { per, contacts: per * CAMPAIGNS / 2, enrollments: per * CAMPAIGNS, messages: per * CAMPAIGNS * 5 }
    }
}

/// A uuid made of a table's prefix and a row number, so rows join by arithmetic.
fn uid(prefix: &str, n: &str) -> String {
    format!("('{prefix}-0000-4000-8000-' || lpad(to_hex(({n})::bigint), 12, '0'))::uuid")
}
const USER: &str = "0000a000";
const CAMPAIGN: &str = "0000ca00";
const NODE: &str = "0000d000";
const CONTACT: &str = "0000c000";
const CONVERSATION: &str = "0000cc00";
const ENROLLMENT: &str = "0000e000";
const MESSAGE: &str = "0000f000";

/// A pseudo-random integer in 0..m, a pure function of `x` and `seed`.
fn h(x: &str, seed: &str, m: impl std::fmt::Display) -> String {
    format!("((hashint8extended(({x})::bigint, ({seed})::bigint) & 2147483647) % {m})")
}

/// When slot `s` (0..4) of enrollment `j` happens: `bc.gap` days apart (a week, less for the
/// campaigns started lately, so that nothing lies ahead of now) from the day after the
/// enrollment, a day or two later at random, between 14:00 and 22:00 UTC (9 to 5 in New York).
fn slot_time(s: &str) -> String {
    format!(
        "(p.day0 + make_interval(days => (({s}) * bc.gap + {})::int, secs => 50400 + {}))",
        h("j", &format!("10 + {s}"), "least(3, bc.gap - 1)"),
        h("j", &format!("20 + {s}"), 28800)
    )
}

/// Whether the provider refused slot `s` of an enrollment that only receives (2 %).
fn refused(s: &str) -> String {
    format!("({} = 0)", h("j", &format!("30 + {s}"), 50))
}

/// The enrollments `j` in $1..=$2 with their campaign `bc` and what is drawn for them: `p.b`
/// whether they answer, `p.v` by text (0) or email (1), `p.r` their status, `p.a` an automatic
/// first answer (< 20: auto-reply below 15, bounce from 15).
fn enrollments_from(per: i64) -> String {
    format!(
        "generate_series($1::bigint, $2::bigint) AS j
         CROSS JOIN (SELECT $3::timestamptz AS now) n
         JOIN bench_campaigns bc ON bc.k = j / {per}
         CROSS JOIN LATERAL (SELECT bc.start + make_interval(secs => {created}) AS created OFFSET 0) g
         CROSS JOIN LATERAL (SELECT date_trunc('day', g.created, 'UTC') + interval '1 day' AS day0, {b} < 25 AS b, {v} AS v, {r} AS r, {a} AS a OFFSET 0) p",
        created = h("j", "1", 172_800),
        b = h("j", "2", 100),
        v = h("j", "3", 2),
        r = h("j", "4", 100),
        a = h("j", "50", 100),
    )
}

fn contacts_sql() -> String {
    format!(
        "INSERT INTO contacts (id, name, phone, email, company, time_zone, consent_source, created_at, updated_at)
         SELECT {id}, 'Person ' || i, '+1201' || lpad(i::text, 7, '0'), 'person' || i || '@example.com', 'Company ' || (i % 5000),
                'America/New_York', 'import', $3::timestamptz - interval '400 days', $3::timestamptz - interval '400 days'
         FROM generate_series($1::bigint, $2::bigint) AS i",
        id = uid(CONTACT, "i")
    )
}

fn conversations_sql() -> String {
    format!(
        "INSERT INTO conversations (id, contact_id, channel, address, created_at)
         SELECT {id}, {contact}, (ARRAY['sms', 'email', 'voicemail'])[ch + 1],
                CASE WHEN ch = 1 THEN 'person' || i || '@example.com' ELSE '+1201' || lpad(i::text, 7, '0') END,
                $3::timestamptz - interval '400 days'
         FROM generate_series($1::bigint, $2::bigint) AS i CROSS JOIN generate_series(0, 2) AS ch",
        id = uid(CONVERSATION, "i * 3 + ch"),
        contact = uid(CONTACT, "i")
    )
}

fn enrollments_sql(shape: Shape) -> String {
    let t = (0..5).map(|s| format!("{} AS t{s}", slot_time(&s.to_string()))).collect::<Vec<_>>().join(", ");
    let first_sent = (0..5).map(|s| format!("WHEN NOT {} THEN t.t{s}", refused(&s.to_string()))).collect::<Vec<_>>().join(" ");
    format!(
        "INSERT INTO enrollments (id, campaign_id, contact_id, status, engine_state, next_run_at, created_at, updated_at,
                                  messaged_at, replied_at, replied_node, rsvp_at, status_at)
         SELECT {id}, bc.id, {contact}, s.status, 'finished', NULL, g.created, s.at,
                m.messaged_at, m.replied_at, m.replied_node,
                CASE WHEN s.status IN ('Received RSVP', 'Attended') THEN t.t4 + interval '1 minute' END, s.at
         FROM {from}
         CROSS JOIN LATERAL (SELECT {t} OFFSET 0) t
         CROSS JOIN LATERAL (SELECT
             CASE WHEN p.b THEN t.t0 {first_sent} END AS messaged_at,
             CASE WHEN NOT p.b THEN NULL WHEN p.v = 0 THEN t.t1 WHEN p.a < 20 THEN t.t3 ELSE t.t2 END AS replied_at,
             CASE WHEN NOT p.b THEN NULL WHEN p.v = 0 THEN 'N1' ELSE 'N2' END AS replied_node OFFSET 0) m
         CROSS JOIN LATERAL (SELECT CASE
             WHEN NOT p.b THEN CASE WHEN p.r < 90 THEN 'No Activity' WHEN p.r < 95 THEN 'Bounced' ELSE 'Opted Out' END
             ELSE CASE WHEN p.r < 40 THEN 'Needs BDR' WHEN p.r < 75 THEN 'Received RSVP' WHEN p.r < 90 THEN 'Attended' ELSE 'Opted Out' END
             END AS status OFFSET 0) s0
         CROSS JOIN LATERAL (SELECT s0.status, CASE
             WHEN NOT p.b THEN CASE s0.status WHEN 'No Activity' THEN g.created WHEN 'Bounced' THEN t.t0 + interval '1 hour' ELSE t.t2 + interval '1 hour' END
             WHEN s0.status = 'Attended' THEN least(bc.event_start + interval '2 hours', $3::timestamptz)
             ELSE t.t4 + interval '1 minute' END AS at OFFSET 0) s",
        id = uid(ENROLLMENT, "j"),
        contact = uid(CONTACT, &format!("j % {}", shape.contacts)),
        from = enrollments_from(shape.per),
    )
}

/// Five messages per enrollment. Those who never answer get the campaign's steps N1..N5 (a
/// four-step campaign's fifth is a follow-up by hand); a text answerer: N1, an answer, a reply
/// by hand, two answers; an email answerer: N1, N2 (email), three answers to N2.
fn messages_sql(shape: Shape) -> String {
    format!(
        "INSERT INTO messages (id, conversation_id, direction, body, subject, provider, send_state, delivery_status, error, campaign_id,
                               node_key, sent_by, created_at, sent_at, delivered_at, enrollment_id, auto_kind, channel)
         SELECT {id}, {conversation}, q.dir,
                CASE WHEN q.dir = 'in' THEN (ARRAY['Yes, count me in!', 'Sounds good, what time does it start?', 'Can I bring a colleague?',
                                                   'Is there parking?', 'Not this time, thanks'])[1 + {body}::int]
                     WHEN q.ch = 0 THEN 'Hi, it''s Turnout: join us at the spring seminar? Reply STOP to opt out'
                     WHEN q.ch = 1 THEN 'We would love to see you at the spring seminar. The details and your RSVP link are below.'
                     ELSE 'Voicemail: a short invitation to the spring seminar' END,
                CASE WHEN q.ch = 1 THEN 'You are invited' END,
                CASE WHEN q.dir = 'in' THEN NULL WHEN q.ch = 0 THEN 'twilio' WHEN q.ch = 1 THEN 'smtp' ELSE 'slybroadcast' END,
                o.state, o.delivery, CASE WHEN o.state = 'failed' THEN 'The provider refused the message' END,
                bc.id, CASE WHEN q.x > 0 THEN 'N' || q.x END, CASE WHEN q.dir = 'out' THEN bc.owner END,
                CASE WHEN o.state = 'sent' THEN q.t - interval '2 seconds' ELSE q.t END,
                CASE WHEN o.state = 'sent' THEN q.t END,
                CASE WHEN o.delivery = 'delivered' THEN q.t + interval '5 seconds' END,
                {enrollment},
                CASE WHEN p.b AND p.v = 1 AND s = 2 THEN CASE WHEN p.a < 15 THEN 'auto_reply' WHEN p.a < 20 THEN 'bounce' END END,
                (ARRAY['sms', 'email', 'voicemail'])[q.ch + 1]
         FROM {from}
         CROSS JOIN generate_series(0, 4) AS s
         CROSS JOIN LATERAL (SELECT
             CASE WHEN NOT p.b THEN 'out' WHEN p.v = 0 THEN CASE WHEN s IN (1, 3, 4) THEN 'in' ELSE 'out' END WHEN s >= 2 THEN 'in' ELSE 'out' END AS dir,
             CASE WHEN NOT p.b THEN CASE WHEN s < bc.nodes THEN s + 1 ELSE 0 END WHEN s = 0 THEN 1 WHEN p.v = 0 THEN CASE WHEN s = 2 THEN 0 ELSE 1 END ELSE 2 END AS x,
             {t} AS t OFFSET 0) q0
         CROSS JOIN LATERAL (SELECT q0.*, CASE WHEN q0.x IN (2, 5) THEN 1 WHEN q0.x = 4 THEN 2 ELSE 0 END AS ch OFFSET 0) q
         CROSS JOIN LATERAL (SELECT CASE WHEN q.dir = 'in' THEN NULL WHEN NOT p.b AND {refused} THEN 'failed' ELSE 'sent' END AS state OFFSET 0) o0
         CROSS JOIN LATERAL (SELECT o0.state, CASE WHEN o0.state = 'sent' THEN
             CASE WHEN d.d < 2 THEN 'undelivered' WHEN d.d < 3 THEN 'failed' WHEN d.d < 97 THEN 'delivered' END END AS delivery
             FROM (SELECT {d} AS d OFFSET 0) d OFFSET 0) o",
        id = uid(MESSAGE, "j * 5 + s"),
        conversation = uid(CONVERSATION, &format!("(j % {}) * 3 + q.ch", shape.contacts)),
        enrollment = uid(ENROLLMENT, "j"),
        body = h("j", "60 + s", 5),
        from = enrollments_from(shape.per),
        t = slot_time("s"),
        refused = refused("s"),
        d = h("j", "40 + s", 100),
    )
}

/// The same numbers as `/api/stats` for the whole organisation, straight from the raw tables.
const NAIVE: &str = r#"
WITH b AS (SELECT time_zone AS tz, ($1::date::timestamp AT TIME ZONE time_zone) AS lo, (($2::date + 1)::timestamp AT TIME ZONE time_zone) AS hi
           FROM org_settings),
     firsts AS (
         SELECT m.campaign_id, v.contact_id,
                min(coalesce(m.sent_at, m.created_at)) FILTER (WHERE m.direction = 'out' AND m.send_state = 'sent') AS messaged_at,
                min(m.created_at) FILTER (WHERE m.direction = 'in' AND m.auto_kind IS NULL) AS replied_at
         FROM messages m JOIN conversations v ON v.id = m.conversation_id
         WHERE m.campaign_id IS NOT NULL
         GROUP BY 1, 2),
     funnel AS (
         SELECT count(*) FILTER (WHERE f.messaged_at >= b.lo AND f.messaged_at < b.hi) AS messaged,
                count(*) FILTER (WHERE f.replied_at >= b.lo AND f.replied_at < b.hi) AS replied
         FROM enrollments e JOIN firsts f ON f.campaign_id = e.campaign_id AND f.contact_id = e.contact_id, b),
     days AS (
         SELECT ((CASE WHEN m.direction = 'out' THEN coalesce(m.sent_at, m.created_at) ELSE m.created_at END) AT TIME ZONE b.tz)::date AS day,
                count(*) FILTER (WHERE m.direction = 'out') AS outbound, count(*) FILTER (WHERE m.direction = 'in') AS inbound
         FROM messages m, b
         WHERE (m.direction = 'out' AND m.send_state = 'sent' AND coalesce(m.sent_at, m.created_at) >= b.lo AND coalesce(m.sent_at, m.created_at) < b.hi)
            OR (m.direction = 'in' AND m.created_at >= b.lo AND m.created_at < b.hi)
         GROUP BY 1)
SELECT (SELECT count(*) FROM enrollments e, b WHERE e.created_at >= b.lo AND e.created_at < b.hi) AS enrolled,
       funnel.messaged, funnel.replied,
       (SELECT count(*) FROM enrollments e, b WHERE e.status IN ('Received RSVP', 'Attended') AND e.rsvp_at >= b.lo AND e.rsvp_at < b.hi) AS rsvp,
       (SELECT coalesce(array_agg(day ORDER BY day), '{}') FROM days) AS days,
       (SELECT coalesce(array_agg(outbound ORDER BY day), '{}') FROM days) AS outbound,
       (SELECT coalesce(array_agg(inbound ORDER BY day), '{}') FROM days) AS inbound
FROM funnel
"#;

#[derive(Debug, PartialEq)]
struct Answer {
    enrolled: i64,
    messaged: i64,
    replied: i64,
    rsvp: i64,
    /// Days with any message: (day, outbound, inbound).
    days: Vec<(NaiveDate, i64, i64)>,
}

async fn naive(pool: &PgPool, from: NaiveDate, to: NaiveDate) -> Result<Answer, sqlx::Error> {
    let (enrolled, messaged, replied, rsvp, days, outbound, inbound): (i64, i64, i64, i64, Vec<NaiveDate>, Vec<i64>, Vec<i64>) =
        sqlx::query_as(NAIVE).bind(from).bind(to).fetch_one(pool).await?;
    let days = days.into_iter().zip(outbound).zip(inbound).map(|((d, o), i)| (d, o, i)).collect();
    Ok(Answer { enrolled, messaged, replied, rsvp, days })
}

fn answer_of(s: &Stats) -> Answer {
    Answer {
        enrolled: s.funnel.enrolled,
        messaged: s.funnel.messaged,
        replied: s.funnel.replied,
        rsvp: s.funnel.responded_pos,
        days: s.messages_by_day.iter().filter(|d| d.outbound != 0 || d.inbound != 0).map(|d| (d.day, d.outbound, d.inbound)).collect(),
    }
}

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

/// A pool whose sessions write without triggers or foreign-key checks, without waiting for
/// the WAL flush.
async fn bulk_pool(url: &str, n: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(n)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET session_replication_role = replica").execute(&mut *conn).await?;
                sqlx::query("SET synchronous_commit = off").execute(&mut *conn).await?;
                sqlx::query("SET maintenance_work_mem = '512MB'").execute(&mut *conn).await?;
                sqlx::query("SET work_mem = '256MB'").execute(&mut *conn).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .expect("bulk pool")
}

/// Runs `sql` with ($1, $2, $3) = (first, last, now) over 0..total in chunks, two at a time.
async fn chunked(pool: &PgPool, sql: &str, total: i64, chunk: i64, now: DateTime<Utc>) {
    let next = Arc::new(AtomicI64::new(0));
    let work = |_: usize| {
        let next = next.clone();
        async move {
            loop {
                let lo = next.fetch_add(chunk, Ordering::SeqCst);
                if lo >= total {
                    return;
                }
                let hi = (lo + chunk).min(total) - 1;
                sqlx::query(sql).bind(lo).bind(hi).bind(now).execute(pool).await.unwrap_or_else(|e| panic!("{e}\n{sql}"));
            }
        }
    };
    tokio::join!(work(0), work(1));
}

async fn timed<T>(label: &str, times: &mut Vec<(String, f64)>, f: impl Future<Output = T>) -> T {
    let t = Instant::now();
    let out = f.await;
    let s = t.elapsed().as_secs_f64();
    println!("generate: {label} {s:.1} s");
    times.push((label.to_string(), s));
    out
}

/// Whether the database holds the rows of a generation of this shape: `Some(true)` when its
/// statistics were rebuilt too, `Some(false)` when only the raw rows were written.
async fn generated(url: &str, shape: Shape) -> Option<bool> {
    let pool = db::connect(url, 2).await.ok()?;
    db::migrate(&pool).await.ok()?;
    let (per, rebuilt): (i64, bool) = sqlx::query_as("SELECT per, rebuilt FROM bench_meta").fetch_optional(&pool).await.ok().flatten()?;
    let counts: (i64, i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM enrollments), (SELECT count(*) FROM messages)")
            .fetch_one(&pool)
            .await
            .ok()?;
    (per == shape.per && counts == (shape.contacts, shape.enrollments, shape.messages)).then_some(rebuilt)
}

async fn generate(url: &str, shape: Shape, scale: f64) {
    let started = Instant::now();
    let now = Utc::now();
    let mut times = Vec::new();
    support::recreate_database(url).await;
    let pool = db::connect(url, 4).await.expect("pool");
    db::migrate(&pool).await.expect("migrate");
    org::seed(&pool, "Bench", ZONE).await.expect("org");
    sqlx::query(&format!(
        "INSERT INTO users (id, email, name, role, created_at)
         SELECT {id}, CASE WHEN u = 0 THEN 'admin@turnout.test' ELSE 'bdr' || u || '@turnout.test' END,
                CASE WHEN u = 0 THEN 'Admin' ELSE 'BDR ' || u END, CASE WHEN u = 0 THEN 'admin' ELSE 'bdr' END, $1::timestamptz - interval '2 years'
         FROM generate_series(0, {BDRS}) AS u",
        id = uid(USER, "u")
    ))
    .bind(now)
    .execute(&pool)
    .await
    .expect("users");
    // The benchmark's own table: what the load phase needs to know of each campaign.
    sqlx::query(&format!(
        "CREATE TABLE bench_campaigns AS
         SELECT k, {id} AS id, {owner} AS owner, 4 + (k % 3)::int AS nodes, start, start + interval '{ACTIVE_DAYS} days' + interval '18 hours' AS event_start,
                least(7, floor((extract(epoch FROM $1::timestamptz - start) / 86400 - 6) / 4))::int AS gap
         FROM generate_series(0, {last}) AS k,
              LATERAL (SELECT date_trunc('day', $1::timestamptz - interval '365 days', 'UTC') + make_interval(secs => k::bigint * 351 * 86400 / {last}) AS start) s",
        id = uid(CAMPAIGN, "k"),
        owner = uid(USER, &format!("1 + k % {BDRS}")),
        last = CAMPAIGNS - 1
    ))
    .bind(now)
    .execute(&pool)
    .await
    .expect("bench_campaigns");
    sqlx::query(
        "INSERT INTO campaigns (id, name, status, event_type, event_start, event_time_zone, venue, join_link, owner_id, sender_id, created_at, updated_at)
         SELECT id, 'Campaign ' || (k + 1), CASE WHEN event_start > $1 THEN 'active' ELSE 'completed' END,
                CASE WHEN k % 2 = 0 THEN 'In-Person' ELSE 'Virtual' END, event_start, 'America/New_York',
                CASE WHEN k % 2 = 0 THEN 'Hall A' END, CASE WHEN k % 2 = 1 THEN 'https://example.com/join' END, owner, owner, start, start
         FROM bench_campaigns",
    )
    .bind(now)
    .execute(&pool)
    .await
    .expect("campaigns");
    sqlx::query(&format!(
        "INSERT INTO nodes (id, campaign_id, key, type, name, pos_y)
         SELECT {id}, c.id, 'N' || x, t.type, 'Step ' || x || ': ' || t.type, x * 100
         FROM bench_campaigns c, generate_series(1, c.nodes) AS x,
              LATERAL (SELECT CASE WHEN x IN (2, 5) THEN 'email_send' WHEN x = 4 THEN 'voicemail_drop' ELSE 'sms_send' END AS type) t",
        id = uid(NODE, "c.k * 10 + x")
    ))
    .execute(&pool)
    .await
    .expect("nodes");

    let bulk = bulk_pool(url, 2).await;
    // Secondary indexes are made once at the end rather than row by row.
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.relname::text, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
         WHERE c.relname IN ('contacts', 'conversations', 'enrollments', 'messages') AND c.relnamespace = 'public'::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
         ORDER BY pg_relation_size(c.oid) DESC, i.relname",
    )
    .fetch_all(&bulk)
    .await
    .expect("indexes");
    for (name, _) in &indexes {
        sqlx::query(&format!("DROP INDEX {name}")).execute(&bulk).await.expect("drop index");
    }
    timed("contacts", &mut times, chunked(&bulk, &contacts_sql(), shape.contacts, 250_000, now)).await;
    timed("conversations", &mut times, chunked(&bulk, &conversations_sql(), shape.contacts, 100_000, now)).await;
    timed("enrollments", &mut times, chunked(&bulk, &enrollments_sql(shape), shape.enrollments, 250_000, now)).await;
    timed("messages", &mut times, chunked(&bulk, &messages_sql(shape), shape.enrollments, CHUNK, now)).await;
    timed("indexes", &mut times, async {
        let next = Arc::new(AtomicU64::new(0));
        let work = || {
            let (next, indexes, bulk) = (next.clone(), &indexes, &bulk);
            async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst) as usize;
                    let Some((_, def)) = indexes.get(i) else { return };
                    sqlx::query(def).execute(bulk).await.unwrap_or_else(|e| panic!("{def}: {e}"));
                }
            }
        };
        tokio::join!(work(), work());
    })
    .await;
    sqlx::query("CREATE TABLE bench_meta AS SELECT $1::float8 AS scale, $2::bigint AS per, $3::timestamptz AS generated_at, false AS rebuilt")
        .bind(scale)
        .bind(shape.per)
        .bind(now)
        .execute(&pool)
        .await
        .expect("meta");
    println!(
        "generate: {} in {:.0} s",
        times.iter().map(|(l, s)| format!("{l} {s:.1} s")).collect::<Vec<_>>().join(", "),
        started.elapsed().as_secs_f64()
    );
}

/// The statistics recounted from the raw rows (`stats::rebuild`), then VACUUM ANALYZE.
async fn finish(url: &str) {
    let started = Instant::now();
    let mut times = Vec::new();
    let bulk = bulk_pool(url, 2).await;
    // Planner statistics for the rebuild's own queries (autovacuum may not have been by yet).
    timed("analyze", &mut times, async { sqlx::query("ANALYZE").execute(&bulk).await.expect("analyze") }).await;
    let report = timed("rebuild", &mut times, stats::rebuild(&bulk)).await.expect("rebuild");
    timed("vacuum analyze", &mut times, async {
        let (a, b) = tokio::join!(
            sqlx::query("VACUUM (ANALYZE) messages").execute(&bulk),
            sqlx::query("VACUUM (ANALYZE) contacts, conversations, enrollments, campaigns, nodes, users, stat_buckets, stat_days, stat_org_days, stat_node_days, stat_deltas")
                .execute(&bulk)
        );
        a.expect("vacuum");
        b.expect("vacuum");
    })
    .await;
    sqlx::query("UPDATE bench_meta SET rebuilt = true").execute(&bulk).await.expect("meta");
    println!(
        "generate: {} in {:.0} s; rebuild: milestones fixed {}, buckets {}",
        times.iter().map(|(l, s)| format!("{l} {s:.1} s")).collect::<Vec<_>>().join(", "),
        started.elapsed().as_secs_f64(),
        report.milestones_fixed,
        report.buckets
    );
}

type Request = Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

struct Sample {
    ms: Vec<f64>,
    errors: u64,
    seconds: f64,
}

impl Sample {
    fn p(&self, q: f64) -> f64 {
        if self.ms.is_empty() {
            return f64::NAN;
        }
        self.ms[((self.ms.len() - 1) as f64 * q).round() as usize]
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name}: {} requests, {} errors, req/s {:.0}, p50 ms {:.1}, p95 ms {:.1}, p99 ms {:.1}, max ms {:.1}",
            self.ms.len(),
            self.errors,
            self.ms.len() as f64 / self.seconds,
            self.p(0.5),
            self.p(0.95),
            self.p(0.99),
            self.ms.last().copied().unwrap_or(f64::NAN)
        )
    }
}

/// `clients` loops calling `request` with a random number until `seconds` have passed (the
/// requests in flight then finish and count).
async fn load(clients: u64, seconds: u64, request: Request) -> Sample {
    let start = Instant::now();
    let deadline = start + std::time::Duration::from_secs(seconds);
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (request, first_error) = (request.clone(), first_error.clone());
        tasks.spawn(async move {
            let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (c + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let (mut ms, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let t = Instant::now();
                let r = request(rng).await;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
                if let Err(e) = r {
                    errors += 1;
                    first_error.lock().unwrap().get_or_insert(e);
                }
            }
            (ms, errors)
        });
    }
    let (mut ms, mut errors) = (Vec::new(), 0);
    while let Some(r) = tasks.join_next().await {
        let (m, e) = r.expect("client");
        ms.extend(m);
        errors += e;
    }
    let seconds = start.elapsed().as_secs_f64();
    ms.sort_by(f64::total_cmp);
    if let Some(e) = first_error.lock().unwrap().take() {
        println!("first error: {e}");
    }
    Sample { ms, errors, seconds }
}

/// A GET read to its end; an error unless 2xx.
async fn get(http: &reqwest::Client, url: &str, bearer: &str) -> Result<(), String> {
    let res = http.get(url).bearer_auth(bearer).send().await.map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(())
}

fn boxed(f: impl Future<Output = Result<(), String>> + Send + 'static) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
    Box::pin(f)
}

#[tokio::main]
async fn main() {
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/turnout_bench_stats".into());
    let scale: f64 = std::env::var("BENCH_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let levels: Vec<u64> = std::env::var("BENCH_CONNECTIONS")
        .unwrap_or_else(|_| "1,4,8,16".into())
        .split(',')
        .map(|c| c.trim().parse().expect("BENCH_CONNECTIONS: numbers separated by commas"))
        .collect();
    let seconds = env_u64("BENCH_SECONDS", 20);
    let naive_clients = env_u64("BENCH_NAIVE_CONNECTIONS", 2);
    let shape = Shape::new(scale);
    println!(
        "shape: {} contacts, {} enrollments, {} messages, {CAMPAIGNS} campaigns, {BDRS} BDRs and an admin (scale {scale})",
        shape.contacts, shape.enrollments, shape.messages
    );
    let kept = if std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1") { generated(&url, shape).await } else { None };
    match kept {
        Some(true) => println!("generate: kept the database generated before (BENCH_KEEP=1)"),
        Some(false) => {
            println!("generate: kept the rows generated before (BENCH_KEEP=1); their statistics are not rebuilt yet");
            finish(&url).await;
        }
        None => {
            generate(&url, shape, scale).await;
            finish(&url).await;
        }
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let defaults = Settings::default();
    let settings = Settings {
        turnout_addr: listener.local_addr().expect("addr"),
        turnout_data_dir: std::env::temp_dir().join(format!("turnout-bench-stats-{}", Uuid::now_v7())),
        database_url: url.clone(),
        engine_workers: 0,
        ..defaults
    };
    let pool = db::connect(&url, settings.database_max_connections).await.expect("pool");
    let state = AppState::new(pool.clone(), settings, Keys::from_master(&MASTER_KEY)).expect("state");
    tokio::spawn(turnout::server::serve(listener, state.clone()));
    let origin = format!("http://{}", state.settings.turnout_addr);
    println!(
        "settings: {levels:?} clients ({naive_clients} for the naive aggregate), {seconds} s per phase, in-process server (pool {}, no log subscriber), loopback HTTP/1.1 keep-alive",
        state.settings.database_max_connections
    );

    let now = Utc::now();
    let zone: chrono_tz::Tz = ZONE.parse().expect("zone");
    let today = now.with_timezone(&zone).date_naive();
    let (from, to) = (today - Duration::days(29), today);
    let bearer = |id: Uuid| token::issue(&state.keys, id, 0, now, Duration::hours(6)).expect("token");
    let users: Vec<(Uuid, String)> = sqlx::query_scalar::<_, Uuid>("SELECT id FROM users ORDER BY role, email")
        .fetch_all(&pool)
        .await
        .expect("users")
        .into_iter()
        .map(|id| (id, bearer(id)))
        .collect();
    let admin_id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE role = 'admin'").fetch_one(&pool).await.expect("admin");
    let admin = Arc::new(users.iter().find(|(id, _)| *id == admin_id).expect("admin").1.clone());
    let bdrs: Arc<Vec<String>> = Arc::new(users.iter().filter(|(id, _)| *id != admin_id).map(|(_, t)| t.clone()).collect());
    let tokens: std::collections::HashMap<Uuid, String> = users.iter().cloned().collect();
    let campaigns: Vec<(Uuid, String, NaiveDate, NaiveDate)> = sqlx::query_as::<_, (Uuid, Uuid, DateTime<Utc>, DateTime<Utc>)>(
        "SELECT id, owner, start, event_start FROM bench_campaigns ORDER BY k",
    )
    .fetch_all(&pool)
    .await
    .expect("campaigns")
    .into_iter()
    .map(|(id, owner, start, event)| (id, tokens[&owner].clone(), start.with_timezone(&zone).date_naive(), event.with_timezone(&zone).date_naive()))
    .collect();
    let campaigns = Arc::new(campaigns);
    let active_30 = sqlx::query_scalar::<_, i64>(
        "SELECT count(DISTINCT campaign_id) FROM stat_days WHERE day BETWEEN $1 AND $2 AND metric = 'sent'",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&pool)
    .await
    .expect("active");
    let rows: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM stat_buckets), (SELECT count(*) FROM stat_node_days), (SELECT count(*) FROM stat_days), (SELECT count(*) FROM stat_org_days)",
    )
    .fetch_one(&pool)
    .await
    .expect("stat rows");
    println!(
        "data: admin range {from}..={to} ({ZONE}), {active_30} campaigns sent in it; stat rows: buckets {}, node days {}, days {}, org days {}",
        rows.0, rows.1, rows.2, rows.3
    );

    let http = reqwest::Client::builder().pool_max_idle_per_host(levels.iter().max().copied().unwrap_or(1) as usize * 2).build().expect("client");
    let stats_url = Arc::new(format!("{origin}/api/stats?from={from}&to={to}"));

    // The answer first (and a warm-up of the server's pool and the cache).
    let res = http.get(stats_url.as_str()).bearer_auth(admin.as_str()).send().await.expect("stats");
    assert!(res.status().is_success(), "GET /api/stats: {} {}", res.status(), res.text().await.unwrap_or_default());
    let served: Stats = res.json().await.expect("stats json");
    for (id, owner, from, to) in campaigns.iter().take(5) {
        get(&http, &format!("{origin}/api/campaigns/{id}/stats?from={from}&to={to}"), owner).await.expect("campaign stats");
    }

    let stats_request: Request = {
        let (http, stats_url, admin, bdrs) = (http.clone(), stats_url.clone(), admin.clone(), bdrs.clone());
        Arc::new(move |r| {
            let (http, url) = (http.clone(), stats_url.clone());
            // A quarter of the requests are the admin's (the whole organisation), the rest a BDR's.
            let bearer = if r % 4 == 0 { admin.clone() } else { Arc::new(bdrs[(r / 4 % bdrs.len() as u64) as usize].clone()) };
            boxed(async move { get(&http, &url, &bearer).await })
        })
    };
    let campaign_request: Request = {
        let (http, origin, admin, campaigns) = (http.clone(), origin.clone(), admin.clone(), campaigns.clone());
        Arc::new(move |r| {
            let (id, owner, from, to) = &campaigns[(r % campaigns.len() as u64) as usize];
            let url = format!("{origin}/api/campaigns/{id}/stats?from={from}&to={to}");
            // Half as the campaign's owner, half as the admin.
            let bearer = if r / 1024 % 2 == 0 { owner.clone() } else { admin.as_str().to_string() };
            let http = http.clone();
            boxed(async move { get(&http, &url, &bearer).await })
        })
    };
    // Each level of concurrency: the p95 of /api/stats and of the campaign page.
    let mut p95s = Vec::new();
    for &clients in &levels {
        let stats_sample = load(clients, seconds, stats_request.clone()).await;
        println!("{}", stats_sample.line(&format!("stats ({clients} clients)")));
        let campaign_sample = load(clients, seconds, campaign_request.clone()).await;
        println!("{}", campaign_sample.line(&format!("campaign ({clients} clients)")));
        p95s.push((clients, stats_sample.p(0.95), campaign_sample.p(0.95)));
    }

    let naive_pool = PgPoolOptions::new().max_connections(naive_clients as u32).connect(&url).await.expect("naive pool");
    let t = Instant::now();
    let truth = naive(&naive_pool, from, to).await.expect("naive");
    println!("naive: one query alone {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
    let phase = {
        let naive_pool = naive_pool.clone();
        let request: Request = Arc::new(move |_| {
            let pool = naive_pool.clone();
            boxed(async move { naive(&pool, from, to).await.map(|_| ()).map_err(|e| e.to_string()) })
        });
        load(naive_clients, seconds, request).await
    };
    println!("{}", phase.line("naive"));
    let naive_sample = phase;

    let ours = answer_of(&served);
    let exact = ours == truth;
    println!(
        "exact: {} (admin {from}..={to}: enrolled {}, messaged {}, replied {}, RSVP {}, {} days with messages, {} sent, {} received)",
        if exact { "yes" } else { "no" },
        truth.enrolled,
        truth.messaged,
        truth.replied,
        truth.rsvp,
        truth.days.len(),
        truth.days.iter().map(|d| d.1).sum::<i64>(),
        truth.days.iter().map(|d| d.2).sum::<i64>()
    );
    if !exact {
        println!("served: {ours:?}\nnaive:  {truth:?}");
    }
    state.shutdown.cancel();
    let _ = std::fs::remove_dir_all(&state.settings.turnout_data_dir);
    for (clients, stats, campaign) in p95s {
        println!("stats: p95 ms {stats:.1}, campaign p95 ms {campaign:.1}, naive p95 ms {:.1}   ({clients} clients)", naive_sample.p(0.95));
    }
}
