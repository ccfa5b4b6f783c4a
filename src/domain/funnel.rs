//! The funnel graph: the one parsed form of a funnel, used by the builder in the browser,
//! the server and the sending engine. A `GraphDraft` is what an editor holds (it may be
//! invalid); `FunnelGraph::parse` turns it into a graph the engine can run, or says what is
//! wrong, naming the node.
use crate::domain::campaign::{Channel, EnrollmentStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

string_enum! {
    /// What a step does. Adding one touches this file, one engine arm and one builder panel.
    NodeKind {
        Stage => "stage", SmsSend => "sms_send", EmailSend => "email_send",
        VoicemailDrop => "voicemail_drop", Wait => "wait", Branch => "branch",
    }
}

impl NodeKind {
    pub fn label(self) -> &'static str {
        match self {
            NodeKind::Stage => "Stage",
            NodeKind::SmsSend => "Send SMS",
            NodeKind::EmailSend => "Send email",
            NodeKind::VoicemailDrop => "Voicemail drop",
            NodeKind::Wait => "Wait",
            NodeKind::Branch => "Branch",
        }
    }

    /// The config a new node of this kind starts with: valid where a default makes sense.
    pub fn default_config(self) -> serde_json::Value {
        match self {
            NodeKind::Stage => serde_json::json!({ "stage_key": "" }),
            NodeKind::SmsSend | NodeKind::VoicemailDrop => serde_json::json!({ "body": "" }),
            NodeKind::EmailSend => serde_json::json!({ "subject": "", "body": "" }),
            NodeKind::Wait => serde_json::json!({ "mode": "duration", "minutes": 1440 }),
            NodeKind::Branch => serde_json::json!({ "rule": "replied", "within_hours": 48 }),
        }
    }
}

/// A node as stored and edited. `kind` stays text so a stored graph with an unknown type
/// can still be loaded, shown and fixed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NodeDraft {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub config: serde_json::Value,
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EdgeDraft {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GraphDraft {
    pub nodes: Vec<NodeDraft>,
    pub edges: Vec<EdgeDraft>,
}

impl GraphDraft {
    /// The canonical form exports and comparisons use: nodes by key, edges by (from, to),
    /// and a `null` condition the same as none.
    pub fn sorted(mut self) -> Self {
        for e in &mut self.edges {
            if e.condition.as_ref().is_some_and(|c| c.is_null()) {
                e.condition = None;
            }
        }
        self.nodes.sort_by(|a, b| a.key.cmp(&b.key));
        self.edges
            .sort_by(|a, b| (&a.from, &a.to, cond_key(&a.condition)).cmp(&(&b.from, &b.to, cond_key(&b.condition))));
        self
    }

    /// A key not used yet, `N1`, `N2`, ...
    pub fn next_key(&self) -> String {
        let used: BTreeSet<&str> = self.nodes.iter().map(|n| n.key.as_str()).collect();
        (1..).map(|i| format!("N{i}")).find(|k| !used.contains(k.as_str())).unwrap_or_default()
    }
}

fn cond_key(c: &Option<serde_json::Value>) -> String {
    c.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

/// Message content a send step uses: a reusable content template, or its own text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Template { content_id: Uuid },
    Inline {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        body: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum WaitSpec {
    /// A fixed pause.
    Duration { minutes: u32 },
    /// Until `days_before` days before the event, at `at` (HH:MM) in the contact's time zone.
    BeforeEvent { days_before: u32, at: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum BranchRule {
    /// Yes when the contact replied within the window after reaching the branch.
    Replied { within_hours: u32 },
    /// Yes when the enrollment has this status.
    Status { status: EnrollmentStatus },
    /// Yes when an imported custom field has this value.
    FieldEquals { field: String, value: String },
}

string_enum! {
    /// What a send step does when the provider refuses it for good: move the contact on to
    /// the next step, or stop their funnel.
    OnFailure { Continue => "continue", Stop => "stop" }
}

string_enum! {
    /// Which way out of a branch an edge is.
    Outcome { Yes => "yes", No => "no" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeCondition {
    pub outcome: Outcome,
}

/// A step with its parsed config.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Stage { stage_key: String },
    Sms(Content),
    Email(Content),
    /// A script spoken in a voice (`None`: the organisation's default voice).
    Voicemail { content: Content, voice_id: Option<String> },
    Wait(WaitSpec),
    Branch(BranchRule),
}

impl Step {
    /// The channel a send step goes out on; `None` for steps that send nothing.
    pub fn channel(&self) -> Option<Channel> {
        match self {
            Step::Sms(_) => Some(Channel::Sms),
            Step::Email(_) => Some(Channel::Email),
            Step::Voicemail { .. } => Some(Channel::Voicemail),
            Step::Stage { .. } | Step::Wait(_) | Step::Branch(_) => None,
        }
    }

    pub fn kind(&self) -> NodeKind {
        match self {
            Step::Stage { .. } => NodeKind::Stage,
            Step::Sms(_) => NodeKind::SmsSend,
            Step::Email(_) => NodeKind::EmailSend,
            Step::Voicemail { .. } => NodeKind::VoicemailDrop,
            Step::Wait(_) => NodeKind::Wait,
            Step::Branch(_) => NodeKind::Branch,
        }
    }

    fn parse(kind: NodeKind, config: &serde_json::Value) -> Result<Step, String> {
        let read = |what: &str| format!("{what} config is malformed");
        match kind {
            NodeKind::Stage => {
                let key = config.get("stage_key").and_then(|v| v.as_str()).unwrap_or("").trim();
                if key.is_empty() {
                    return Err("a stage needs a stage key".into());
                }
                Ok(Step::Stage { stage_key: key.to_string() })
            }
            NodeKind::SmsSend | NodeKind::VoicemailDrop | NodeKind::EmailSend => {
                let content: Content =
                    serde_json::from_value(config.clone()).map_err(|_| "a send needs content".to_string())?;
                if let Content::Inline { body, subject } = &content {
                    if body.trim().is_empty() {
                        return Err("a send needs content".into());
                    }
                    if kind == NodeKind::EmailSend && subject.as_deref().is_none_or(|s| s.trim().is_empty()) {
                        return Err("an email needs a subject".into());
                    }
                }
                Ok(match kind {
                    NodeKind::SmsSend => Step::Sms(content),
                    NodeKind::EmailSend => Step::Email(content),
                    _ => {
                        let voice_id = config.get("voice_id").and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
                        Step::Voicemail { content, voice_id: voice_id.map(String::from) }
                    }
                })
            }
            NodeKind::Wait => {
                let spec: WaitSpec =
                    serde_json::from_value(config.clone()).map_err(|_| "a wait needs a duration".to_string())?;
                match &spec {
                    WaitSpec::Duration { minutes: 0 } => return Err("a wait needs a duration".into()),
                    WaitSpec::BeforeEvent { at, .. } if parse_hhmm(at).is_none() => {
                        return Err(format!("wait time '{at}' is not HH:MM"));
                    }
                    _ => {}
                }
                Ok(Step::Wait(spec))
            }
            NodeKind::Branch => {
                let rule: BranchRule = serde_json::from_value(config.clone()).map_err(|_| read("branch"))?;
                match &rule {
                    BranchRule::Replied { within_hours: 0 } => return Err("a reply window needs hours".into()),
                    BranchRule::FieldEquals { field, .. } if field.trim().is_empty() => {
                        return Err("a field rule needs a field".into());
                    }
                    _ => {}
                }
                Ok(Step::Branch(rule))
            }
        }
    }
}

/// `HH:MM` on a 24-hour clock.
pub fn parse_hhmm(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (h < 24 && m < 60 && s.len() == 5).then_some((h, m))
}

/// What is wrong with a draft; `node` names the node when one is to blame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GraphIssue {
    pub node: Option<String>,
    pub message: String,
}

impl std::fmt::Display for GraphIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.node {
            Some(n) => write!(f, "{n}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunnelNode {
    pub key: String,
    pub name: String,
    pub step: Step,
    pub on_failure: OnFailure,
}

/// Where a step goes next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    End,
    Then(String),
    Branch { yes: String, no: String },
}

/// A funnel that passed every check: one entry, every node reachable, every cycle paused by
/// a wait, every branch with both ways out.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelGraph {
    entry: String,
    nodes: BTreeMap<String, FunnelNode>,
    next: BTreeMap<String, Next>,
}

impl FunnelGraph {
    pub fn parse(draft: &GraphDraft) -> Result<FunnelGraph, Vec<GraphIssue>> {
        let mut issues = Vec::new();
        let at = |node: &str, message: String| GraphIssue { node: Some(node.to_string()), message };

        let mut nodes = BTreeMap::new();
        for n in &draft.nodes {
            if n.key.trim().is_empty() {
                issues.push(GraphIssue { node: None, message: format!("node '{}' has no key", n.name) });
                continue;
            }
            if nodes.contains_key(&n.key) {
                issues.push(at(&n.key, "two nodes have this key".into()));
                continue;
            }
            match NodeKind::parse(&n.kind) {
                None => issues.push(at(&n.key, format!("unknown node type '{}'", n.kind))),
                Some(kind) => match (Step::parse(kind, &n.config), on_failure(&n.config)) {
                    (Ok(step), Ok(on_failure)) => {
                        nodes.insert(n.key.clone(), FunnelNode { key: n.key.clone(), name: n.name.clone(), step, on_failure });
                    }
                    (Err(e), _) | (_, Err(e)) => issues.push(at(&n.key, e)),
                },
            }
        }
        let keys: BTreeSet<&str> = draft.nodes.iter().map(|n| n.key.as_str()).collect();

        // Outgoing edges per node, checked against the node's kind.
        let mut out: BTreeMap<&str, Vec<&EdgeDraft>> = BTreeMap::new();
        let mut incoming: BTreeSet<&str> = BTreeSet::new();
        for e in &draft.edges {
            let mut ok = true;
            for end in [&e.from, &e.to] {
                if !keys.contains(end.as_str()) {
                    issues.push(at(&e.from, format!("an edge goes to missing node '{end}'")));
                    ok = false;
                }
            }
            if ok {
                out.entry(e.from.as_str()).or_default().push(e);
                incoming.insert(e.to.as_str());
            }
        }
        let mut next = BTreeMap::new();
        for key in &keys {
            let edges = out.get(key).cloned().unwrap_or_default();
            let is_branch = nodes.get(*key).is_some_and(|n: &FunnelNode| n.step.kind() == NodeKind::Branch)
                || draft.nodes.iter().any(|n| n.key == *key && n.kind == NodeKind::Branch.as_str());
            if is_branch {
                let way = |o: Outcome| {
                    edges.iter().filter(|e| outcome_of(e) == Some(o)).map(|e| e.to.clone()).collect::<Vec<_>>()
                };
                match (way(Outcome::Yes).as_slice(), way(Outcome::No).as_slice()) {
                    ([yes], [no]) if edges.len() == 2 => {
                        next.insert(key.to_string(), Next::Branch { yes: yes.clone(), no: no.clone() });
                    }
                    _ => issues.push(at(key, "a branch needs exactly one 'yes' and one 'no' edge".into())),
                }
            } else {
                match edges.as_slice() {
                    [] => {
                        next.insert(key.to_string(), Next::End);
                    }
                    [e] if e.condition.is_none() => {
                        next.insert(key.to_string(), Next::Then(e.to.clone()));
                    }
                    [_] => issues.push(at(key, "only a branch's edges can have a condition".into())),
                    _ => issues.push(at(key, "has more than one next step; use a branch".into())),
                }
            }
        }

        let entries: Vec<&str> = keys.iter().copied().filter(|k| !incoming.contains(k)).collect();
        let entry = match entries.as_slice() {
            [one] => Some(one.to_string()),
            [] if keys.is_empty() => {
                issues.push(GraphIssue { node: None, message: "the funnel has no steps".into() });
                None
            }
            [] => {
                issues.push(GraphIssue { node: None, message: "the funnel has no entry node (every node has an edge into it)".into() });
                None
            }
            many => {
                for k in &many[1..] {
                    issues.push(at(k, format!("a second entry node (besides {}); connect it or remove it", many[0])));
                }
                None
            }
        };

        let succ = |k: &str| -> Vec<&str> { out.get(k).map(|es| es.iter().map(|e| e.to.as_str()).collect()).unwrap_or_default() };
        if let Some(entry) = &entry {
            let mut seen = BTreeSet::new();
            let mut stack = vec![entry.as_str()];
            while let Some(k) = stack.pop() {
                if seen.insert(k) {
                    stack.extend(succ(k));
                }
            }
            for k in keys.iter().filter(|k| !seen.contains(*k)) {
                issues.push(at(k, "cannot be reached from the entry node".into()));
            }
        }
        // A cycle must pass through a wait, or an enrollment would spin without pause:
        // look for a cycle among the non-wait nodes only.
        let is_wait = |k: &str| draft.nodes.iter().any(|n| n.key == k && n.kind == NodeKind::Wait.as_str());
        if let Some(k) = find_cycle(&keys, |k| succ(k).into_iter().filter(|s| !is_wait(s)).collect(), &is_wait) {
            issues.push(at(k, "is on a cycle without a wait".into()));
        }

        match entry {
            Some(entry) if issues.is_empty() => Ok(FunnelGraph { entry, nodes, next }),
            _ => Err(issues),
        }
    }

    pub fn entry(&self) -> &FunnelNode {
        &self.nodes[&self.entry]
    }

    pub fn node(&self, key: &str) -> Option<&FunnelNode> {
        self.nodes.get(key)
    }

    pub fn next(&self, key: &str) -> Option<&Next> {
        self.next.get(key)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &FunnelNode> {
        self.nodes.values()
    }
}

fn on_failure(config: &serde_json::Value) -> Result<OnFailure, String> {
    match config.get("on_failure").and_then(|v| v.as_str()) {
        None => Ok(OnFailure::Continue),
        Some(s) => OnFailure::parse(s).ok_or_else(|| format!("on_failure '{s}' is neither 'continue' nor 'stop'")),
    }
}

fn outcome_of(e: &EdgeDraft) -> Option<Outcome> {
    e.condition.as_ref().and_then(|c| serde_json::from_value::<EdgeCondition>(c.clone()).ok()).map(|c| c.outcome)
}

/// A node on a cycle of the graph restricted to non-wait nodes, if any (iterative DFS).
fn find_cycle<'a>(
    keys: &BTreeSet<&'a str>,
    succ: impl Fn(&str) -> Vec<&'a str>,
    skip: &impl Fn(&str) -> bool,
) -> Option<&'a str> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark: BTreeMap<&str, Mark> = keys.iter().map(|k| (*k, Mark::New)).collect();
    for start in keys.iter().copied().filter(|k| !skip(k)) {
        if mark[start] != Mark::New {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, succ(start))];
        mark.insert(start, Mark::Open);
        while let Some((node, rest)) = stack.last_mut() {
            match rest.pop() {
                Some(s) => match mark.get(s).copied() {
                    Some(Mark::Open) => return Some(s),
                    Some(Mark::New) => {
                        mark.insert(s, Mark::Open);
                        let next = succ(s);
                        stack.push((s, next));
                    }
                    _ => {}
                },
                None => {
                    mark.insert(node, Mark::Done);
                    stack.pop();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(key: &str, kind: &str, config: serde_json::Value) -> NodeDraft {
        NodeDraft { key: key.into(), kind: kind.into(), name: key.into(), config, x: 0.0, y: 0.0 }
    }
    fn edge(from: &str, to: &str) -> EdgeDraft {
        EdgeDraft { from: from.into(), to: to.into(), condition: None }
    }
    fn out(from: &str, to: &str, outcome: &str) -> EdgeDraft {
        EdgeDraft { from: from.into(), to: to.into(), condition: Some(json!({ "outcome": outcome })) }
    }
    fn sms(key: &str) -> NodeDraft {
        node(key, "sms_send", json!({ "body": "Hi {{contact.first_name}}" }))
    }
    fn wait(key: &str) -> NodeDraft {
        node(key, "wait", json!({ "mode": "duration", "minutes": 60 }))
    }
    fn issues(d: GraphDraft) -> Vec<String> {
        FunnelGraph::parse(&d).unwrap_err().into_iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn a_valid_funnel_parses() {
        let d = GraphDraft {
            nodes: vec![
                node("N1", "stage", json!({ "stage_key": "invited" })),
                sms("N2"),
                wait("N3"),
                node("N4", "branch", json!({ "rule": "replied", "within_hours": 48 })),
                node("N5", "email_send", json!({ "subject": "Hi", "body": "Come" })),
                node("N6", "wait", json!({ "mode": "before_event", "days_before": 2, "at": "10:00" })),
            ],
            edges: vec![edge("N1", "N2"), edge("N2", "N3"), edge("N3", "N4"), out("N4", "N5", "no"), out("N4", "N6", "yes")],
        };
        let g = FunnelGraph::parse(&d).unwrap();
        assert_eq!(g.entry().key, "N1");
        assert_eq!(g.next("N4"), Some(&Next::Branch { yes: "N6".into(), no: "N5".into() }));
        assert_eq!(g.next("N5"), Some(&Next::End));
    }

    #[test]
    fn rejects_unknown_types_and_bad_config_naming_the_node() {
        let d = GraphDraft {
            nodes: vec![node("A", "fax_send", json!({})), node("B", "sms_send", json!({})), node("C", "wait", json!({})), node("D", "email_send", json!({"body": "x"}))],
            edges: vec![edge("A", "B"), edge("B", "C"), edge("C", "D")],
        };
        assert_eq!(
            issues(d),
            [
                "A: unknown node type 'fax_send'",
                "B: a send needs content",
                "C: a wait needs a duration",
                "D: an email needs a subject"
            ]
        );
    }

    #[test]
    fn rejects_edges_to_missing_nodes_and_extra_entries() {
        let d = GraphDraft { nodes: vec![sms("A"), sms("B")], edges: vec![edge("A", "Z")] };
        assert_eq!(issues(d), ["A: an edge goes to missing node 'Z'", "B: a second entry node (besides A); connect it or remove it"]);
    }

    #[test]
    fn rejects_unreachable_nodes_and_forks_outside_branches() {
        let d = GraphDraft { nodes: vec![sms("A"), sms("B"), wait("W")], edges: vec![edge("B", "W"), edge("W", "B")] };
        assert_eq!(issues(d), ["B: cannot be reached from the entry node", "W: cannot be reached from the entry node"]);
        let d = GraphDraft { nodes: vec![sms("A"), sms("B"), sms("C")], edges: vec![edge("A", "B"), edge("A", "C")] };
        assert_eq!(issues(d), ["A: has more than one next step; use a branch"]);
    }

    #[test]
    fn rejects_cycles_without_a_wait_but_allows_them_with_one() {
        let looping = GraphDraft { nodes: vec![sms("A"), sms("B"), sms("C")], edges: vec![edge("A", "B"), edge("B", "C"), edge("C", "B")] };
        assert_eq!(issues(looping), ["B: is on a cycle without a wait"]);
        let paused = GraphDraft {
            nodes: vec![sms("A"), node("B", "branch", json!({"rule": "replied", "within_hours": 24})), wait("W"), sms("D")],
            edges: vec![edge("A", "B"), out("B", "W", "no"), out("B", "D", "yes"), edge("W", "B")],
        };
        assert!(FunnelGraph::parse(&paused).is_ok());
    }

    #[test]
    fn rejects_a_branch_without_both_outcomes_and_conditions_elsewhere() {
        let d = GraphDraft {
            nodes: vec![node("A", "branch", json!({"rule": "status", "status": "Received RSVP"})), sms("B")],
            edges: vec![out("A", "B", "yes")],
        };
        assert_eq!(issues(d), ["A: a branch needs exactly one 'yes' and one 'no' edge"]);
        let d = GraphDraft { nodes: vec![sms("A"), sms("B")], edges: vec![out("A", "B", "yes")] };
        assert_eq!(issues(d), ["A: only a branch's edges can have a condition"]);
    }

    #[test]
    fn an_empty_or_all_cyclic_graph_has_no_entry() {
        assert_eq!(issues(GraphDraft::default()), ["the funnel has no steps"]);
        let d = GraphDraft { nodes: vec![wait("A"), sms("B")], edges: vec![edge("A", "B"), edge("B", "A")] };
        assert_eq!(issues(d), ["the funnel has no entry node (every node has an edge into it)"]);
    }
}
