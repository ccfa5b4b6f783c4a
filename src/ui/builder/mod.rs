//! The visual funnel builder: an SVG canvas of a graph's nodes and edges (pan, zoom, drag,
//! connect by dragging from a port, delete, undo/redo, auto-layout), a palette of node
//! types, a side panel for the selected node's config and live validation from
//! `FunnelGraph::parse`.
//!
//! It takes a `GraphDraft` in (`BuilderState::new`) and hands changes out: `snapshot()` at
//! any time, and the `on_change` callback after each committed edit. Nothing here knows
//! about templates, so a campaign's own graph can use it too. Read-only mode (for BDRs)
//! keeps pan, zoom and selection and disables every edit.
//!
//! Speed: each node owns its own signals (name, config, position). Dragging a node writes
//! only its position signal, so one `<g transform>` and the paths of its own edges update
//! per pointer move; validation reads names and configs, never positions, so it does not
//! run during a drag.
mod canvas;
pub mod logic;
mod panel;

use crate::domain::funnel::{EdgeDraft, FunnelGraph, GraphDraft, GraphIssue, NodeDraft, NodeKind};
use leptos::prelude::*;
use logic::History;
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// One node on the canvas. `key` and `kind` never change for a node; the rest are signals.
#[derive(Clone, PartialEq)]
pub struct NodeState {
    pub key: String,
    pub kind: String,
    pub name: RwSignal<String>,
    pub config: RwSignal<Value>,
    pub pos: RwSignal<(f64, f64)>,
}

impl NodeState {
    fn new(n: &NodeDraft) -> Self {
        Self {
            key: n.key.clone(),
            kind: n.kind.clone(),
            name: RwSignal::new(n.name.clone()),
            config: RwSignal::new(n.config.clone()),
            pos: RwSignal::new((n.x, n.y)),
        }
    }

    fn draft(&self) -> NodeDraft {
        let (x, y) = self.pos.get_untracked();
        NodeDraft {
            key: self.key.clone(),
            kind: self.kind.clone(),
            name: self.name.get_untracked(),
            config: self.config.get_untracked(),
            x: x.round(),
            y: y.round(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    Node(String),
    Edge(EdgeDraft),
}

/// Everything the canvas and the panel share; `Copy`, so handlers capture it freely.
#[derive(Clone, Copy)]
pub struct BuilderState {
    nodes: RwSignal<Vec<NodeState>>,
    index: Memo<HashMap<String, NodeState>>,
    edges: RwSignal<Vec<EdgeDraft>>,
    selected: RwSignal<Option<Selection>>,
    history: StoredValue<History>,
    can_undo: RwSignal<bool>,
    can_redo: RwSignal<bool>,
    /// Pan and zoom: screen = canvas × k + (tx, ty).
    view: RwSignal<(f64, f64, f64)>,
    issues: Memo<Vec<GraphIssue>>,
    node_issues: Memo<HashMap<String, Vec<String>>>,
    canvas: NodeRef<leptos::html::Div>,
    on_change: StoredValue<Option<Callback<GraphDraft>>>,
    pub read_only: bool,
    /// The campaign whose own funnel this is (none for a template): previews offer its contacts.
    pub campaign: Option<Uuid>,
}

impl BuilderState {
    pub fn new(draft: GraphDraft, read_only: bool) -> Self {
        let nodes = RwSignal::new(draft.nodes.iter().map(NodeState::new).collect::<Vec<_>>());
        let edges = RwSignal::new(draft.edges.clone());
        let index = Memo::new(move |_| nodes.with(|ns| ns.iter().map(|n| (n.key.clone(), n.clone())).collect()));
        // Names and configs only: positions do not change what is valid.
        let issues = Memo::new(move |_| {
            let draft = GraphDraft {
                nodes: nodes.with(|ns| {
                    ns.iter()
                        .map(|n| NodeDraft {
                            key: n.key.clone(),
                            kind: n.kind.clone(),
                            name: n.name.get(),
                            config: n.config.get(),
                            x: 0.0,
                            y: 0.0,
                        })
                        .collect()
                }),
                edges: edges.get(),
            };
            FunnelGraph::parse(&draft).err().unwrap_or_default()
        });
        let node_issues = Memo::new(move |_| {
            let mut map: HashMap<String, Vec<String>> = HashMap::new();
            for i in issues.get() {
                if let Some(k) = i.node {
                    map.entry(k).or_default().push(i.message);
                }
            }
            map
        });
        Self {
            nodes,
            index,
            edges,
            selected: RwSignal::new(None),
            history: StoredValue::new(History::new(draft)),
            can_undo: RwSignal::new(false),
            can_redo: RwSignal::new(false),
            view: RwSignal::new((0.0, 0.0, 1.0)),
            issues,
            node_issues,
            canvas: NodeRef::new(),
            on_change: StoredValue::new(None),
            read_only,
            campaign: None,
        }
    }

    pub fn in_campaign(mut self, id: Uuid) -> Self {
        self.campaign = Some(id);
        self
    }

    /// Called with the whole graph after each committed edit (not on every pointer move).
    pub fn on_change(self, cb: Callback<GraphDraft>) -> Self {
        self.on_change.set_value(Some(cb));
        self
    }

    /// The graph as it is now, positions rounded to whole pixels.
    pub fn snapshot(&self) -> GraphDraft {
        GraphDraft {
            nodes: self.nodes.with_untracked(|ns| ns.iter().map(NodeState::draft).collect()),
            edges: self.edges.get_untracked(),
        }
    }

    /// What `FunnelGraph::parse` says is wrong now; empty when the graph is valid.
    pub fn issues(&self) -> Memo<Vec<GraphIssue>> {
        self.issues
    }

    /// Replaces the graph, keeping the signals (and DOM) of nodes whose key and kind stay.
    fn apply(&self, draft: &GraphDraft) {
        let old = self.index.get_untracked();
        let next: Vec<NodeState> = draft
            .nodes
            .iter()
            .map(|n| match old.get(&n.key) {
                Some(s) if s.kind == n.kind => {
                    s.name.set(n.name.clone());
                    s.config.set(n.config.clone());
                    s.pos.set((n.x, n.y));
                    s.clone()
                }
                _ => NodeState::new(n),
            })
            .collect();
        self.nodes.set(next);
        self.edges.set(draft.edges.clone());
        self.selected.update(|s| {
            let keep = match s {
                Some(Selection::Node(k)) => draft.nodes.iter().any(|n| &n.key == k),
                Some(Selection::Edge(e)) => draft.edges.contains(e),
                None => true,
            };
            if !keep {
                *s = None;
            }
        });
    }

    fn sync_history_flags(&self) {
        let (u, r) = self.history.with_value(|h| (h.can_undo(), h.can_redo()));
        self.can_undo.set(u);
        self.can_redo.set(r);
    }

    /// Records the current graph as an undo step, if it changed, and tells `on_change`.
    pub fn commit(&self) {
        let g = self.snapshot();
        let changed = self.history.try_update_value(|h| h.commit(g.clone())).unwrap_or(false);
        if changed {
            self.sync_history_flags();
            if let Some(cb) = self.on_change.get_value() {
                cb.run(g);
            }
        }
    }

    fn step(&self, f: impl FnOnce(&mut History) -> Option<GraphDraft>) {
        if self.read_only {
            return;
        }
        self.commit(); // an edit typed but not yet committed is a step of its own
        if let Some(g) = self.history.try_update_value(f).flatten() {
            self.apply(&g);
            self.sync_history_flags();
            if let Some(cb) = self.on_change.get_value() {
                cb.run(g);
            }
        }
    }

    pub fn undo(&self) {
        self.step(|h| h.undo());
    }

    pub fn redo(&self) {
        self.step(|h| h.redo());
    }

    pub fn node(&self, key: &str) -> Option<NodeState> {
        self.index.with_untracked(|m| m.get(key).cloned())
    }

    /// The canvas's size on screen (a default before it is mounted).
    fn viewport_size(&self) -> (f64, f64) {
        self.canvas
            .get_untracked()
            .map(|el| (el.client_width() as f64, el.client_height() as f64))
            .filter(|(w, h)| *w > 0.0 && *h > 0.0)
            .unwrap_or((800.0, 520.0))
    }

    /// A new node of `kind` in the middle of what is visible, selected.
    pub fn add(&self, kind: NodeKind) {
        if self.read_only {
            return;
        }
        let key = self.snapshot().next_key();
        let (w, h) = self.viewport_size();
        let (tx, ty, k) = self.view.get_untracked();
        let n = self.nodes.with_untracked(|ns| ns.len()) as f64;
        let jitter = (n % 6.0) * 16.0;
        let x = ((w / 2.0 - tx) / k - logic::NODE_W / 2.0 + jitter).round();
        let y = ((h / 2.0 - ty) / k - logic::NODE_H / 2.0 + jitter).round();
        let node = NodeDraft { key: key.clone(), kind: kind.as_str().into(), name: kind.label().into(), config: kind.default_config(), x, y };
        self.nodes.update(|ns| ns.push(NodeState::new(&node)));
        self.selected.set(Some(Selection::Node(key)));
        self.commit();
    }

    pub fn delete_selected(&self) {
        if self.read_only {
            return;
        }
        match self.selected.get_untracked() {
            Some(Selection::Node(key)) => {
                self.nodes.update(|ns| ns.retain(|n| n.key != key));
                self.edges.update(|es| es.retain(|e| e.from != key && e.to != key));
            }
            Some(Selection::Edge(edge)) => self.edges.update(|es| es.retain(|e| *e != edge)),
            None => return,
        }
        self.selected.set(None);
        self.commit();
    }

    /// Moves the selected node by a few pixels (the arrow keys).
    pub fn nudge(&self, dx: f64, dy: f64) {
        if self.read_only {
            return;
        }
        if let Some(Selection::Node(key)) = self.selected.get_untracked()
            && let Some(n) = self.node(&key)
        {
            n.pos.update(|(x, y)| {
                *x += dx;
                *y += dy;
            });
            self.commit();
        }
    }

    pub fn connect(&self, from: &str, outcome: Option<&str>, to: &str) {
        if self.read_only {
            return;
        }
        if let Some(next) = self.edges.with_untracked(|es| logic::connect(es, from, outcome, to)) {
            self.edges.set(next);
            self.commit();
        }
    }

    /// Layered top-to-bottom positions for every node, then fits the view.
    pub fn auto_layout(&self) {
        if self.read_only {
            return;
        }
        let at = logic::auto_layout(&self.snapshot());
        self.nodes.with_untracked(|ns| {
            for n in ns {
                if let Some(p) = at.get(&n.key) {
                    n.pos.set(*p);
                }
            }
        });
        self.commit();
        self.fit();
    }

    pub fn fit(&self) {
        let b = self.nodes.with_untracked(|ns| logic::bounds(ns.iter().map(|n| n.pos.get_untracked())));
        let (w, h) = self.viewport_size();
        self.view.set(b.map(|b| logic::fit(b, w, h)).unwrap_or((0.0, 0.0, 1.0)));
    }

    pub fn zoom(&self, factor: f64) {
        let (w, h) = self.viewport_size();
        self.view.update(|v| *v = logic::zoom_at(*v, factor, (w / 2.0, h / 2.0)));
    }
}

/// The builder: toolbar and palette, canvas, side panel with the selected node and the
/// graph's issues.
#[component]
pub fn Builder(state: BuilderState) -> impl IntoView {
    view! {
        <div class="flex flex-col gap-4 xl:flex-row" data-testid="builder" data-read-only=state.read_only.to_string()>
            <div class="min-w-0 flex-1">
                <panel::Toolbar state/>
                <canvas::Canvas state/>
            </div>
            <div class="w-full shrink-0 space-y-4 xl:w-80">
                <panel::NodePanel state/>
                <panel::IssueList state/>
            </div>
        </div>
    }
}
