//! Throttles per sending identity (one SMS per second per from-number, a daily email cap
//! per sender), honoured across processes: each identity's row is locked in the transaction
//! that records the sends, so two workers never hand out the same slot.
use crate::domain::AppError;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// At most one per interval.
    Interval(Duration),
    /// At most this many per UTC day.
    Daily(i32),
}

/// For each identity, how many of the `wanted` may go now, and when the rest should try again.
pub async fn reserve(
    db: &mut PgConnection,
    wanted: &BTreeMap<String, (Limit, usize)>,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, (usize, Vec<DateTime<Utc>>)>, AppError> {
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let ids: Vec<String> = wanted.keys().cloned().collect();
    sqlx::query!("INSERT INTO send_throttles (identity) SELECT * FROM UNNEST($1::text[]) ON CONFLICT DO NOTHING", &ids)
        .execute(&mut *db)
        .await?;
    let rows = sqlx::query!(
        "SELECT identity, next_slot, day, day_count FROM send_throttles WHERE identity = ANY($1) ORDER BY identity FOR UPDATE",
        &ids
    )
    .fetch_all(&mut *db)
    .await?;
    let today = now.date_naive();
    let mut out = BTreeMap::new();
    let (mut upd_id, mut upd_slot, mut upd_day, mut upd_count) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        let Some((limit, n)) = wanted.get(&r.identity).copied() else { continue };
        let (allowed, later, slot, day, count) = match limit {
            Limit::Interval(every) => {
                let allowed = usize::from(r.next_slot <= now).min(n);
                let first = if allowed == 1 { now + every } else { r.next_slot };
                let later = (0..n - allowed).map(|i| first + every * i as i32).collect();
                (allowed, later, if allowed == 1 { now + every } else { r.next_slot }, r.day, r.day_count)
            }
            Limit::Daily(cap) => {
                let used = if r.day == Some(today) { r.day_count } else { 0 };
                let allowed = usize::try_from((cap - used).max(0)).unwrap_or(0).min(n);
                let tomorrow = (today + Duration::days(1)).and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now);
                let later = vec![tomorrow; n - allowed];
                (allowed, later, r.next_slot, Some(today), used + allowed as i32)
            }
        };
        upd_id.push(r.identity.clone());
        upd_slot.push(slot);
        upd_day.push(day);
        upd_count.push(count);
        out.insert(r.identity, (allowed, later));
    }
    sqlx::query!(
        "UPDATE send_throttles t SET next_slot = u.slot, day = u.day, day_count = u.count
         FROM UNNEST($1::text[], $2::timestamptz[], $3::date[], $4::int[]) AS u(identity, slot, day, count)
         WHERE t.identity = u.identity",
        &upd_id,
        &upd_slot,
        &upd_day as &[Option<chrono::NaiveDate>],
        &upd_count
    )
    .execute(&mut *db)
    .await?;
    Ok(out)
}
