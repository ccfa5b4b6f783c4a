//! The builder's pure parts: undo history, connecting rules, auto-layout and geometry.
//! No signals and no DOM here, so all of it is unit-tested.
use crate::domain::funnel::{EdgeDraft, GraphDraft, NodeKind};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, VecDeque};

pub const NODE_W: f64 = 180.0;
pub const NODE_H: f64 = 56.0;
pub const GAP_X: f64 = 40.0;
pub const GAP_Y: f64 = 64.0;
pub const MARGIN: f64 = 40.0;
pub const MIN_ZOOM: f64 = 0.2;
pub const MAX_ZOOM: f64 = 2.5;

/// Undo and redo over whole snapshots of the graph. `present` is the last committed state.
#[derive(Debug, Clone, Default)]
pub struct History {
    past: Vec<GraphDraft>,
    present: GraphDraft,
    future: Vec<GraphDraft>,
}

const HISTORY_LIMIT: usize = 200;

impl History {
    pub fn new(present: GraphDraft) -> Self {
        Self { past: Vec::new(), present, future: Vec::new() }
    }

    /// Records `next` as a new step; false (and nothing recorded) when nothing changed.
    pub fn commit(&mut self, next: GraphDraft) -> bool {
        if next == self.present {
            return false;
        }
        self.past.push(std::mem::replace(&mut self.present, next));
        if self.past.len() > HISTORY_LIMIT {
            self.past.remove(0);
        }
        self.future.clear();
        true
    }

    pub fn undo(&mut self) -> Option<GraphDraft> {
        let prev = self.past.pop()?;
        self.future.push(std::mem::replace(&mut self.present, prev));
        Some(self.present.clone())
    }

    pub fn redo(&mut self) -> Option<GraphDraft> {
        let next = self.future.pop()?;
        self.past.push(std::mem::replace(&mut self.present, next));
        Some(self.present.clone())
    }

    pub fn can_undo(&self) -> bool {
        !self.past.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.future.is_empty()
    }
}

/// The output ports of a node kind: the outcome an edge from it carries, and the port's x
/// offset on the node's bottom edge. A branch has "yes" on the left and "no" on the right.
pub fn out_ports(kind: &str) -> &'static [(Option<&'static str>, f64)] {
    if kind == NodeKind::Branch.as_str() {
        &[(Some("yes"), NODE_W * 0.3), (Some("no"), NODE_W * 0.7)]
    } else {
        &[(None, NODE_W / 2.0)]
    }
}

pub fn outcome_of(e: &EdgeDraft) -> Option<&str> {
    e.condition.as_ref().and_then(|c| c.get("outcome")).and_then(|o| o.as_str())
}

/// Where an edge leaves its node, in canvas coordinates.
pub fn port_point(kind: &str, outcome: Option<&str>, (x, y): (f64, f64)) -> (f64, f64) {
    let ports = out_ports(kind);
    let dx = ports.iter().find(|(o, _)| *o == outcome).unwrap_or(&ports[0]).1;
    (x + dx, y + NODE_H)
}

/// Where an edge enters its node.
pub fn in_point((x, y): (f64, f64)) -> (f64, f64) {
    (x + NODE_W / 2.0, y)
}

/// A smooth SVG path from a port down (or back up) to a node's top.
pub fn edge_path((x1, y1): (f64, f64), (x2, y2): (f64, f64)) -> String {
    let dy = ((y2 - y1).abs() / 2.0).max(40.0);
    format!("M{x1:.1} {y1:.1} C{x1:.1} {:.1} {x2:.1} {:.1} {x2:.1} {y2:.1}", y1 + dy, y2 - dy)
}

/// The topmost node whose box holds the point; later nodes are drawn above earlier ones.
pub fn node_at<'a>(nodes: impl DoubleEndedIterator<Item = (&'a str, (f64, f64))>, (px, py): (f64, f64)) -> Option<&'a str> {
    nodes.rev().find(|(_, (x, y))| px >= *x && px <= x + NODE_W && py >= *y && py <= y + NODE_H).map(|(k, _)| k)
}

/// The edges after dragging from `from`'s port (`outcome` for a branch) to `to`, or `None`
/// when the drop makes no edge (onto itself). A step has one next step and a branch one
/// edge per outcome, so a new edge replaces the one it would conflict with.
pub fn connect(edges: &[EdgeDraft], from: &str, outcome: Option<&str>, to: &str) -> Option<Vec<EdgeDraft>> {
    if from == to || edges.iter().any(|e| e.from == from && e.to == to && outcome_of(e) == outcome) {
        return None;
    }
    let mut next: Vec<EdgeDraft> = edges.iter().filter(|e| !(e.from == from && outcome_of(e) == outcome)).cloned().collect();
    next.push(EdgeDraft { from: from.into(), to: to.into(), condition: outcome.map(|o| json!({ "outcome": o })) });
    Some(next)
}

/// Layered top-to-bottom positions: each node one layer below the first node that reaches
/// it (breadth first from the entry nodes), layers centred, children in the order of their
/// parents ("yes" before "no"). Nodes no entry reaches start layers of their own.
pub fn auto_layout(draft: &GraphDraft) -> BTreeMap<String, (f64, f64)> {
    let mut succ: HashMap<&str, Vec<(&str, u8)>> = HashMap::new();
    let mut has_in: HashMap<&str, bool> = draft.nodes.iter().map(|n| (n.key.as_str(), false)).collect();
    for e in &draft.edges {
        if has_in.contains_key(e.to.as_str()) && has_in.contains_key(e.from.as_str()) {
            let rank = match outcome_of(e) {
                Some("yes") => 0,
                Some("no") => 2,
                _ => 1,
            };
            succ.entry(e.from.as_str()).or_default().push((e.to.as_str(), rank));
            has_in.insert(e.to.as_str(), true);
        }
    }
    for list in succ.values_mut() {
        list.sort_by_key(|(_, r)| *r);
    }
    let mut layer: HashMap<&str, usize> = HashMap::new();
    let mut layers: Vec<Vec<&str>> = Vec::new();
    let starts = draft.nodes.iter().filter(|n| !has_in[n.key.as_str()]).chain(draft.nodes.iter()).map(|n| n.key.as_str());
    for start in starts {
        if layer.contains_key(start) {
            continue;
        }
        let mut queue = VecDeque::from([(start, 0usize)]);
        layer.insert(start, 0);
        while let Some((k, l)) = queue.pop_front() {
            if layers.len() <= l {
                layers.resize(l + 1, Vec::new());
            }
            layers[l].push(k);
            for (s, _) in succ.get(k).map(|v| v.as_slice()).unwrap_or_default() {
                if !layer.contains_key(s) {
                    layer.insert(s, l + 1);
                    queue.push_back((s, l + 1));
                }
            }
        }
    }
    let widest = layers.iter().map(|l| l.len()).max().unwrap_or(0) as f64;
    let span = |n: f64| n * NODE_W + (n - 1.0).max(0.0) * GAP_X;
    let mut out = BTreeMap::new();
    for (l, keys) in layers.iter().enumerate() {
        let left = MARGIN + (span(widest) - span(keys.len() as f64)) / 2.0;
        for (i, k) in keys.iter().enumerate() {
            let x = left + i as f64 * (NODE_W + GAP_X);
            let y = MARGIN + l as f64 * (NODE_H + GAP_Y);
            out.insert(k.to_string(), (x.round(), y.round()));
        }
    }
    out
}

/// The smallest box holding every node: (min x, min y, max x, max y).
pub fn bounds(points: impl Iterator<Item = (f64, f64)>) -> Option<(f64, f64, f64, f64)> {
    points.fold(None, |b, (x, y)| {
        let (a, c, d, e) = b.unwrap_or((x, y, x + NODE_W, y + NODE_H));
        Some((a.min(x), c.min(y), d.max(x + NODE_W), e.max(y + NODE_H)))
    })
}

/// The pan and zoom that fit a box into a `w`×`h` viewport, never zooming in past 1.
pub fn fit((x0, y0, x1, y1): (f64, f64, f64, f64), w: f64, h: f64) -> (f64, f64, f64) {
    let k = ((w - 2.0 * MARGIN) / (x1 - x0)).min((h - 2.0 * MARGIN) / (y1 - y0)).clamp(MIN_ZOOM, 1.0);
    let tx = (w - (x1 - x0) * k) / 2.0 - x0 * k;
    let ty = MARGIN.min((h - (y1 - y0) * k) / 2.0) - y0 * k;
    (tx, ty, k)
}

/// Zooms by `factor` around the viewport point `(sx, sy)`, which stays where it is.
pub fn zoom_at((tx, ty, k): (f64, f64, f64), factor: f64, (sx, sy): (f64, f64)) -> (f64, f64, f64) {
    let k2 = (k * factor).clamp(MIN_ZOOM, MAX_ZOOM);
    let f = k2 / k;
    (sx - (sx - tx) * f, sy - (sy - ty) * f, k2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::funnel::NodeDraft;

    fn node(key: &str, kind: &str) -> NodeDraft {
        NodeDraft { key: key.into(), kind: kind.into(), name: key.into(), config: json!({}), x: 0.0, y: 0.0 }
    }
    fn edge(from: &str, to: &str, outcome: Option<&str>) -> EdgeDraft {
        EdgeDraft { from: from.into(), to: to.into(), condition: outcome.map(|o| json!({ "outcome": o })) }
    }
    fn graph(n: usize) -> GraphDraft {
        GraphDraft { nodes: (1..=n).map(|i| node(&format!("N{i}"), "sms_send")).collect(), edges: vec![] }
    }

    #[test]
    fn undo_and_redo_walk_the_commits_and_a_new_commit_drops_the_redo_steps() {
        let mut h = History::new(graph(0));
        assert!(!h.can_undo());
        assert!(h.commit(graph(1)));
        assert!(!h.commit(graph(1)), "an unchanged graph is not a step");
        assert!(h.commit(graph(2)));
        assert_eq!(h.undo(), Some(graph(1)));
        assert_eq!(h.undo(), Some(graph(0)));
        assert_eq!(h.undo(), None);
        assert_eq!(h.redo(), Some(graph(1)));
        assert!(h.can_redo());
        assert!(h.commit(graph(3)));
        assert!(!h.can_redo());
        assert_eq!(h.undo(), Some(graph(1)));
    }

    #[test]
    fn connecting_replaces_the_edge_a_port_already_had() {
        let edges = vec![edge("A", "B", None), edge("C", "A", Some("yes"))];
        assert_eq!(connect(&edges, "A", None, "A"), None, "no edge onto itself");
        assert_eq!(connect(&edges, "A", None, "B"), None, "the same edge again changes nothing");
        let next = connect(&edges, "A", None, "C").unwrap();
        assert_eq!(next, vec![edge("C", "A", Some("yes")), edge("A", "C", None)]);
        let next = connect(&next, "C", Some("no"), "B").unwrap();
        assert_eq!(next.len(), 3, "a branch keeps its yes edge when its no edge is drawn");
        let next = connect(&next, "C", Some("yes"), "B").unwrap();
        assert_eq!(next.iter().filter(|e| e.from == "C").count(), 2);
        assert!(next.contains(&edge("C", "B", Some("yes"))) && !next.contains(&edge("C", "A", Some("yes"))));
    }

    #[test]
    fn auto_layout_puts_each_step_a_layer_below_its_parent_yes_left_of_no() {
        let d = GraphDraft {
            nodes: vec![node("S", "stage"), node("B", "branch"), node("N", "sms_send"), node("Y", "sms_send"), node("W", "wait"), node("X", "sms_send")],
            edges: vec![edge("S", "B", None), edge("B", "N", Some("no")), edge("B", "Y", Some("yes")), edge("N", "W", None), edge("W", "B", None)],
        };
        let at = auto_layout(&d);
        assert_eq!(at.len(), 6);
        let (s, b, n, y, w) = (at["S"], at["B"], at["N"], at["Y"], at["W"]);
        assert_eq!(s.1, MARGIN);
        assert_eq!(b.1, s.1 + NODE_H + GAP_Y);
        assert_eq!((n.1, y.1), (b.1 + NODE_H + GAP_Y, b.1 + NODE_H + GAP_Y));
        assert!(y.0 < n.0, "yes is drawn left of no");
        assert_eq!(w.1, n.1 + NODE_H + GAP_Y, "the back edge to the branch does not move it");
        // X has no edges: an entry of its own, in the first layer beside S, no overlap.
        assert_eq!(at["X"].1, MARGIN);
        assert!((at["X"].0 - s.0).abs() >= NODE_W);
    }

    #[test]
    fn geometry_finds_ports_nodes_and_fits_the_view() {
        assert_eq!(port_point("branch", Some("no"), (10.0, 20.0)), (10.0 + NODE_W * 0.7, 20.0 + NODE_H));
        assert_eq!(port_point("wait", None, (0.0, 0.0)), (NODE_W / 2.0, NODE_H));
        let nodes = [("A", (0.0, 0.0)), ("B", (100.0, 20.0))];
        assert_eq!(node_at(nodes.iter().map(|(k, p)| (*k, *p)), (120.0, 30.0)), Some("B"), "the upper one wins");
        assert_eq!(node_at(nodes.iter().map(|(k, p)| (*k, *p)), (5.0, 5.0)), Some("A"));
        assert_eq!(node_at(nodes.iter().map(|(k, p)| (*k, *p)), (500.0, 5.0)), None);
        let b = bounds(nodes.iter().map(|(_, p)| *p)).unwrap();
        assert_eq!(b, (0.0, 0.0, 100.0 + NODE_W, 20.0 + NODE_H));
        let (tx, _, k) = fit(b, 1000.0, 600.0);
        assert_eq!(k, 1.0);
        assert_eq!(tx, (1000.0 - (100.0 + NODE_W)) / 2.0);
        let z = zoom_at((0.0, 0.0, 1.0), 2.0, (100.0, 100.0));
        assert_eq!(z, (-100.0, -100.0, 2.0), "the point under the cursor stays put");
        assert_eq!(zoom_at((0.0, 0.0, 1.0), 100.0, (0.0, 0.0)).2, MAX_ZOOM);
    }
}
