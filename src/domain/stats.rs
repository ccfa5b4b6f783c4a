//! Statistics as the dashboard, the analytics pages and `/api/stats` show them. Every count
//! is exact over all data in scope; days are days in the organisation's time zone.
use crate::domain::campaign::{CampaignStatus, Channel, EnrollmentStatus};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What to count: a range of days (both ends included; the last 30 days when absent) and
/// optional filters. A BDR's numbers are always limited to their own campaigns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct StatsQuery {
    #[serde(default, deserialize_with = "blank_is_none")]
    pub from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub to: Option<NaiveDate>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub campaign_id: Option<Uuid>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub owner_id: Option<Uuid>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub channel: Option<Channel>,
}

/// A filter left blank in a form or link (`?campaign_id=`) is no filter.
fn blank_is_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => T::deserialize(serde::de::value::StringDeserializer::<D::Error>::new(s)).map(Some),
    }
}

/// The range a default or partial query stands for, given today in the organisation's zone.
pub fn resolve_range(q: &StatsQuery, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), String> {
    let to = q.to.unwrap_or(today);
    let from = q.from.unwrap_or(to - chrono::Days::new(29));
    if from > to {
        return Err("The range ends before it starts".into());
    }
    if (to - from).num_days() > 3660 {
        return Err("Choose a range of at most ten years".into());
    }
    Ok((from, to))
}

/// Enrollments through the funnel. Each counts once, on the day of its first qualifying
/// event, so these add up over any range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Funnel {
    pub enrolled: i64,
    /// With at least one outbound message sent.
    pub messaged: i64,
    /// With at least one reply that was not automatic.
    pub replied: i64,
    /// Now Received RSVP or Attended.
    pub responded_pos: i64,
    pub attended: i64,
    pub opted_out: i64,
}

/// Ratios in 0..=1; `None` when there is nothing to divide by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Rates {
    /// replied ÷ messaged
    pub reply: Option<f64>,
    /// respondedPos ÷ messaged
    pub rsvp: Option<f64>,
    /// attended ÷ respondedPos
    pub attendance: Option<f64>,
    /// optedOut ÷ messaged
    pub opt_out: Option<f64>,
}

pub fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Funnel {
    pub fn rates(&self) -> Rates {
        Rates {
            reply: ratio(self.replied, self.messaged),
            rsvp: ratio(self.responded_pos, self.messaged),
            attendance: ratio(self.attended, self.responded_pos),
            opt_out: ratio(self.opted_out, self.messaged),
        }
    }
}

/// Messages of one channel. `failed`: the provider refused; `bounced`: accepted, then
/// reported undeliverable (or a bounce mail came back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChannelStats {
    pub channel: Channel,
    pub reached: i64,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub bounced: i64,
    pub received: i64,
    pub replies: i64,
    /// bounced ÷ sent
    pub bounce_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DayCount {
    pub day: NaiveDate,
    /// Outbound messages sent that day.
    pub outbound: i64,
    /// Inbound messages received that day.
    pub inbound: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatusCount {
    pub status: EnrollmentStatus,
    pub count: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CampaignCounts {
    pub active: i64,
    pub total: i64,
}

/// `GET /api/stats`: the seed's `{enrolled, messaged, respondedPos, messagesByDay}` and more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub time_zone: String,
    #[serde(flatten)]
    pub funnel: Funnel,
    /// Every day of the range, zeros included.
    pub messages_by_day: Vec<DayCount>,
    pub campaigns: CampaignCounts,
    /// The statuses now of the enrollments made in the range (they add up to `enrolled`).
    pub by_status: Vec<StatusCount>,
    pub rates: Rates,
    pub channels: Vec<ChannelStats>,
}

/// One step of a campaign's funnel. `failed` counts refusals and bounces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    pub node_key: String,
    pub name: String,
    pub node_type: String,
    pub reached: i64,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    /// Enrollments whose first reply answered this step.
    pub replied: i64,
    /// Of those, the ones now Received RSVP or Attended.
    pub rsvp: i64,
}

/// What one user sent (and what came back to it) within a campaign or over all campaigns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SenderStats {
    pub user_id: Option<Uuid>,
    pub name: String,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
}

/// `GET /api/campaigns/{id}/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CampaignStats {
    pub campaign_id: Uuid,
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub time_zone: String,
    #[serde(flatten)]
    pub funnel: Funnel,
    pub rates: Rates,
    pub nodes: Vec<NodeStats>,
    pub channels: Vec<ChannelStats>,
    pub senders: Vec<SenderStats>,
}

/// A row of the campaign comparison table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CampaignRow {
    pub campaign_id: Uuid,
    pub name: String,
    pub status: CampaignStatus,
    pub owner_name: String,
    #[serde(flatten)]
    pub funnel: Funnel,
    pub sent: i64,
    pub rates: Rates,
}

/// A row of the BDR leaderboard: the campaigns a BDR owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BdrRow {
    pub user_id: Uuid,
    pub name: String,
    pub campaigns: i64,
    #[serde(flatten)]
    pub funnel: Funnel,
    pub sent: i64,
    pub rates: Rates,
}

/// `GET /api/analytics`: comparison, leaderboard and channels for one range and filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Analytics {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub time_zone: String,
    pub campaigns: Vec<CampaignRow>,
    pub bdrs: Vec<BdrRow>,
    pub channels: Vec<ChannelStats>,
}

string_enum! {
    /// The analytics tables that export as CSV.
    ExportTable { Campaigns => "campaigns", Bdrs => "bdrs", Channels => "channels", Nodes => "nodes", Days => "days" }
}

/// An event still to come, with how many of its enrollments said they will be there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpcomingEvent {
    pub campaign_id: Uuid,
    pub name: String,
    pub event_start: DateTime<Utc>,
    pub event_time_zone: String,
    pub enrolled: i64,
    /// Received RSVP or Attended, over all time.
    pub responded_pos: i64,
}

/// A message sent or received lately, as the activity list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub at: DateTime<Utc>,
    pub direction: crate::domain::campaign::Direction,
    pub channel: Channel,
    pub conversation_id: Uuid,
    pub contact_name: String,
    pub campaign_name: Option<String>,
    /// The first words of the message (its subject for email).
    pub preview: String,
}

/// `GET /api/dashboard`: the last 30 days' statistics and what needs attention now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub stats: Stats,
    /// Conversations whose last inbound message nobody has dealt with.
    pub replies_waiting: i64,
    pub upcoming: Vec<UpcomingEvent>,
    pub activity: Vec<Activity>,
}

/// Summed counts as the server reads them: metric name → count, per channel ('' for the
/// enrollment metrics). The names are those of the database's fact functions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(pub BTreeMap<(String, String), i64>);

impl Counts {
    pub fn add(&mut self, metric: &str, channel: &str, n: i64) {
        *self.0.entry((metric.to_string(), channel.to_string())).or_default() += n;
    }

    /// One metric summed over every channel.
    pub fn get(&self, metric: &str) -> i64 {
        self.0.iter().filter(|((m, _), _)| m == metric).map(|(_, n)| n).sum()
    }

    fn on(&self, metric: &str, channel: Channel) -> i64 {
        self.0.get(&(metric.to_string(), channel.as_str().to_string())).copied().unwrap_or(0)
    }

    pub fn funnel(&self) -> Funnel {
        Funnel {
            enrolled: self.get("enrolled"),
            messaged: self.get("messaged"),
            replied: self.get("replied"),
            responded_pos: self.get("rsvp"),
            attended: self.get("attended"),
            opted_out: self.get("opted_out"),
        }
    }

    /// Every channel, in a fixed order, those without any message included.
    pub fn channels(&self) -> Vec<ChannelStats> {
        Channel::ALL
            .iter()
            .map(|&channel| {
                let sent = self.on("sent", channel);
                let bounced = self.on("bounced", channel);
                ChannelStats {
                    channel,
                    reached: self.on("reached", channel),
                    sent,
                    delivered: self.on("delivered", channel),
                    failed: self.on("failed", channel),
                    bounced,
                    received: self.on("received", channel),
                    replies: self.on("replies", channel),
                    bounce_rate: ratio(bounced, sent),
                }
            })
            .collect()
    }

    /// Enrollments by their status now, every status listed.
    pub fn by_status(&self) -> Vec<StatusCount> {
        EnrollmentStatus::ALL
            .iter()
            .map(|&status| StatusCount { status, count: self.get(&format!("status:{}", status.as_str())) })
            .collect()
    }
}

/// Every day from `from` to `to`, with the counts of the days that have any.
pub fn days(from: NaiveDate, to: NaiveDate, counts: &BTreeMap<NaiveDate, (i64, i64)>) -> Vec<DayCount> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .map(|day| {
            let (outbound, inbound) = counts.get(&day).copied().unwrap_or_default();
            DayCount { day, outbound, inbound }
        })
        .collect()
}

/// A CSV cell a spreadsheet will not run: text starting with `=`, `+`, `-`, `@`, a tab or
/// a carriage return is prefixed with `'` (OWASP's advice). Numbers are written as they are.
pub fn csv_safe(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if cell.parse::<f64>().is_err() => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_divide_only_by_something() {
        let f = Funnel { enrolled: 10, messaged: 8, replied: 4, responded_pos: 2, attended: 1, opted_out: 1 };
        let r = f.rates();
        assert_eq!(r.reply, Some(0.5));
        assert_eq!(r.rsvp, Some(0.25));
        assert_eq!(r.attendance, Some(0.5));
        assert_eq!(r.opt_out, Some(0.125));
        assert_eq!(Funnel::default().rates(), Rates::default());
    }

    #[test]
    fn a_default_range_is_the_last_thirty_days() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        assert_eq!(resolve_range(&StatsQuery::default(), today), Ok((NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(), today)));
        let q = StatsQuery { from: Some(today), to: Some(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()), ..Default::default() };
        assert!(resolve_range(&q, today).is_err());
    }

    #[test]
    fn every_day_of_the_range_is_listed() {
        let from = NaiveDate::from_ymd_opt(2026, 2, 27).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let counts = BTreeMap::from([(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(), (3, 1))]);
        let d = days(from, to, &counts);
        assert_eq!(d.len(), 4);
        assert_eq!((d[2].outbound, d[2].inbound), (3, 1));
        assert_eq!(d[0].outbound, 0);
    }

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_safe("+1 555"), "'+1 555");
        assert_eq!(csv_safe("-3"), "-3");
        assert_eq!(csv_safe("Spring mixer"), "Spring mixer");
    }
}
