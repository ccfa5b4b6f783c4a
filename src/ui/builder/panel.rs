//! Around the canvas: the toolbar (palette, undo/redo, zoom, auto-layout), the side panel
//! with the selected node's per-type form, and the list of issues.
use super::{BuilderState, NodeState, Selection};
use crate::api::content::list_content;
use crate::api::voicemail::{list_voices, preview_voicemail};
use crate::domain::campaign::EnrollmentStatus;
use crate::domain::funnel::NodeKind;
use crate::domain::voicemail::{VoicemailPreview, VoicemailPreviewInput, Voices};
use crate::ui::components::{ContactChooser, non_empty};
use crate::ui::toast::use_toasts;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};
use uuid::Uuid;

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
    let text = move || {
        if let Some(id) = config.with(|c| c.get("content_id").and_then(|v| v.as_str()).map(str::to_string)) {
            return view! {
                <p class="text-sm text-slate-600">"Uses content template "<span class="font-mono text-xs">{id}</span></p>
                {(!state.read_only).then(|| view! {
                    <button type="button" class=TOOL on:click=move |_| {
                        // The voice belongs to the step, not to the template's text.
                        let voice = config.with_untracked(|c| c.get("voice_id").cloned());
                        config.set(kind.default_config());
                        if let Some(v) = voice {
                            set_field(config, "voice_id", v);
                        }
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
    };
    // Outside `text`, which re-renders on every keystroke: the voices load once per step.
    view! {
        {text}
        {(kind == NodeKind::VoicemailDrop).then(|| view! { <VoiceSelect state config/> <VoicemailPreviewPanel state config/> })}
    }
}

/// The voice a voicemail step is spoken in: `voice_id` beside the script (or content
/// template); none stored means the default voice.
#[component]
fn VoiceSelect(state: BuilderState, config: RwSignal<Value>) -> impl IntoView {
    let voices = Resource::new(|| (), |_| list_voices());
    // Only the voice: the script's keystrokes must not re-render the options.
    let chosen = Memo::new(move |_| str_of(&config.get(), "voice_id"));
    let choose = move |ev| {
        match non_empty(event_target_value(&ev)) {
            Some(id) => set_field(config, "voice_id", Value::String(id)),
            None => config.update(|c| {
                if let Some(o) = c.as_object_mut() {
                    o.remove("voice_id");
                }
            }),
        }
        state.commit();
    };
    // Options load after the select exists (and undo changes the choice), so each option
    // sets its own selectedness.
    let options = move |v: Voices| {
        let default_name = v.voices.iter().find(|o| o.id == v.default_voice).map_or(v.default_voice.clone(), |o| o.name.clone());
        let stored = chosen.get();
        let unknown = (!stored.is_empty() && !v.voices.iter().any(|o| o.id == stored)).then(|| {
            view! { <option value=stored.clone() prop:selected=true>{format!("{stored} (no longer offered)")}</option> }
        });
        view! {
            <option value="" prop:selected=move || chosen.with(String::is_empty)>{format!("Default voice ({default_name})")}</option>
            {unknown}
            {v.voices.into_iter().map(|o| {
                let id = o.id.clone();
                view! { <option value=o.id prop:selected=move || chosen.with(|c| *c == id)>{o.name}</option> }
            }).collect_view()}
        }
    };
    view! {
        <label class=LABEL>
            "Voice"
            <select class=INPUT disabled=state.read_only on:change=choose data-testid="voice-select">
                <Transition fallback=|| view! { <option value="">"Loading voices…"</option> }>
                    {move || voices.get().map(|r| match r {
                        Ok(v) => options(v).into_any(),
                        Err(e) => view! { <option value="">{format!("Default voice (voices unavailable: {})", e.error)}</option> }.into_any(),
                    })}
                </Transition>
            </select>
        </label>
    }
}

/// Hear the step as a contact would before saving: the script filled in for a chosen contact
/// (sample values without one) and spoken in the chosen voice. Works read-only too.
#[component]
fn VoicemailPreviewPanel(state: BuilderState, config: RwSignal<Value>) -> impl IntoView {
    let toasts = use_toasts();
    let campaign = RwSignal::new(state.campaign);
    let contact = RwSignal::new(None::<Uuid>);
    let preview = RwSignal::new(None::<VoicemailPreview>);
    let busy = RwSignal::new(false);
    let run = move |_| {
        let c = config.get_untracked();
        let content_id = Uuid::parse_str(&str_of(&c, "content_id")).ok();
        let mut input = VoicemailPreviewInput {
            script: str_of(&c, "body"),
            voice_id: non_empty(str_of(&c, "voice_id")),
            campaign_id: campaign.get_untracked(),
            contact_id: contact.get_untracked(),
        };
        busy.set(true);
        spawn_local(async move {
            let result = async {
                // A step on a content template speaks that template's text.
                if let Some(id) = content_id {
                    input.script = list_content().await?.into_iter().find(|t| t.id == id).map(|t| t.body).unwrap_or_default();
                }
                preview_voicemail(input).await
            };
            match result.await {
                Ok(p) => preview.set(Some(p)),
                Err(e) => toasts.error(e.error),
            }
            busy.set(false);
        });
    };
    view! {
        <div class="space-y-2 border-t border-slate-100 pt-3">
            <p class="text-xs text-slate-500">"Hear it before saving, as a contact would; without a contact, sample values fill the merge tags."</p>
            <div class="flex flex-wrap items-center gap-2 text-sm">
                <ContactChooser campaign contact fixed_campaign=state.campaign.is_some() testid="voicemail-preview-contact"/>
                <button type="button" class=TOOL on:click=run disabled=busy data-testid="voicemail-preview">"Preview"</button>
            </div>
            {move || preview.get().map(|p| view! {
                {p.text.map(|t| view! { <p class="whitespace-pre-wrap rounded-md bg-slate-50 p-2 text-sm" data-testid="voicemail-preview-text">{t}</p> })}
                {p.audio_url.map(|u| view! { <audio controls src=u class="w-full" data-testid="voicemail-preview-audio"></audio> })}
                {p.problem.map(|e| view! { <p class="text-sm text-red-700" role="alert" data-testid="voicemail-preview-problem">{e}</p> })}
            })}
        </div>
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
