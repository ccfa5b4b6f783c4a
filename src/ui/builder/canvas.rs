//! The SVG canvas: pointer handling for pan, node drags and port-to-node connections,
//! wheel zoom, keyboard shortcuts, and the node and edge views.
use super::logic::{self, NODE_H, NODE_W};
use super::{BuilderState, NodeState, Selection};
use crate::domain::funnel::{EdgeDraft, NodeKind};
use leptos::ev::{KeyboardEvent, MouseEvent, PointerEvent, WheelEvent};
use leptos::prelude::*;

/// The line drawn while connecting: from the port to the pointer, in canvas units.
type Wire = Option<((f64, f64), (f64, f64))>;

/// What the pointer is doing between down and up.
#[derive(Clone)]
enum Drag {
    /// Pressed on something that does not move (an edge, a node in read-only mode).
    Hold,
    Pan { start: (f64, f64), view: (f64, f64, f64) },
    Node { pos: RwSignal<(f64, f64)>, grab: (f64, f64), moved: bool },
    Connect { from: String, outcome: Option<&'static str>, start: (f64, f64) },
}

/// The pointer's position relative to the canvas element.
fn local(state: &BuilderState, ev: &MouseEvent) -> (f64, f64) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = state.canvas.get_untracked() {
        let r = el.get_bounding_client_rect();
        return (ev.client_x() as f64 - r.left(), ev.client_y() as f64 - r.top());
    }
    let _ = state;
    (ev.client_x() as f64, ev.client_y() as f64)
}

fn to_canvas(state: &BuilderState, (sx, sy): (f64, f64)) -> (f64, f64) {
    let (tx, ty, k) = state.view.get_untracked();
    ((sx - tx) / k, (sy - ty) / k)
}

/// Keeps the pointer's events on the canvas until it is released, even outside it, and
/// takes the keyboard focus so Delete and Ctrl+Z reach the canvas.
fn grab(state: &BuilderState, ev: &PointerEvent) {
    if let Some(el) = state.canvas.get_untracked() {
        let _ = el.set_pointer_capture(ev.pointer_id());
        let _ = el.focus();
    }
}

#[component]
pub fn Canvas(state: BuilderState) -> impl IntoView {
    let drag = StoredValue::new(None::<Drag>);
    let wire = RwSignal::new(Wire::None);

    // Fit the graph into view once the canvas is in the page.
    Effect::new(move |_| {
        if state.canvas.get().is_some() {
            state.fit();
        }
    });

    let on_down = move |ev: PointerEvent| {
        // Nodes, ports and edges set their own drag first; the background pans.
        if ev.button() != 0 || drag.with_value(|d| d.is_some()) {
            return;
        }
        grab(&state, &ev);
        state.selected.set(None);
        drag.set_value(Some(Drag::Pan { start: local(&state, &ev), view: state.view.get_untracked() }));
    };
    let on_move = move |ev: PointerEvent| {
        let Some(d) = drag.get_value() else { return };
        let here = local(&state, &ev);
        match d {
            Drag::Hold => {}
            Drag::Pan { start, view: (tx, ty, k) } => state.view.set((tx + here.0 - start.0, ty + here.1 - start.1, k)),
            Drag::Node { pos, grab, .. } => {
                let (cx, cy) = to_canvas(&state, here);
                pos.set((cx - grab.0, cy - grab.1));
                drag.update_value(|d| {
                    if let Some(Drag::Node { moved, .. }) = d {
                        *moved = true;
                    }
                });
            }
            Drag::Connect { start, .. } => wire.set(Some((start, to_canvas(&state, here)))),
        }
    };
    let on_up = move |ev: PointerEvent| {
        let Some(d) = drag.try_update_value(|d| d.take()).flatten() else { return };
        match d {
            Drag::Node { moved: true, .. } => state.commit(),
            Drag::Connect { from, outcome, .. } => {
                wire.set(None);
                let at = to_canvas(&state, local(&state, &ev));
                let target = state.nodes.with_untracked(|ns| {
                    logic::node_at(ns.iter().map(|n| (n.key.as_str(), n.pos.get_untracked())), at).map(str::to_string)
                });
                if let Some(to) = target {
                    state.connect(&from, outcome, &to);
                }
            }
            _ => {}
        }
    };
    let on_wheel = move |ev: WheelEvent| {
        ev.prevent_default();
        let factor = (-ev.delta_y() * 0.0015).exp();
        let at = local(&state, &ev);
        state.view.update(|v| *v = logic::zoom_at(*v, factor, at));
    };
    let on_key = move |ev: KeyboardEvent| {
        let key = ev.key();
        let ctrl = ev.ctrl_key() || ev.meta_key();
        match key.as_str() {
            "Delete" | "Backspace" => state.delete_selected(),
            "z" | "Z" if ctrl && ev.shift_key() => state.redo(),
            "z" | "Z" if ctrl => state.undo(),
            "y" if ctrl => state.redo(),
            "Escape" => state.selected.set(None),
            "ArrowUp" | "ArrowDown" | "ArrowLeft" | "ArrowRight" => {
                let step = if ev.shift_key() { 1.0 } else { 10.0 };
                let (dx, dy) = match key.as_str() {
                    "ArrowUp" => (0.0, -step),
                    "ArrowDown" => (0.0, step),
                    "ArrowLeft" => (-step, 0.0),
                    _ => (step, 0.0),
                };
                state.nudge(dx, dy);
            }
            _ => return,
        }
        ev.prevent_default();
    };

    let transform = move || {
        let (tx, ty, k) = state.view.get();
        format!("translate({tx:.1} {ty:.1}) scale({k:.3})")
    };
    view! {
        <div
            node_ref=state.canvas
            class="relative h-[560px] w-full touch-none select-none overflow-hidden rounded-b-xl border border-slate-200 bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
            style="background-image: radial-gradient(#cbd5e1 1px, transparent 1px); background-size: 20px 20px;"
            tabindex="0"
            role="application"
            aria-label="Funnel canvas: drag to pan, wheel to zoom; arrow keys move the selected step, Delete removes the selection, Ctrl+Z undoes"
            data-testid="builder-canvas"
            on:pointerdown=on_down
            on:pointermove=on_move
            on:pointerup=on_up
            on:pointercancel=move |_| {
                drag.set_value(None);
                wire.set(None);
            }
            on:wheel=on_wheel
            on:keydown=on_key
        >
            <svg width="100%" height="100%" xmlns="http://www.w3.org/2000/svg">
                <defs>
                    <marker id="builder-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M0 0 L10 5 L0 10 z" fill="#64748b"/>
                    </marker>
                </defs>
                <g transform=transform>
                    <For each=move || state.edges.get() key=edge_key let:edge>
                        <EdgeView state drag edge/>
                    </For>
                    <For each=move || state.nodes.get() key=|n| n.key.clone() let:node>
                        <NodeView state drag wire node/>
                    </For>
                    {move || wire.get().map(|(a, b)| view! {
                        <path d=logic::edge_path(a, b) fill="none" stroke="#6366f1" stroke-width="2" stroke-dasharray="6 4" pointer-events="none"/>
                    })}
                </g>
            </svg>
        </div>
    }
}

fn edge_key(e: &EdgeDraft) -> String {
    format!("{}>{}:{}", e.from, e.to, logic::outcome_of(e).unwrap_or(""))
}

#[component]
fn EdgeView(state: BuilderState, drag: StoredValue<Option<Drag>>, edge: EdgeDraft) -> impl IntoView {
    let outcome: Option<&'static str> = match logic::outcome_of(&edge) {
        Some("yes") => Some("yes"),
        Some("no") => Some("no"),
        _ => None,
    };
    let (from, to) = (edge.from.clone(), edge.to.clone());
    // Reads the two end nodes' positions only: a drag elsewhere does not touch this edge.
    let ends = Memo::new(move |_| {
        state.index.with(|m| {
            let a = m.get(&from)?;
            let b = m.get(&to)?;
            Some((logic::port_point(&a.kind, outcome, a.pos.get()), logic::in_point(b.pos.get())))
        })
    });
    let d = Memo::new(move |_| ends.get().map(|(a, b)| logic::edge_path(a, b)).unwrap_or_default());
    let me = Selection::Edge(edge.clone());
    let selected = {
        let me = me.clone();
        move || state.selected.with(|s| s.as_ref() == Some(&me))
    };
    let press = move |ev: PointerEvent| {
        if ev.button() != 0 || drag.with_value(|d| d.is_some()) {
            return;
        }
        grab(&state, &ev);
        state.selected.set(Some(me.clone()));
        drag.set_value(Some(Drag::Hold));
    };
    view! {
        <g data-testid="builder-edge" data-from=edge.from.clone() data-to=edge.to.clone() data-outcome=outcome.unwrap_or("")
            on:pointerdown=press>
            <path d=d fill="none" stroke="transparent" stroke-width="14" style="cursor: pointer"/>
            <path d=d fill="none" stroke-width="2" marker-end="url(#builder-arrow)" pointer-events="none"
                stroke=move || if selected() { "#4f46e5" } else { "#94a3b8" }/>
        </g>
    }
}

fn kind_color(kind: &str) -> &'static str {
    match NodeKind::parse(kind) {
        Some(NodeKind::Stage) => "#0ea5e9",
        Some(NodeKind::SmsSend) => "#22c55e",
        Some(NodeKind::EmailSend) => "#6366f1",
        Some(NodeKind::VoicemailDrop) => "#f59e0b",
        Some(NodeKind::Wait) => "#64748b",
        Some(NodeKind::Branch) => "#d946ef",
        None => "#ef4444",
    }
}

#[component]
fn NodeView(
    state: BuilderState,
    drag: StoredValue<Option<Drag>>,
    wire: RwSignal<Wire>,
    node: NodeState,
) -> impl IntoView {
    let NodeState { key, kind, name, pos, .. } = node;
    let label = NodeKind::parse(&kind).map(|k| k.label().to_string()).unwrap_or_else(|| format!("Unknown: {kind}"));
    let is_selected = {
        let key = key.clone();
        Memo::new(move |_| state.selected.with(|s| matches!(s, Some(Selection::Node(k)) if *k == key)))
    };
    let selected = move || is_selected.get();
    let problems = {
        let key = key.clone();
        Memo::new(move |_| state.node_issues.with(|m| m.get(&key).map(|v| v.join("; "))))
    };
    let press = {
        let key = key.clone();
        move |ev: PointerEvent| {
            // A port of this node may have started a connection already.
            if ev.button() != 0 || drag.with_value(|d| d.is_some()) {
                return;
            }
            grab(&state, &ev);
            state.selected.set(Some(Selection::Node(key.clone())));
            if state.read_only {
                drag.set_value(Some(Drag::Hold));
                return;
            }
            let (cx, cy) = to_canvas(&state, local(&state, &ev));
            let (x, y) = pos.get_untracked();
            drag.set_value(Some(Drag::Node { pos, grab: (cx - x, cy - y), moved: false }));
        }
    };
    let ports = logic::out_ports(&kind).iter().map(|&(outcome, dx)| {
        let key = key.clone();
        let kind = kind.clone();
        let start_connect = move |ev: PointerEvent| {
            if ev.button() != 0 || state.read_only {
                return;
            }
            ev.stop_propagation();
            grab(&state, &ev);
            let start = logic::port_point(&kind, outcome, pos.get_untracked());
            drag.set_value(Some(Drag::Connect { from: key.clone(), outcome, start }));
            wire.set(Some((start, start)));
        };
        view! {
            <g data-testid="builder-port" data-outcome=outcome.unwrap_or("next") on:pointerdown=start_connect
                style=if state.read_only { "" } else { "cursor: crosshair" }>
                <circle cx=dx cy=NODE_H r="12" fill="transparent"/>
                <circle cx=dx cy=NODE_H r="6" fill="#fff" stroke="#475569" stroke-width="1.5"/>
                {outcome.map(|o| view! {
                    <text x=dx y=NODE_H - 6.0 font-size="10" text-anchor="middle" fill="#475569">{o}</text>
                })}
            </g>
        }
    }).collect_view();
    let transform = move || {
        let (x, y) = pos.get();
        format!("translate({x:.1} {y:.1})")
    };
    view! {
        <g transform=transform data-testid="builder-node" data-key=key.clone() data-kind=kind.clone()
            tabindex="0" role="button" aria-label={
                let label = label.clone();
                move || format!("{label}: {}", name.get())
            }
            on:focus={
                // Tab walks the steps: focusing one selects it, for the panel, arrows and Delete.
                let key = key.clone();
                move |_| {
                    if !is_selected.get_untracked() {
                        state.selected.set(Some(Selection::Node(key.clone())));
                    }
                }
            }
            data-invalid=move || problems.with(|p| p.is_some()).to_string()
            on:pointerdown=press style=if state.read_only { "cursor: default" } else { "cursor: grab" }>
            <title>{
                let key = key.clone();
                move || problems.get().map(|p| format!("{key}: {p}")).unwrap_or_else(|| key.clone())
            }</title>
            <rect width=NODE_W height=NODE_H rx="8" fill="#fff"
                stroke=move || if selected() { "#4f46e5" } else if problems.with(|p| p.is_some()) { "#dc2626" } else { "#cbd5e1" }
                stroke-width=move || if selected() || problems.with(|p| p.is_some()) { "2.5" } else { "1.5" }/>
            <rect width="6" height=NODE_H rx="3" fill=kind_color(&kind)/>
            <text x="14" y="20" font-size="11" fill="#64748b">{label.clone()}</text>
            <text x="14" y="40" font-size="13" font-weight="600" fill="#0f172a">{move || clip(&name.get())}</text>
            {move || problems.with(|p| p.is_some()).then(|| view! {
                <g data-testid="builder-node-issue">
                    <circle cx=NODE_W - 14.0 cy="14" r="8" fill="#dc2626"/>
                    <text x=NODE_W - 14.0 y="18" font-size="11" font-weight="700" text-anchor="middle" fill="#fff">"!"</text>
                </g>
            })}
            <circle cx=NODE_W / 2.0 cy="0" r="4" fill="#94a3b8"/>
            {ports}
        </g>
    }
}

/// Names longer than the box are cut with an ellipsis.
fn clip(s: &str) -> String {
    const MAX: usize = 22;
    if s.chars().count() <= MAX { s.to_string() } else { format!("{}…", s.chars().take(MAX - 1).collect::<String>()) }
}
