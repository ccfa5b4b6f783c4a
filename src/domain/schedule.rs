//! Local time for the engine: send windows and event-relative times, in a contact's zone,
//! across clock changes. Needs the time-zone database, which only the server carries.
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// When a campaign may send: local hours on some days of the week, as minutes after
/// midnight (`end` may be 1440, the end of the day, so a window can be "all day").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendWindow {
    pub start: i16,
    pub end: i16,
    /// ISO weekdays, 1 = Monday.
    pub days: Vec<i16>,
}

impl Default for SendWindow {
    /// 09:00–20:00, Monday to Saturday.
    fn default() -> Self {
        Self { start: 9 * 60, end: 20 * 60, days: vec![1, 2, 3, 4, 5, 6] }
    }
}

/// `HH:MM` as minutes after midnight; `24:00` is the end of the day.
pub fn parse_minutes(s: &str) -> Option<i16> {
    if s.trim() == "24:00" {
        return Some(1440);
    }
    let (h, m) = crate::domain::funnel::parse_hhmm(s.trim())?;
    i16::try_from(h * 60 + m).ok()
}

pub fn format_minutes(m: i16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

impl SendWindow {
    pub fn check(&self) -> Result<(), String> {
        if !(0..=1440).contains(&self.start) || !(0..=1440).contains(&self.end) || self.start >= self.end {
            return Err("the send window must start before it ends, within the day".into());
        }
        if self.days.is_empty() || self.days.iter().any(|d| !(1..=7).contains(d)) {
            return Err("the send window needs at least one weekday (1 = Monday … 7 = Sunday)".into());
        }
        Ok(())
    }

    /// `at` itself when the window is open then, else the moment it next opens.
    pub fn next_open(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let local = at.with_timezone(&tz);
        for d in 0..8 {
            let Some(date) = local.date_naive().checked_add_signed(Duration::days(d)) else { break };
            if !self.days.contains(&(date.weekday().number_from_monday() as i16)) {
                continue;
            }
            let open = local_minutes(tz, date, self.start);
            let close = local_minutes(tz, date, self.end);
            if at < open {
                return open;
            }
            if at < close {
                return at;
            }
        }
        // Unreachable with a checked window; sending late beats never sending.
        at
    }

    pub fn is_open(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        self.next_open(at, tz) == at
    }
}

/// Minutes after local midnight on `date` (1440: the next midnight) as an instant.
fn local_minutes(tz: Tz, date: NaiveDate, minutes: i16) -> DateTime<Utc> {
    let (date, minutes) = if minutes >= 1440 { (date + Duration::days(1), 0) } else { (date, minutes) };
    let time = NaiveTime::from_hms_opt(u32::try_from(minutes / 60).unwrap_or(0), u32::try_from(minutes % 60).unwrap_or(0), 0).unwrap_or_default();
    local_to_utc(tz, date, time)
}

/// A local date and time in `tz` as an instant. A time skipped by a clock change moves to
/// just after the change; a time that happens twice is its first occurrence.
pub fn local_to_utc(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut naive = date.and_time(time);
    for _ in 0..3 {
        if let Some(t) = tz.from_local_datetime(&naive).earliest() {
            return t.with_timezone(&Utc);
        }
        naive += Duration::minutes(30);
    }
    naive.and_utc()
}

/// `days_before` days before the event's local date, at `at`, both in `tz`.
pub fn before_event(event_start: DateTime<Utc>, tz: Tz, days_before: u32, at: NaiveTime) -> DateTime<Utc> {
    let date = event_start.with_timezone(&tz).date_naive() - Duration::days(i64::from(days_before));
    local_to_utc(tz, date, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    const NY: Tz = chrono_tz::America::New_York;

    #[test]
    fn an_open_window_sends_now_and_a_closed_one_waits_for_the_next_weekday_morning() {
        let w = SendWindow::default();
        // Tuesday 2027-03-02 15:00 in New York (20:00 UTC): open.
        assert_eq!(w.next_open(utc("2027-03-02T20:00:00Z"), NY), utc("2027-03-02T20:00:00Z"));
        // Tuesday 21:00 local: next is Wednesday 09:00 local (14:00 UTC).
        assert_eq!(w.next_open(utc("2027-03-03T02:00:00Z"), NY), utc("2027-03-03T14:00:00Z"));
        // Saturday 20:30 local: Sunday is closed, so Monday 09:00.
        assert_eq!(w.next_open(utc("2027-03-07T01:30:00Z"), NY), utc("2027-03-08T14:00:00Z"));
        assert!(!w.is_open(utc("2027-03-07T15:00:00Z"), NY), "Sunday");
        let always = SendWindow { start: 0, end: 1440, days: (1..=7).collect() };
        assert!(always.is_open(utc("2027-03-07T04:59:30Z"), NY), "one minute before midnight");
        assert_eq!((parse_minutes("24:00"), parse_minutes("09:30"), parse_minutes("9:30")), (Some(1440), Some(570), None));
    }

    #[test]
    fn the_window_follows_the_clock_change() {
        let w = SendWindow::default();
        // Saturday 2027-03-13, 21:00 EST → Monday 2027-03-15 09:00 EDT (13:00 UTC, not 14:00).
        assert_eq!(w.next_open(utc("2027-03-14T02:00:00Z"), NY), utc("2027-03-15T13:00:00Z"));
    }

    #[test]
    fn local_times_skipped_or_repeated_by_a_clock_change_resolve() {
        let d = NaiveDate::from_ymd_opt(2027, 3, 14).unwrap();
        // 02:30 does not exist on 2027-03-14 in New York: 03:00 EDT.
        assert_eq!(local_to_utc(NY, d, NaiveTime::from_hms_opt(2, 30, 0).unwrap()), utc("2027-03-14T07:00:00Z"));
        let d = NaiveDate::from_ymd_opt(2027, 11, 7).unwrap();
        // 01:30 happens twice on 2027-11-07: the first (EDT).
        assert_eq!(local_to_utc(NY, d, NaiveTime::from_hms_opt(1, 30, 0).unwrap()), utc("2027-11-07T05:30:00Z"));
    }

    #[test]
    fn before_event_is_local_to_the_zone_given() {
        let event = utc("2027-03-16T23:00:00Z"); // 19:00 EDT on the 16th; 08:00 on the 17th in Tokyo
        let ten = NaiveTime::from_hms_opt(10, 0, 0).unwrap();
        assert_eq!(before_event(event, NY, 2, ten), utc("2027-03-14T14:00:00Z"));
        assert_eq!(before_event(event, chrono_tz::Asia::Tokyo, 1, ten), utc("2027-03-16T01:00:00Z"));
    }
}
