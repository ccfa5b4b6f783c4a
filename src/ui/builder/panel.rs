//! Around the canvas: the toolbar (palette, undo/redo, zoom, auto-layout), the side panel
//! with the selected node's per-type form, and the list of issues.
use super::{BuilderState, NodeState, Selection};
use crate::domain::campaign::EnrollmentStatus;
use crate::domain::funnel::NodeKind;
use leptos::prelude::*;
use serde_json::{Value, json};

const TOOL: &str = "inline-flex items-center rounded-md border border-slate-300 bg-white px-2.5 py-1 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-40";
const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 px-2.5 py-1.5 text-sm shadow-sm disabled:bg-slate-50 disabled:text-slate-500";
const LABEL: &str = "block text-sm font-medium text-slate-700";

#[component]
pub fn Toolbar(state: BuilderState) -> impl IntoView {
    let palette = (!state.read_only).then(|| {
        view! {
            <div class="flex flex-wrap items-center gap-1.5" role="group" aria-label="Add a step" data-testid="builder-palette">
                <span class="text-xs font-medium text-slate-500">"Add:"</span>
                {NodeKind::ALL.iter().map(|&k| view! {
                    <button type="button" class=TOOL on:click=move |_| state.add(k) data-testid=format!("palette-{}", k.as_str())>
                        {k.label()}
                    </button>
                }).collect_view()}
            </div>
        }
    });
    let edits = (!state.read_only).then(|| {
        view! {
            <button type="button" class=TOOL on:click=move |_| state.undo() disabled=move || !state.can_undo.get() title="Undo (Ctrl+Z)">"Undo"</button>
            <button type="button" class=TOOL on:click=move |_| state.redo() disabled=move || !state.can_redo.get() title="Redo (Ctrl+Shift+Z)">"Redo"</button>
            <button type="button" class=TOOL on:click=move |_| state.delete_selected() disabled=move || state.selected.with(|s| s.is_none()) title="Delete the selection (Delete)">"Delete"</button>
            <button type="button" class=TOOL on:click=move |_| state.auto_layout()>"Auto-layout"</button>
        }
    });
    view! {
        <div class="flex flex-wrap items-center justify-between gap-2 rounded-t-xl border border-b-0 border-slate-200 bg-white px-3 py-2">
            {palette}
            <div class="flex flex-wrap items-center gap-1.5">
                {edits}
                <button type="button" class=TOOL on:click=move |_| state.zoom(1.0 / 1.25) aria-label="Zoom out">"−"</button>
                <span class="w-12 text-center text-xs tabular-nums text-slate-500" data-testid="builder-zoom">
                    {move || format!("{:.0}%", state.view.get().2 * 100.0)}
                </span>
                <button type="button" class=TOOL on:click=move |_| state.zoom(1.25) aria-label="Zoom in">"+"</button>
                <button type="button" class=TOOL on:click=move |_| state.fit()>"Fit"</button>
            </div>
        </div>
    }
}

#[component]
pub fn NodePanel(state: BuilderState) -> impl IntoView {
    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-4" aria-label="Selected step" data-testid="builder-panel">
            {move || match state.selected.get() {
                Some(Selection::Node(key)) => match state.node(&key) {
                    Some(node) => view! { <NodeForm state node/> }.into_any(),
                    None => ().into_any(),
                },
                Some(Selection::Edge(e)) => view! {
                    <h2 class="text-sm font-semibold">"Connection"</h2>
                    <p class="mt-1 text-sm text-slate-600">
                        {format!("{} → {}", e.from, e.to)}
                        {super::logic::outcome_of(&e).map(|o| format!(" (when {o})"))}
                    </p>
                    {(!state.read_only).then(|| view! {
                        <button type="button" class=format!("{TOOL} mt-3") on:click=move |_| state.delete_selected()>"Delete connection"</button>
                    })}
                }.into_any(),
                None => view! {
                    <h2 class="text-sm font-semibold">"No step selected"</h2>
                    <p class="mt-1 text-sm text-slate-600">
                        {if state.read_only {
                            "Click a step to see its settings. Drag the background to pan; the wheel zooms."
                        } else {
                            "Add steps from the palette, drag them into place, and drag from a step's bottom port onto another step to connect them. Click a step to edit it."
                        }}
                    </p>
                }.into_any(),
            }}
        </section>
    }
}

fn str_of(c: &Value, field: &str) -> String {
    c.get(field).and_then(|v| v.as_str()).unwrap_or("").to_string()
}

fn num_of(c: &Value, field: &str) -> String {
    c.get(field).and_then(|v| v.as_u64()).map(|n| n.to_string()).unwrap_or_default()
}

fn set_field(config: RwSignal<Value>, field: &str, v: Value) {
    config.update(|c| {
        if !c.is_object() {
            *c = json!({});
        }
        c[field] = v;
    });
}

#[component]
fn NodeForm(state: BuilderState, node: NodeState) -> impl IntoView {
    let NodeState { key, kind, name, config, .. } = node;
    let ro = state.read_only;
    let parsed = NodeKind::parse(&kind);
    let problems = {
        let key = key.clone();
        move || state.node_issues.with(|m| m.get(&key).cloned().unwrap_or_default())
    };
    let form = match parsed {
        Some(NodeKind::Stage) => view! {
            <ConfigText state config label="Stage key" field="stage_key" placeholder="e.g. invited"/>
            <p class="text-xs text-slate-500">"Contacts reaching this step get this stage."</p>
        }.into_any(),
        Some(k @ (NodeKind::SmsSend | NodeKind::VoicemailDrop | NodeKind::EmailSend)) => view! { <ContentForm state config kind=k/> }.into_any(),
        Some(NodeKind::Wait) => view! { <WaitForm state config/> }.into_any(),
        Some(NodeKind::Branch) => view! { <BranchForm state config/> }.into_any(),
        None => view! { <p class="text-sm text-red-700">{format!("Unknown step type '{kind}': delete this step.")}</p> }.into_any(),
    };
    view! {
        <div class="space-y-3" data-testid="node-form" data-key=key.clone()>
            <div class="flex items-baseline justify-between">
                <h2 class="text-sm font-semibold">{parsed.map(|k| k.label()).unwrap_or("Step")}</h2>
                <span class="font-mono text-xs text-slate-500">{key.clone()}</span>
            </div>
            <label class=LABEL>
                "Name"
                <input class=INPUT type="text" disabled=ro prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                    on:change=move |_| state.commit()/>
            </label>
            {form}
            {move || {
                let list = problems();
                (!list.is_empty()).then(|| view! {
                    <ul class="rounded-md bg-red-50 p-2 text-xs text-red-800" data-testid="node-issues">
                        {list.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
                    </ul>
                })
            }}
        </div>
    }
}

/// A text (or multi-line) config field; edits show at once, and become an undo step when
/// the field is left.
#[component]
fn ConfigText(
    state: BuilderState,
    config: RwSignal<Value>,
    label: &'static str,
    field: &'static str,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] multiline: bool,
) -> impl IntoView {
    let value = move || str_of(&config.get(), field);
    let input = move |ev| set_field(config, field, Value::String(event_target_value(&ev)));
    let control = if multiline {
        view! {
            <textarea class=INPUT rows="4" disabled=state.read_only placeholder=placeholder prop:value=value
                on:input=input on:change=move |_| state.commit()></textarea>
        }.into_any()
    } else {
        view! {
            <input class=INPUT type="text" disabled=state.read_only placeholder=placeholder prop:value=value
                on:input=input on:change=move |_| state.commit()/>
        }.into_any()
    };
    view! { <label class=LABEL>{label}{control}</label> }
}

/// A whole-number config field; empty or not a number stores 0, which validation names.
#[component]
fn ConfigNumber(state: BuilderState, config: RwSignal<Value>, label: &'static str, field: &'static str) -> impl IntoView {
    view! {
        <label class=LABEL>
            {label}
            <input class=INPUT type="number" min="0" step="1" disabled=state.read_only
                prop:value=move || num_of(&config.get(), field)
                on:input=move |ev| {
                    let n = event_target_value(&ev).trim().parse::<u32>().unwrap_or(0);
                    set_field(config, field, json!(n));
                }
                on:change=move |_| state.commit()/>
        </label>
    }
}

#[component]
fn ContentForm(state: BuilderState, config: RwSignal<Value>, kind: NodeKind) -> impl IntoView {
    let body_label = match kind {
        NodeKind::VoicemailDrop => "Voicemail script",
        NodeKind::EmailSend => "Body",
        _ => "Message",
    };
    move || {
        if let Some(id) = config.with(|c| c.get("content_id").and_then(|v| v.as_str()).map(str::to_string)) {
            return view! {
                <p class="text-sm text-slate-600">"Uses content template "<span class="font-mono text-xs">{id}</span></p>
                {(!state.read_only).then(|| view! {
                    <button type="button" class=TOOL on:click=move |_| {
                        config.set(kind.default_config());
                        state.commit();
                    }>"Write its own text instead"</button>
                })}
            }
            .into_any();
        }
        view! {
            {(kind == NodeKind::EmailSend).then(|| view! { <ConfigText state config label="Subject" field="subject"/> })}
            <ConfigText state config label=body_label field="body" multiline=true placeholder="Hi {{contact.first_name | \"there\"}}, …"/>
            <p class="text-xs text-slate-500">"Merge tags such as {{contact.first_name}} and {{event.date}} are filled in when sending."</p>
        }
        .into_any()
    }
}

#[component]
fn WaitForm(state: BuilderState, config: RwSignal<Value>) -> impl IntoView {
    let mode = move || str_of(&config.get(), "mode");
    view! {
        <label class=LABEL>
            "Wait"
            <select class=INPUT disabled=state.read_only prop:value=mode on:change=move |ev| {
                config.set(match event_target_value(&ev).as_str() {
                    "before_event" => json!({ "mode": "before_event", "days_before": 1, "at": "10:00" }),
                    _ => NodeKind::Wait.default_config(),
                });
                state.commit();
            }>
                <option value="duration">"For a duration"</option>
                <option value="before_event">"Until days before the event"</option>
            </select>
        </label>
        {move || if mode() == "before_event" {
            view! {
                <ConfigNumber state config label="Days before the event" field="days_before"/>
                <ConfigText state config label="At (HH:MM, contact's time zone)" field="at" placeholder="10:00"/>
            }.into_any()
        } else {
            view! { <ConfigNumber state config label="Minutes" field="minutes"/> }.into_any()
        }}
    }
}

#[component]
fn BranchForm(state: BuilderState, config: RwSignal<Value>) -> impl IntoView {
    let rule = move || str_of(&config.get(), "rule");
    view! {
        <label class=LABEL>
            "Rule"
            <select class=INPUT disabled=state.read_only prop:value=rule on:change=move |ev| {
                config.set(match event_target_value(&ev).as_str() {
                    "status" => json!({ "rule": "status", "status": EnrollmentStatus::ReceivedRsvp.as_str() }),
                    "field_equals" => json!({ "rule": "field_equals", "field": "", "value": "" }),
                    _ => NodeKind::Branch.default_config(),
                });
                state.commit();
            }>
                <option value="replied">"Replied within a window"</option>
                <option value="status">"Enrollment status is"</option>
                <option value="field_equals">"Field equals"</option>
            </select>
        </label>
        {move || match rule().as_str() {
            "status" => view! {
                <label class=LABEL>
                    "Status"
                    <select class=INPUT disabled=state.read_only prop:value=move || str_of(&config.get(), "status")
                        on:change=move |ev| {
                            set_field(config, "status", Value::String(event_target_value(&ev)));
                            state.commit();
                        }>
                        {EnrollmentStatus::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                    </select>
                </label>
            }.into_any(),
            "field_equals" => view! {
                <ConfigText state config label="Field" field="field" placeholder="e.g. budget"/>
                <ConfigText state config label="Value" field="value"/>
            }.into_any(),
            _ => view! { <ConfigNumber state config label="Within hours" field="within_hours"/> }.into_any(),
        }}
        <p class="text-xs text-slate-500">"Connect the “yes” port to the step for contacts who match, and “no” to the others."</p>
    }
}

#[component]
pub fn IssueList(state: BuilderState) -> impl IntoView {
    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-4" aria-label="Issues" data-testid="builder-issues">
            {move || {
                let list = state.issues.get();
                if list.is_empty() {
                    return view! { <p class="text-sm text-emerald-700" data-testid="builder-valid">"No issues: this funnel can be published."</p> }.into_any();
                }
                view! {
                    <h2 class="text-sm font-semibold text-red-800">{format!("{} issue{} to fix before publishing", list.len(), if list.len() == 1 { "" } else { "s" })}</h2>
                    <ul class="mt-2 space-y-1 text-sm">
                        {list.into_iter().map(|i| {
                            let node = i.node.clone();
                            let text = i.to_string();
                            view! {
                                <li data-testid="builder-issue">
                                    {match node {
                                        Some(k) => view! {
                                            <button type="button" class="text-left text-red-700 hover:underline"
                                                on:click=move |_| state.selected.set(Some(Selection::Node(k.clone())))>{text}</button>
                                        }.into_any(),
                                        None => view! { <span class="text-red-700">{text}</span> }.into_any(),
                                    }}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}
