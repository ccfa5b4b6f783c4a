//! How an enrollment moves through its funnel: from where it is, through stages, waits and
//! branches, to the next send, a pause, or the end. Pure, so the engine and the dry run
//! share it and tests can drive it across days and zones without a database.
use crate::domain::campaign::EnrollmentStatus;
use crate::domain::funnel::{BranchRule, FunnelGraph, Next, Step, WaitSpec, parse_hhmm};
use crate::domain::schedule::before_event;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;

/// What the walk needs to know about the contact and the campaign.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub status: EnrollmentStatus,
    pub custom: &'a serde_json::Value,
    /// The contact replied after the enrollment's last send (or since it started).
    pub replied: bool,
    /// The contact's zone, else the event's.
    pub tz: Tz,
    pub event_start: DateTime<Utc>,
}

/// Where a walk starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// Not started: the funnel's entry.
    Fresh,
    /// On this node since `entered_at` (a resumed wait, held send or reply window).
    At { node: String, entered_at: DateTime<Utc> },
    /// This send just ran: go on to what follows it.
    After(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// Run this send step now (the caller applies windows, throttles and compliance).
    Send(String),
    /// Come back to this node at `until`.
    Park { node: String, until: DateTime<Utc> },
    Finish,
}

/// A step passed on the way, for the contact's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Passed {
    pub node: String,
    pub kind: &'static str,
    pub detail: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Walked {
    pub stop: Stop,
    /// The last stage passed, if any.
    pub stage: Option<String>,
    pub passed: Vec<Passed>,
    /// When the previous step ran; duration waits count from it.
    pub base: DateTime<Utc>,
    /// When the enrollment reached the node it stops on.
    pub entered_at: DateTime<Utc>,
    /// How many nodes it entered: a send's idempotency key counts them.
    pub entered: i32,
}

/// Enough for any funnel that pauses on every cycle; more means a wait that never waits.
const MAX_STEPS: usize = 1000;

pub fn walk(graph: &FunnelGraph, start: Start, base: DateTime<Utc>, facts: &Facts, now: DateTime<Utc>) -> Result<Walked, String> {
    let mut w = Walked { stop: Stop::Finish, stage: None, passed: Vec::new(), base, entered_at: now, entered: 0 };
    let mut key = match start {
        Start::Fresh => {
            w.entered = 1;
            graph.entry().key.clone()
        }
        Start::At { node, entered_at } => {
            w.entered_at = entered_at;
            node
        }
        Start::After(node) => match follow(graph, &node, None)? {
            Some(next) => {
                w.entered = 1;
                next
            }
            None => return Ok(w),
        },
    };
    for _ in 0..MAX_STEPS {
        let node = graph.node(&key).ok_or_else(|| format!("the funnel has no step {key}"))?;
        let mut outcome = None;
        match &node.step {
            Step::Sms(_) | Step::Email(_) | Step::Voicemail { .. } => {
                w.stop = Stop::Send(key);
                return Ok(w);
            }
            Step::Stage { stage_key } => {
                w.stage = Some(stage_key.clone());
                w.passed.push(Passed { node: key.clone(), kind: "stage", detail: format!("Stage: {stage_key}"), at: now });
            }
            Step::Wait(spec) => {
                let until = match spec {
                    WaitSpec::Duration { minutes } => w.base + Duration::minutes(i64::from(*minutes)),
                    WaitSpec::BeforeEvent { days_before, at } => {
                        let (h, m) = parse_hhmm(at).ok_or_else(|| format!("{key}: wait time '{at}' is not HH:MM"))?;
                        let at = NaiveTime::from_hms_opt(h, m, 0).ok_or_else(|| format!("{key}: bad wait time"))?;
                        before_event(facts.event_start, facts.tz, *days_before, at)
                    }
                };
                w.base = w.base.max(until);
                let Some(next) = follow(graph, &key, None)? else { return Ok(w) };
                w.entered += 1;
                if until > now {
                    w.entered_at = until;
                    w.stop = Stop::Park { node: next, until };
                    return Ok(w);
                }
                w.passed.push(Passed { node: key.clone(), kind: "wait", detail: format!("Waited until {}", until.format("%Y-%m-%d %H:%M UTC")), at: now });
                w.entered_at = now;
                key = next;
                continue;
            }
            Step::Branch(rule) => {
                let yes = match rule {
                    BranchRule::Replied { within_hours } => {
                        let deadline = w.entered_at + Duration::hours(i64::from(*within_hours));
                        if facts.replied {
                            true
                        } else if now < deadline {
                            w.stop = Stop::Park { node: key, until: deadline };
                            return Ok(w);
                        } else {
                            false
                        }
                    }
                    BranchRule::Status { status } => facts.status == *status,
                    BranchRule::FieldEquals { field, value } => {
                        facts.custom.get(field).and_then(|v| v.as_str()).is_some_and(|v| v.trim() == value.trim())
                    }
                };
                w.passed.push(Passed { node: key.clone(), kind: "branch", detail: if yes { "Branch: yes".into() } else { "Branch: no".into() }, at: now });
                outcome = Some(yes);
            }
        }
        match follow(graph, &key, outcome)? {
            Some(next) => {
                w.entered += 1;
                w.entered_at = now;
                key = next;
            }
            None => return Ok(w),
        }
    }
    Err("the funnel loops without waiting".into())
}

/// The node after `key`, taking a branch's outcome; `None` at the end of the funnel.
fn follow(graph: &FunnelGraph, key: &str, outcome: Option<bool>) -> Result<Option<String>, String> {
    match (graph.next(key), outcome) {
        (Some(Next::End), _) => Ok(None),
        (Some(Next::Then(n)), _) => Ok(Some(n.clone())),
        (Some(Next::Branch { yes, .. }), Some(true)) => Ok(Some(yes.clone())),
        (Some(Next::Branch { no, .. }), Some(false)) => Ok(Some(no.clone())),
        (Some(Next::Branch { .. }), None) | (None, _) => Err(format!("the funnel has no way on from {key}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::funnel::{EdgeDraft, GraphDraft, NodeDraft};
    use serde_json::json;

    fn node(key: &str, kind: &str, config: serde_json::Value) -> NodeDraft {
        NodeDraft { key: key.into(), kind: kind.into(), name: key.into(), config, x: 0.0, y: 0.0 }
    }
    fn edge(from: &str, to: &str, outcome: Option<&str>) -> EdgeDraft {
        EdgeDraft { from: from.into(), to: to.into(), condition: outcome.map(|o| json!({ "outcome": o })) }
    }
    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    fn facts(custom: &serde_json::Value, replied: bool) -> Facts<'_> {
        Facts { status: EnrollmentStatus::NoActivity, custom, replied, tz: chrono_tz::America::New_York, event_start: utc("2027-03-20T23:00:00Z") }
    }

    /// Stage → SMS → wait 1 day → branch(replied 24 h) → yes: email / no: SMS.
    fn funnel() -> FunnelGraph {
        FunnelGraph::parse(&GraphDraft {
            nodes: vec![
                node("S", "stage", json!({ "stage_key": "invited" })),
                node("T", "sms_send", json!({ "body": "Hi" })),
                node("W", "wait", json!({ "mode": "duration", "minutes": 1440 })),
                node("B", "branch", json!({ "rule": "replied", "within_hours": 24 })),
                node("E", "email_send", json!({ "subject": "Thanks", "body": "See you" })),
                node("R", "sms_send", json!({ "body": "Reminder" })),
            ],
            edges: vec![edge("S", "T", None), edge("T", "W", None), edge("W", "B", None), edge("B", "E", Some("yes")), edge("B", "R", Some("no"))],
        })
        .unwrap()
    }

    #[test]
    fn a_fresh_enrollment_passes_its_stage_and_stops_at_the_first_send() {
        let now = utc("2027-03-01T15:00:00Z");
        let custom = json!({});
        let w = walk(&funnel(), Start::Fresh, now, &facts(&custom, false), now).unwrap();
        assert_eq!(w.stop, Stop::Send("T".into()));
        assert_eq!(w.stage.as_deref(), Some("invited"));
        assert_eq!(w.entered, 2);
        assert_eq!(w.passed.len(), 1);
    }

    #[test]
    fn after_a_send_the_wait_counts_from_when_it_ran_and_the_branch_waits_for_a_reply() {
        let g = funnel();
        let custom = json!({});
        let sent = utc("2027-03-01T15:00:00Z");
        let w = walk(&g, Start::After("T".into()), sent, &facts(&custom, false), sent).unwrap();
        let day = utc("2027-03-02T15:00:00Z");
        assert_eq!(w.stop, Stop::Park { node: "B".into(), until: day });
        assert_eq!((w.base, w.entered_at, w.entered), (day, day, 2));

        // Resumed a little late at the branch: no reply yet, so it waits out the window.
        let later = day + Duration::seconds(3);
        let w = walk(&g, Start::At { node: "B".into(), entered_at: day }, day, &facts(&custom, false), later).unwrap();
        assert_eq!(w.stop, Stop::Park { node: "B".into(), until: day + Duration::hours(24) });
        // A reply takes the yes way at once; the window's end without one takes no.
        let w = walk(&g, Start::At { node: "B".into(), entered_at: day }, day, &facts(&custom, true), later).unwrap();
        assert_eq!((w.stop, w.entered), (Stop::Send("E".into()), 1));
        let w = walk(&g, Start::At { node: "B".into(), entered_at: day }, day, &facts(&custom, false), day + Duration::hours(24)).unwrap();
        assert_eq!(w.stop, Stop::Send("R".into()));
    }

    #[test]
    fn a_send_at_the_end_finishes() {
        let custom = json!({});
        let now = utc("2027-03-05T15:00:00Z");
        let w = walk(&funnel(), Start::After("E".into()), now, &facts(&custom, false), now).unwrap();
        assert_eq!((w.stop, w.entered), (Stop::Finish, 0));
    }

    #[test]
    fn an_event_relative_wait_is_local_to_the_contact_and_passes_when_already_due() {
        let g = FunnelGraph::parse(&GraphDraft {
            nodes: vec![
                node("W", "wait", json!({ "mode": "before_event", "days_before": 1, "at": "10:00" })),
                node("T", "sms_send", json!({ "body": "Tomorrow!" })),
                node("F", "branch", json!({ "rule": "field_equals", "field": "tier", "value": "gold" })),
                node("G", "sms_send", json!({ "body": "Gold" })),
                node("H", "sms_send", json!({ "body": "Other" })),
            ],
            edges: vec![edge("W", "T", None), edge("T", "F", None), edge("F", "G", Some("yes")), edge("F", "H", Some("no"))],
        })
        .unwrap();
        let custom = json!({ "tier": "gold" });
        let mut f = facts(&custom, false);
        f.tz = chrono_tz::America::Los_Angeles;
        let now = utc("2027-03-01T15:00:00Z");
        // The event is 16:00 on the 20th in Los Angeles: the day before at 10:00 PDT.
        let w = walk(&g, Start::Fresh, now, &f, now).unwrap();
        assert_eq!(w.stop, Stop::Park { node: "T".into(), until: utc("2027-03-19T17:00:00Z") });
        // Enrolled after that moment: straight on to the send.
        let late = utc("2027-03-20T01:00:00Z");
        assert_eq!(walk(&g, Start::Fresh, late, &f, late).unwrap().stop, Stop::Send("T".into()));
        assert_eq!(walk(&g, Start::After("T".into()), late, &f, late).unwrap().stop, Stop::Send("G".into()));
    }
}
