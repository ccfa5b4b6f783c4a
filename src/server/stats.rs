//! Exact statistics. How they are kept is in migrations/20261126000014_stats.sql: triggers
//! append deltas in the transaction of each change; here they are folded (compaction),
//! re-folded when the organisation's zone changes, rebuilt from the raw tables on demand,
//! and read: day totals plus the deltas not folded yet, in one statement (one snapshot).
//! Owns the `stat_*` tables and the enrollments' milestone columns.
use crate::domain::AppError;
use crate::domain::campaign::{CampaignStatus, Channel, Direction};
use crate::domain::stats::{
    Activity, Analytics, BdrRow, CampaignCounts, CampaignRow, CampaignStats, Counts, Dashboard, ExportTable, NodeStats, SenderStats,
    Stats, StatsQuery, UpcomingEvent, csv_safe, days, resolve_range,
};
use crate::server::auth::AuthUser;
use crate::server::state::AppState;
use crate::server::inbox;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::RwLock;
use std::time::Duration;
use uuid::Uuid;

/// Deltas folded per statement; a backlog is folded in several.
const COMPACT_BATCH: i64 = 50_000;
/// `pg_advisory_xact_lock(STAT_LOCK, 0)`: one folder at a time across processes.
const STAT_LOCK: i32 = 7302;

/// The range asked for, in the zone the day totals are kept in.
struct Range {
    from: NaiveDate,
    to: NaiveDate,
    time_zone: String,
}

/// The zone the day totals are folded in (`stat_fold`), as this process last saw it. Each
/// read returns the zone of its own snapshot and runs again if the zone had moved, so the
/// range never costs a statement of its own.
#[derive(Default)]
pub struct FoldZone(RwLock<Option<String>>);

impl FoldZone {
    fn get(&self) -> String {
        self.0.read().ok().and_then(|z| z.clone()).unwrap_or_else(|| "UTC".into())
    }

    fn set(&self, zone: &str) {
        if let Ok(mut z) = self.0.write() {
            *z = Some(zone.to_string());
        }
    }
}

/// Runs `read` over the range of `q` in the folded zone. `read` answers with what it read and
/// the zone its snapshot held; a zone moved meanwhile (another process saved a new one) means
/// the range is resolved again in it and read again.
async fn in_zone<T, Fut>(state: &AppState, q: &StatsQuery, read: impl Fn(Range) -> Fut) -> Result<T, AppError>
where
    Fut: Future<Output = Result<(T, String), AppError>>,
{
    let mut time_zone = state.fold_zone.get();
    for _ in 0..3 {
        let zone: chrono_tz::Tz = time_zone.parse().map_err(|_| AppError::internal())?;
        let today = state.clock.now().with_timezone(&zone).date_naive();
        let (from, to) = resolve_range(q, today).map_err(AppError::unprocessable)?;
        let (value, seen) = read(Range { from, to, time_zone: time_zone.clone() }).await?;
        if seen == time_zone {
            return Ok(value);
        }
        state.fold_zone.set(&seen);
        time_zone = seen;
    }
    Err(AppError::internal())
}

/// Whether the query is the whole organisation's: an admin's, with no campaign or owner filter.
fn org_wide(user: &AuthUser, q: &StatsQuery) -> bool {
    user.is_admin() && q.campaign_id.is_none() && q.owner_id.is_none()
}

/// Only the chosen channel when the query names one.
fn channels(counts: &Counts, q: &StatsQuery) -> Vec<crate::domain::stats::ChannelStats> {
    counts.channels().into_iter().filter(|c| q.channel.is_none_or(|ch| ch == c.channel)).collect()
}

/// `GET /api/stats`: one statement, which also reads the campaign counts and the folded
/// zone. The whole organisation's days come from `stat_org_days`, anyone else's from their
/// campaigns' `stat_days`; deltas not folded yet are added. Totals and the days' messages are
/// summed by the database, so about a hundred rows travel.
pub async fn stats(state: &AppState, user: &AuthUser, q: &StatsQuery) -> Result<Stats, AppError> {
    let db = &state.read_pool;
    let channel = q.channel.map(Channel::as_str);
    in_zone(state, q, |r| async move {
        let rows = sqlx::query!(
            r#"WITH f AS (SELECT time_zone AS tz FROM stat_fold),
                    k AS (SELECT id, status FROM campaigns
                          WHERE ($1 OR owner_id = $2) AND ($3::uuid IS NULL OR id = $3) AND ($4::uuid IS NULL OR owner_id = $4)),
                    x AS (SELECT d.day, d.metric, d.channel, d.n FROM stat_org_days d WHERE $8 AND d.day BETWEEN $5 AND $6
                          UNION ALL
                          SELECT d.day, d.metric, d.channel, d.n FROM stat_days d JOIN k ON k.id = d.campaign_id
                          WHERE NOT $8 AND d.day BETWEEN $5 AND $6
                          UNION ALL
                          SELECT (s.bucket AT TIME ZONE f.tz)::date, s.metric, s.channel, s.n FROM stat_deltas s, f
                          WHERE ($8 OR s.campaign_id IN (SELECT id FROM k))
                            AND s.bucket >= ($5::date::timestamp AT TIME ZONE f.tz) AND s.bucket < (($6::date + 1)::timestamp AT TIME ZONE f.tz)),
                    -- One pass: totals by metric and channel, and the days' messages (rows with no channel).
                    r AS (SELECT day, metric, channel, sum(n)::bigint AS n
                          FROM (SELECT CASE WHEN metric IN ('sent', 'received') THEN day END AS day, metric, channel, n FROM x
                                WHERE $7::text IS NULL OR channel IN ($7, '')) y
                          GROUP BY GROUPING SETS ((metric, channel), (day, metric)))
               SELECT f.tz AS "time_zone!", c.active AS "active!", c.total AS "total!",
                      r.day AS "day?", r.metric AS "metric?", r.channel AS "channel?", r.n AS "n?"
               FROM f
               CROSS JOIN (SELECT count(*) FILTER (WHERE status = 'active') AS active, count(*) AS total FROM k) c
               LEFT JOIN r ON true"#,
            user.is_admin(),
            user.id,
            q.campaign_id,
            q.owner_id,
            r.from,
            r.to,
            channel,
            org_wide(user, q)
        )
        .fetch_all(db)
        .await?;
        let Some(first) = rows.first() else { return Err(AppError::internal()) };
        let (seen, campaigns) = (first.time_zone.clone(), CampaignCounts { active: first.active, total: first.total });
        let mut counts = Counts::default();
        let mut by_day = BTreeMap::<NaiveDate, (i64, i64)>::new();
        for row in rows {
            let (Some(metric), Some(n)) = (row.metric, row.n) else { continue };
            match (row.channel, row.day) {
                (Some(channel), _) => counts.add(&metric, &channel, n),
                (None, Some(day)) if metric == "sent" => by_day.entry(day).or_default().0 += n,
                (None, Some(day)) => by_day.entry(day).or_default().1 += n,
                // The other metrics' group of the days' set.
                (None, None) => {}
            }
        }
        let funnel = counts.funnel();
        let stats = Stats {
            messages_by_day: days(r.from, r.to, &by_day),
            from: r.from,
            to: r.to,
            time_zone: r.time_zone,
            funnel,
            campaigns,
            by_status: counts.by_status(),
            rates: funnel.rates(),
            channels: channels(&counts, q),
        };
        Ok((stats, seen))
    })
    .await
}

/// `GET /api/campaigns/{id}/stats`, in one statement: the access check (another BDR's
/// campaign is "not found"), the folded zone, the counts by step, channel and sender with the
/// senders' names, and the funnel's steps in their order.
pub async fn campaign(state: &AppState, user: &AuthUser, id: Uuid, q: &StatsQuery) -> Result<CampaignStats, AppError> {
    let db = &state.read_pool;
    let channel = q.channel.map(Channel::as_str);
    in_zone(state, q, |r| async move {
        let rows = sqlx::query!(
            r#"WITH f AS (SELECT time_zone AS tz FROM stat_fold),
                    c AS (SELECT name FROM campaigns WHERE id = $1 AND ($2 OR owner_id = $3)),
                    x AS (SELECT d.metric, d.node_key, d.channel, d.user_id, d.n FROM stat_node_days d
                          WHERE d.campaign_id = $1 AND d.day BETWEEN $4 AND $5
                          UNION ALL
                          SELECT s.metric, s.node_key, s.channel, s.user_id, s.n FROM stat_deltas s, f
                          WHERE s.campaign_id = $1
                            AND s.bucket >= ($4::date::timestamp AT TIME ZONE f.tz) AND s.bucket < (($5::date + 1)::timestamp AT TIME ZONE f.tz)),
                    g AS (SELECT metric, node_key, channel, user_id, sum(n)::bigint AS n FROM x
                          WHERE $6::text IS NULL OR channel IN ($6, '') GROUP BY 1, 2, 3, 4),
                    r AS (SELECT g.metric, g.node_key, g.channel, g.user_id, g.n, u.name AS label, NULL::text AS node_type, NULL::bigint AS ord
                          FROM g LEFT JOIN users u ON u.id = g.user_id
                          UNION ALL
                          SELECT NULL, key, NULL, NULL, NULL, name, type, row_number() OVER (ORDER BY pos_y, pos_x, key)
                          FROM nodes WHERE campaign_id = $1)
               SELECT f.tz AS "time_zone!", c.name AS "name!", r.metric AS "metric?", r.node_key AS "node_key?", r.channel AS "channel?",
                      r.user_id AS "user_id?", r.n AS "n?", r.label AS "label?", r.node_type AS "node_type?"
               FROM f CROSS JOIN c LEFT JOIN r ON true
               ORDER BY r.ord"#,
            id,
            user.is_admin(),
            user.id,
            r.from,
            r.to,
            channel
        )
        .fetch_all(db)
        .await?;
        let Some(first) = rows.first() else { return Err(AppError::not_found("Campaign")) };
        let (seen, name) = (first.time_zone.clone(), first.name.clone());
        let mut counts = Counts::default();
        let mut by_node = BTreeMap::<String, Counts>::new();
        let mut by_user = BTreeMap::<Uuid, (String, Counts)>::new();
        let mut steps = Vec::new();
        for row in rows {
            let Some(key) = row.node_key else { continue };
            let (Some(metric), Some(channel), Some(user_id), Some(n)) = (row.metric, row.channel, row.user_id, row.n) else {
                if let Some(node_type) = row.node_type {
                    steps.push((key, row.label.unwrap_or_default(), node_type));
                }
                continue;
            };
            counts.add(&metric, &channel, n);
            if !key.is_empty() {
                by_node.entry(key).or_default().add(&metric, &channel, n);
            }
            if user_id != Uuid::nil() {
                by_user.entry(user_id).or_insert_with(|| (row.label.unwrap_or_default(), Counts::default())).1.add(&metric, &channel, n);
            }
        }
        let node = |key: &str, name: &str, node_type: &str| {
            let c = by_node.get(key).cloned().unwrap_or_default();
            NodeStats {
                node_key: key.to_string(),
                name: name.to_string(),
                node_type: node_type.to_string(),
                reached: c.get("reached"),
                sent: c.get("sent"),
                delivered: c.get("delivered"),
                failed: c.get("failed") + c.get("bounced"),
                replied: c.get("replied"),
                rsvp: c.get("rsvp"),
            }
        };
        let mut nodes: Vec<NodeStats> = steps
            .iter()
            .filter(|(key, _, node_type)| matches!(node_type.as_str(), "sms_send" | "email_send" | "voicemail_drop") || by_node.contains_key(key))
            .map(|(key, name, node_type)| node(key, name, node_type))
            .collect();
        // Steps since removed from the funnel still count for what they sent.
        nodes.extend(by_node.keys().filter(|k| !steps.iter().any(|(key, _, _)| key == *k)).map(|k| node(k, k, "removed")));
        let senders = by_user
            .into_iter()
            .map(|(id, (name, c))| SenderStats {
                user_id: Some(id),
                name,
                sent: c.get("sent"),
                delivered: c.get("delivered"),
                failed: c.get("failed") + c.get("bounced"),
            })
            .collect();
        let funnel = counts.funnel();
        let stats = CampaignStats {
            campaign_id: id,
            name,
            from: r.from,
            to: r.to,
            time_zone: r.time_zone,
            funnel,
            rates: funnel.rates(),
            nodes,
            channels: channels(&counts, q),
            senders,
        };
        Ok((stats, seen))
    })
    .await
}

/// A campaign of the analytics comparison with its counts over the range.
struct Listed {
    id: Uuid,
    name: String,
    status: CampaignStatus,
    owner_id: Uuid,
    owner_name: String,
    counts: Counts,
}

/// `GET /api/analytics`: every campaign in scope compared, their owners ranked, channels.
pub async fn analytics(state: &AppState, user: &AuthUser, q: &StatsQuery) -> Result<Analytics, AppError> {
    let db = &state.read_pool;
    let channel = q.channel.map(Channel::as_str);
    let (listed, r) = in_zone(state, q, |r| async move {
        let rows = sqlx::query!(
            r#"WITH f AS (SELECT time_zone AS tz FROM stat_fold),
                    k AS (SELECT k.id, k.name, k.status, k.owner_id, u.name AS owner_name, k.event_start
                          FROM campaigns k JOIN users u ON u.id = k.owner_id
                          WHERE ($1 OR k.owner_id = $2) AND ($3::uuid IS NULL OR k.id = $3) AND ($4::uuid IS NULL OR k.owner_id = $4)),
                    x AS (SELECT d.campaign_id, d.metric, d.channel, d.n FROM stat_days d JOIN k ON k.id = d.campaign_id
                          WHERE d.day BETWEEN $5 AND $6
                          UNION ALL
                          SELECT s.campaign_id, s.metric, s.channel, s.n FROM stat_deltas s JOIN k ON k.id = s.campaign_id, f
                          WHERE s.bucket >= ($5::date::timestamp AT TIME ZONE f.tz) AND s.bucket < (($6::date + 1)::timestamp AT TIME ZONE f.tz)),
                    g AS (SELECT campaign_id, metric, channel, sum(n)::bigint AS n FROM x
                          WHERE $7::text IS NULL OR channel IN ($7, '') GROUP BY 1, 2, 3)
               SELECT f.tz AS "time_zone!", k.id AS "id?", k.name AS "name?", k.status AS "status?: CampaignStatus", k.owner_id AS "owner_id?",
                      k.owner_name AS "owner_name?", g.metric AS "metric?", g.channel AS "channel?", g.n AS "n?"
               FROM f LEFT JOIN (k LEFT JOIN g ON g.campaign_id = k.id) ON true
               ORDER BY k.event_start DESC, k.id"#,
            user.is_admin(),
            user.id,
            q.campaign_id,
            q.owner_id,
            r.from,
            r.to,
            channel
        )
        .fetch_all(db)
        .await?;
        let seen = rows.first().map(|row| row.time_zone.clone()).ok_or_else(AppError::internal)?;
        // The campaigns in their order, each with its counts (its rows come together).
        let mut listed: Vec<Listed> = Vec::new();
        for row in rows {
            let (Some(id), Some(name), Some(status), Some(owner_id), Some(owner_name)) = (row.id, row.name, row.status, row.owner_id, row.owner_name) else {
                continue;
            };
            if listed.last().is_none_or(|c| c.id != id) {
                listed.push(Listed { id, name, status, owner_id, owner_name, counts: Counts::default() });
            }
            if let (Some(metric), Some(channel), Some(n), Some(c)) = (row.metric, row.channel, row.n, listed.last_mut()) {
                c.counts.add(&metric, &channel, n);
            }
        }
        Ok(((listed, r), seen))
    })
    .await?;
    let mut all = Counts::default();
    let mut campaign_rows = Vec::new();
    let mut bdrs = BTreeMap::<Uuid, BdrRow>::new();
    for Listed { id, name, status, owner_id, owner_name, counts } in listed {
        for ((metric, channel), n) in &counts.0 {
            all.add(metric, channel, *n);
        }
        let funnel = counts.funnel();
        let sent = counts.get("sent");
        let bdr = bdrs.entry(owner_id).or_insert_with(|| BdrRow {
            user_id: owner_id,
            name: owner_name.clone(),
            campaigns: 0,
            funnel: Default::default(),
            sent: 0,
            rates: Default::default(),
        });
        bdr.campaigns += 1;
        bdr.sent += sent;
        let f = &mut bdr.funnel;
        f.enrolled += funnel.enrolled;
        f.messaged += funnel.messaged;
        f.replied += funnel.replied;
        f.responded_pos += funnel.responded_pos;
        f.attended += funnel.attended;
        f.opted_out += funnel.opted_out;
        campaign_rows.push(CampaignRow {
            campaign_id: id,
            name,
            status,
            owner_name,
            funnel,
            sent,
            rates: funnel.rates(),
        });
    }
    let mut bdrs: Vec<BdrRow> = bdrs.into_values().map(|b| BdrRow { rates: b.funnel.rates(), ..b }).collect();
    bdrs.sort_by(|a, b| b.funnel.responded_pos.cmp(&a.funnel.responded_pos).then(b.funnel.replied.cmp(&a.funnel.replied)).then(a.name.cmp(&b.name)));
    Ok(Analytics { from: r.from, to: r.to, time_zone: r.time_zone, campaigns: campaign_rows, bdrs, channels: channels(&all, q) })
}

/// `GET /api/dashboard`.
pub async fn dashboard(state: &AppState, user: &AuthUser) -> Result<Dashboard, AppError> {
    let db = &state.read_pool;
    let last_30_days = StatsQuery::default();
    let (stats, waiting, upcoming, activity) = tokio::try_join!(
        stats(state, user, &last_30_days),
        inbox::counts(db, user),
        upcoming(db, user, state.clock.now()),
        activity(db, user)
    )?;
    Ok(Dashboard { stats, replies_waiting: waiting.needs_reply, upcoming, activity })
}

/// The next events of the user's running campaigns, with their enrollments and RSVPs so far.
async fn upcoming(db: &PgPool, user: &AuthUser, now: DateTime<Utc>) -> Result<Vec<UpcomingEvent>, AppError> {
    Ok(sqlx::query_as!(
        UpcomingEvent,
        r#"WITH k AS (SELECT id, name, event_start, event_time_zone FROM campaigns
                      WHERE ($1 OR owner_id = $2) AND event_start > $3 AND status IN ('scheduled', 'active', 'paused')
                      ORDER BY event_start, id LIMIT 5)
           SELECT k.id AS campaign_id, k.name, k.event_start, k.event_time_zone,
                  coalesce(sum(x.n) FILTER (WHERE x.metric = 'enrolled'), 0)::bigint AS "enrolled!",
                  coalesce(sum(x.n) FILTER (WHERE x.metric = 'rsvp'), 0)::bigint AS "responded_pos!"
           FROM k LEFT JOIN (
               SELECT d.campaign_id, d.metric, d.n FROM stat_days d WHERE d.metric IN ('enrolled', 'rsvp') AND d.campaign_id IN (SELECT id FROM k)
               UNION ALL
               SELECT s.campaign_id, s.metric, s.n FROM stat_deltas s WHERE s.metric IN ('enrolled', 'rsvp') AND s.campaign_id IN (SELECT id FROM k)
           ) x ON x.campaign_id = k.id
           GROUP BY k.id, k.name, k.event_start, k.event_time_zone
           ORDER BY k.event_start, k.id"#,
        user.is_admin(),
        user.id,
        now
    )
    .fetch_all(db)
    .await?)
}

/// The last messages sent or received that the user may see.
async fn activity(db: &PgPool, user: &AuthUser) -> Result<Vec<Activity>, AppError> {
    Ok(sqlx::query_as!(
        Activity,
        r#"SELECT m.created_at AS at, m.direction AS "direction: Direction", m.channel AS "channel: Channel", m.conversation_id,
                  coalesce(nullif(c.name, ''), v.address) AS "contact_name!", k.name AS "campaign_name?",
                  left(coalesce(nullif(m.subject, ''), m.body), 140) AS "preview!"
           FROM messages m
           JOIN conversations v ON v.id = m.conversation_id
           LEFT JOIN contacts c ON c.id = v.contact_id
           LEFT JOIN campaigns k ON k.id = m.campaign_id
           WHERE (m.direction = 'in' OR m.send_state = 'sent')
             AND message_visible($1, $2, v.assigned_to, v.contact_id, m.campaign_id)
           ORDER BY m.created_at DESC, m.id DESC
           LIMIT 10"#,
        user.id,
        user.is_admin()
    )
    .fetch_all(db)
    .await?)
}

/// The analytics tables as CSV, each text cell defused for spreadsheets.
pub async fn export(state: &AppState, user: &AuthUser, table: ExportTable, q: &StatsQuery) -> Result<String, AppError> {
    let pct = |r: Option<f64>| r.map(|r| format!("{:.1}", r * 100.0)).unwrap_or_default();
    let mut out: Vec<Vec<String>> = Vec::new();
    match table {
        ExportTable::Campaigns | ExportTable::Bdrs | ExportTable::Channels => {
            let a = analytics(state, user, q).await?;
            match table {
                ExportTable::Campaigns => {
                    out.push(["Campaign", "Owner", "Status", "Enrolled", "Messaged", "Replied", "RSVP", "Attended", "Opted out", "Sent", "Reply %", "RSVP %", "Attendance %", "Opt-out %"].map(String::from).to_vec());
                    for c in a.campaigns {
                        let f = c.funnel;
                        out.push(vec![c.name, c.owner_name, c.status.as_str().into(), f.enrolled.to_string(), f.messaged.to_string(), f.replied.to_string(), f.responded_pos.to_string(), f.attended.to_string(), f.opted_out.to_string(), c.sent.to_string(), pct(c.rates.reply), pct(c.rates.rsvp), pct(c.rates.attendance), pct(c.rates.opt_out)]);
                    }
                }
                ExportTable::Bdrs => {
                    out.push(["BDR", "Campaigns", "Enrolled", "Messaged", "Replied", "RSVP", "Attended", "Opted out", "Sent", "Reply %", "RSVP %", "Attendance %"].map(String::from).to_vec());
                    for b in a.bdrs {
                        let f = b.funnel;
                        out.push(vec![b.name, b.campaigns.to_string(), f.enrolled.to_string(), f.messaged.to_string(), f.replied.to_string(), f.responded_pos.to_string(), f.attended.to_string(), f.opted_out.to_string(), b.sent.to_string(), pct(b.rates.reply), pct(b.rates.rsvp), pct(b.rates.attendance)]);
                    }
                }
                _ => channel_rows(&mut out, &a.channels),
            }
        }
        ExportTable::Nodes => {
            let id = q.campaign_id.ok_or_else(|| AppError::unprocessable("Choose a campaign"))?;
            let c = campaign(state, user, id, q).await?;
            out.push(["Step", "Type", "Reached", "Sent", "Delivered", "Failed", "Replied", "RSVP"].map(String::from).to_vec());
            for n in c.nodes {
                out.push(vec![n.name, n.node_type, n.reached.to_string(), n.sent.to_string(), n.delivered.to_string(), n.failed.to_string(), n.replied.to_string(), n.rsvp.to_string()]);
            }
        }
        ExportTable::Days => {
            let s = stats(state, user, q).await?;
            out.push(["Day", "Outbound", "Inbound"].map(String::from).to_vec());
            for d in s.messages_by_day {
                out.push(vec![d.day.to_string(), d.outbound.to_string(), d.inbound.to_string()]);
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in out {
        w.write_record(row.iter().map(|c| csv_safe(c))).map_err(|_| AppError::internal())?;
    }
    String::from_utf8(w.into_inner().map_err(|_| AppError::internal())?).map_err(|_| AppError::internal())
}

fn channel_rows(out: &mut Vec<Vec<String>>, channels: &[crate::domain::stats::ChannelStats]) {
    out.push(["Channel", "Reached", "Sent", "Delivered", "Failed", "Bounced", "Received", "Replies", "Bounce %"].map(String::from).to_vec());
    for c in channels {
        let bounce = c.bounce_rate.map(|r| format!("{:.1}", r * 100.0)).unwrap_or_default();
        out.push(vec![c.channel.as_str().into(), c.reached.to_string(), c.sent.to_string(), c.delivered.to_string(), c.failed.to_string(), c.bounced.to_string(), c.received.to_string(), c.replies.to_string(), bounce]);
    }
}

/// Folds up to `COMPACT_BATCH` deltas into the buckets and day totals, re-folding first if
/// the organisation's zone changed. Returns how many deltas it folded.
pub async fn compact(pool: &PgPool) -> Result<u64, AppError> {
    let mut tx = pool.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock($1, 0)", STAT_LOCK).execute(&mut *tx).await?;
    refold_if_zone_changed(&mut tx).await?;
    let moved = sqlx::query_scalar!(
        r#"WITH moved AS (
               DELETE FROM stat_deltas WHERE id IN (SELECT id FROM stat_deltas ORDER BY id LIMIT $1)
               RETURNING bucket, campaign_id, node_key, channel, user_id, metric, n),
           g AS (SELECT bucket, campaign_id, node_key, channel, user_id, metric, sum(n)::bigint AS n FROM moved GROUP BY 1, 2, 3, 4, 5, 6),
           z AS (SELECT time_zone AS tz FROM stat_fold),
           b AS (INSERT INTO stat_buckets AS t (campaign_id, bucket, metric, node_key, channel, user_id, n)
                 SELECT campaign_id, bucket, metric, node_key, channel, user_id, n FROM g
                 ON CONFLICT (campaign_id, bucket, metric, node_key, channel, user_id) DO UPDATE SET n = t.n + EXCLUDED.n),
           nd AS (INSERT INTO stat_node_days AS t (campaign_id, day, metric, node_key, channel, user_id, n)
                  SELECT campaign_id, (bucket AT TIME ZONE z.tz)::date, metric, node_key, channel, user_id, sum(n) FROM g, z GROUP BY 1, 2, 3, 4, 5, 6
                  ON CONFLICT (campaign_id, day, metric, node_key, channel, user_id) DO UPDATE SET n = t.n + EXCLUDED.n),
           d AS (INSERT INTO stat_days AS t (day, campaign_id, metric, channel, n)
                 SELECT (bucket AT TIME ZONE z.tz)::date, campaign_id, metric, channel, sum(n) FROM g, z GROUP BY 1, 2, 3, 4
                 ON CONFLICT (campaign_id, day, metric, channel) DO UPDATE SET n = t.n + EXCLUDED.n),
           o AS (INSERT INTO stat_org_days AS t (day, metric, channel, n)
                 SELECT (bucket AT TIME ZONE z.tz)::date, metric, channel, sum(n) FROM g, z GROUP BY 1, 2, 3
                 ON CONFLICT (day, metric, channel) DO UPDATE SET n = t.n + EXCLUDED.n)
           SELECT count(*) AS "n!" FROM moved"#,
        COMPACT_BATCH
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(moved as u64)
}

/// Day totals are kept in one zone; after the organisation moves to another they are
/// folded again from the zone-free buckets (no recount of the raw tables).
async fn refold_if_zone_changed(tx: &mut PgConnection) -> Result<(), AppError> {
    let zone = sqlx::query_scalar!(
        r#"SELECT o.time_zone AS "zone!" FROM org_settings o, stat_fold f WHERE o.time_zone <> f.time_zone"#
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(zone) = zone {
        tracing::info!(%zone, "organisation time zone changed; folding day totals again");
        refold(tx, &zone).await?;
    }
    Ok(())
}

async fn refold(tx: &mut PgConnection, zone: &str) -> Result<(), AppError> {
    sqlx::query!("DELETE FROM stat_days").execute(&mut *tx).await?;
    sqlx::query!("DELETE FROM stat_node_days").execute(&mut *tx).await?;
    sqlx::query!("DELETE FROM stat_org_days").execute(&mut *tx).await?;
    sqlx::query!("UPDATE stat_fold SET time_zone = $1", zone).execute(&mut *tx).await?;
    sqlx::query!(
        "INSERT INTO stat_node_days (campaign_id, day, metric, node_key, channel, user_id, n)
         SELECT campaign_id, (bucket AT TIME ZONE $1)::date, metric, node_key, channel, user_id, sum(n)
         FROM stat_buckets GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0",
        zone
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO stat_days (day, campaign_id, metric, channel, n)
         SELECT day, campaign_id, metric, channel, sum(n) FROM stat_node_days GROUP BY 1, 2, 3, 4"
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO stat_org_days (day, metric, channel, n) SELECT day, metric, channel, sum(n) FROM stat_days GROUP BY 1, 2, 3"
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Folds the organisation's new zone in at once (called after the zone is saved).
pub async fn zone_changed(pool: &PgPool) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock($1, 0)", STAT_LOCK).execute(&mut *tx).await?;
    refold_if_zone_changed(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// What `turnout rebuild-stats` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    /// Enrollments whose milestones (first sent, first reply) the raw messages corrected.
    pub milestones_fixed: i64,
    pub buckets: i64,
}

/// Recomputes the enrollments' milestones from their messages and every statistic from
/// the raw tables, in one snapshot: changes committed meanwhile stay as deltas on top.
pub async fn rebuild(pool: &PgPool) -> Result<RebuildReport, AppError> {
    let mut tx = pool.begin().await?;
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
    sqlx::query!("SELECT pg_advisory_xact_lock($1, 0)", STAT_LOCK).execute(&mut *tx).await?;
    let milestones_fixed = sqlx::query!(
        "WITH firsts AS (
             SELECT e.id,
                    (SELECT min(coalesce(m.sent_at, m.created_at)) FROM messages m JOIN conversations v ON v.id = m.conversation_id
                     WHERE m.campaign_id = e.campaign_id AND v.contact_id = e.contact_id AND m.direction = 'out' AND m.send_state = 'sent') AS messaged_at,
                    r.created_at AS replied_at, r.node_key AS replied_node
             FROM enrollments e
             LEFT JOIN LATERAL (
                 SELECT m.created_at, m.node_key FROM messages m JOIN conversations v ON v.id = m.conversation_id
                 WHERE m.campaign_id = e.campaign_id AND v.contact_id = e.contact_id AND m.direction = 'in' AND m.auto_kind IS NULL
                 ORDER BY m.created_at, m.id LIMIT 1) r ON true)
         UPDATE enrollments e SET messaged_at = f.messaged_at, replied_at = f.replied_at, replied_node = f.replied_node
         FROM firsts f
         WHERE f.id = e.id AND (e.messaged_at, e.replied_at, e.replied_node) IS DISTINCT FROM (f.messaged_at, f.replied_at, f.replied_node)"
    )
    .execute(&mut *tx)
    .await?
    .rows_affected() as i64;
    // The corrections above wrote deltas too; the recount supersedes all of them.
    sqlx::query!("DELETE FROM stat_deltas").execute(&mut *tx).await?;
    sqlx::query!("DELETE FROM stat_buckets").execute(&mut *tx).await?;
    let buckets = sqlx::query!(
        "INSERT INTO stat_buckets (campaign_id, bucket, metric, node_key, channel, user_id, n)
         SELECT f.campaign_id, stat_bucket(f.at), f.metric, f.node_key, f.channel, f.user_id, count(*)
         FROM (SELECT s.* FROM enrollments e, LATERAL stat_enrollment_facts(e) s
               UNION ALL
               SELECT s.* FROM messages m, LATERAL stat_message_facts(m) s) f
         GROUP BY 1, 2, 3, 4, 5, 6"
    )
    .execute(&mut *tx)
    .await?
    .rows_affected() as i64;
    let zone = sqlx::query_scalar!("SELECT time_zone FROM org_settings").fetch_optional(&mut *tx).await?;
    let zone = match zone {
        Some(z) => z,
        None => sqlx::query_scalar!("SELECT time_zone FROM stat_fold").fetch_one(&mut *tx).await?,
    };
    refold(&mut tx, &zone).await?;
    tx.commit().await?;
    Ok(RebuildReport { milestones_fixed, buckets })
}

/// Folds new deltas every `stats_compact_interval_ms` (a backlog at once) until shutdown.
pub async fn worker(state: AppState) {
    let every = Duration::from_millis(state.settings.stats_compact_interval_ms.max(100));
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        loop {
            match compact(&state.pool).await {
                Ok(n) if n as i64 >= COMPACT_BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "folding statistics failed; trying again later");
                    break;
                }
            }
        }
    }
}
