//! Running a campaign: live progress per funnel step, a dry run, a test send to oneself, the
//! send window, and what a BDR can do to one contact's run.
use crate::api::campaigns::{act_on_enrollment, campaign_dry_run, get_campaign, save_send_window, test_send};
use crate::domain::campaign::{
    CampaignDetail, DryRun, EngineState, EnrollmentAction, EnrollmentView, NodeCounts, SendWindowView,
};
use crate::domain::funnel::{NodeDraft, NodeKind};
use crate::ui::components::{BUTTON, BUTTON_QUIET, CARD, Badge, DataTable, TextField, Tone, when};
use crate::ui::realtime::refetch_on_change;
use crate::ui::toast::use_toasts;
use chrono::Utc;
use leptos::prelude::*;
use leptos::task::spawn_local;
use uuid::Uuid;

/// ISO weekdays as the send window stores them.
const WEEKDAYS: [(i16, &str); 7] = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")];

/// Replaces the page's copy of the campaign only when something changed, so an idle poll
/// re-renders nothing (and a half-filled control keeps its state).
pub fn refresh(live: RwSignal<CampaignDetail>, fresh: CampaignDetail) {
    if live.try_with_untracked(|now| *now != fresh) == Some(true) {
        live.try_set(fresh);
    }
}

/// Keeps `live` fresh while the calling component is mounted, refetched whenever the
/// real-time stream says this campaign changed.
pub fn follow_campaign(id: Uuid, live: RwSignal<CampaignDetail>) {
    refetch_on_change(move |rt| rt.touches_campaign(id), move || get_campaign(id), move |fresh| refresh(live, fresh));
}

/// "N2 · Invitation text" for a step key, or the bare key when the funnel no longer has it.
fn step_name(nodes: &[NodeDraft], key: &str) -> String {
    match nodes.iter().find(|n| n.key == key) {
        Some(n) if !n.name.is_empty() => format!("{key} · {}", n.name),
        _ => key.to_string(),
    }
}

/// Per funnel step, in the funnel's order, where the contacts are and what was sent; steps a
/// funnel change removed follow while they still count anything.
#[component]
pub fn LiveProgress(nodes: StoredValue<Vec<NodeDraft>>, counts: Memo<Vec<NodeCounts>>, polling: bool) -> impl IntoView {
    let rows = move || {
        let counts = counts.get();
        let mut rows: Vec<(String, String, NodeCounts)> = nodes.with_value(|nodes| {
            nodes
                .iter()
                .map(|n| {
                    let c = counts.iter().find(|c| c.node == n.key).cloned().unwrap_or_default();
                    (n.key.clone(), n.name.clone(), c)
                })
                .collect()
        });
        let removed: Vec<_> = counts
            .into_iter()
            .filter(|c| !rows.iter().any(|(k, _, _)| *k == c.node))
            .map(|c| (c.node.clone(), "(removed step)".to_string(), c))
            .collect();
        rows.extend(removed);
        rows
    };
    let total = move || {
        counts.with(|cs| {
            let mut t = NodeCounts::default();
            for c in cs {
                t.waiting += c.waiting;
                t.due += c.due;
                t.held += c.held;
                t.sent += c.sent;
                t.failed += c.failed;
                t.unknown += c.unknown;
            }
            t
        })
    };
    let cells = |c: NodeCounts| {
        let (failed, unknown) = (c.failed, c.unknown);
        view! {
            <td class="px-4 py-2 tabular-nums" data-col="waiting">{c.waiting}</td>
            <td class="px-4 py-2 tabular-nums" data-col="due">{c.due}</td>
            <td class="px-4 py-2 tabular-nums" data-col="held" class=("text-amber-700", c.held > 0)>{c.held}</td>
            <td class="px-4 py-2 tabular-nums" data-col="sent">{c.sent}</td>
            <td class="px-4 py-2 tabular-nums" data-col="failed" class=("font-semibold", failed > 0) class=("text-red-700", failed > 0)>{failed}</td>
            <td class="px-4 py-2 tabular-nums" data-col="unknown" class=("font-semibold", unknown > 0) class=("text-amber-700", unknown > 0)>{unknown}</td>
        }
    };
    view! {
        <section class="mt-6" aria-labelledby="live-progress-heading">
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h2 id="live-progress-heading" class="text-lg font-semibold">"Live progress"</h2>
                <p class="text-xs text-slate-500">
                    {if polling { "Updates live while this page is open" } else { "The campaign is not running; counts as loaded" }}
                </p>
            </div>
            <div class="mt-2">
                <DataTable headers={&["Step", "Waiting", "Due", "Held", "Sent", "Failed", "Unknown"]} testid="live-progress">
                    {move || rows().into_iter().map(|(key, name, c)| view! {
                        <tr data-key=key.clone()>
                            <th scope="row" class="px-4 py-2 text-left font-normal">
                                <span class="font-mono text-xs text-slate-500">{key.clone()}</span>" "<span class="font-medium">{name}</span>
                            </th>
                            {cells(c)}
                        </tr>
                    }).collect_view()}
                    <tr class="bg-slate-50 font-medium" data-key="total">
                        <th scope="row" class="px-4 py-2 text-left">"All steps"</th>
                        {move || cells(total())}
                    </tr>
                </DataTable>
            </div>
            <p class="mt-2 text-xs text-slate-500">
                "Waiting: for a wait or a reply window. Due: in the engine's next batches. "
                "Held: outside the send window, throttled, retrying, paused, or a send whose outcome is unknown. "
                "Sent, failed and unknown count messages."
            </p>
        </section>
    }
}

/// What running the campaign would do now, computed on the server without sending anything.
#[component]
pub fn DryRunPanel(id: Uuid, nodes: StoredValue<Vec<NodeDraft>>) -> impl IntoView {
    let toasts = use_toasts();
    let result = RwSignal::new(None::<DryRun>);
    let running = RwSignal::new(false);
    let run = move |_| {
        running.set(true);
        spawn_local(async move {
            match campaign_dry_run(id).await {
                Ok(d) => {
                    result.try_set(Some(d));
                }
                Err(e) => toasts.error(e.error),
            }
            running.try_set(false);
        });
    };
    view! {
        <section class=CARD aria-labelledby="dry-run-heading" data-testid="dry-run">
            <div class="flex items-start justify-between gap-3">
                <div>
                    <h2 id="dry-run-heading" class="text-lg font-semibold">"Dry run"</h2>
                    <p class="mt-1 text-sm text-slate-600">"What running the campaign would do from now, on paper: nothing is sent. It assumes nobody replies."</p>
                </div>
                <button type="button" class=format!("{BUTTON_QUIET} shrink-0") on:click=run disabled=move || running.get()>
                    {move || if running.get() { "Working…" } else { "Dry run" }}
                </button>
            </div>
            {move || result.get().map(|d| view! { <DryRunResult d nodes/> })}
        </section>
    }
}

#[component]
fn DryRunResult(d: DryRun, nodes: StoredValue<Vec<NodeDraft>>) -> impl IntoView {
    let name = move |key: &str| nodes.with_value(|n| step_name(n, key));
    let at = |t: Option<chrono::DateTime<Utc>>| t.map(when).unwrap_or_else(|| "—".into());
    let figures = [
        ("Contacts", d.contacts.to_string()),
        ("Sends planned", d.sends.to_string()),
        ("First send", at(d.first_send_at)),
        ("Expected finish", at(d.expected_finish)),
    ];
    view! {
        <div data-testid="dry-run-result">
            <dl class="mt-4 grid grid-cols-2 gap-3 text-sm">
                {figures.into_iter().map(|(label, value)| view! {
                    <div><dt class="text-slate-500">{label}</dt><dd class="font-semibold">{value}</dd></div>
                }).collect_view()}
            </dl>
            <h3 class="mt-4 text-sm font-semibold">"First planned sends"</h3>
            {if d.first_sends.is_empty() {
                view! { <p class="mt-1 text-sm text-slate-500">"No sends are planned."</p> }.into_any()
            } else {
                view! {
                    <div class="mt-1">
                        <DataTable headers={&["Contact", "Step", "Channel", "When"]} testid="dry-run-sends">
                            {d.first_sends.into_iter().map(|s| view! {
                                <tr>
                                    <td class="px-4 py-2">{s.contact_name}</td>
                                    <td class="px-4 py-2">{name(&s.node)}</td>
                                    <td class="px-4 py-2">{s.channel.as_str()}</td>
                                    <td class="px-4 py-2 whitespace-nowrap">{when(s.at)}</td>
                                </tr>
                            }).collect_view()}
                        </DataTable>
                    </div>
                }.into_any()
            }}
            <h3 class="mt-4 text-sm font-semibold">"Would not send"</h3>
            {if d.held.is_empty() {
                view! { <p class="mt-1 text-sm text-slate-500">"Every planned step can send."</p> }.into_any()
            } else {
                view! {
                    <ul class="mt-1 space-y-1 text-sm" data-testid="dry-run-held">
                        {d.held.into_iter().map(|h| view! {
                            <li>
                                <Badge tone=Tone::Warn text=format!("{} contacts", h.contacts)/>" "
                                <span class="text-slate-500">{if h.node == "-" { String::new() } else { format!("{}: ", name(&h.node)) }}</span>
                                {h.reason}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </div>
    }
}

/// Sends one step of the funnel to the signed-in user, rendered with them as the contact.
#[component]
pub fn TestSendForm(id: Uuid, nodes: StoredValue<Vec<NodeDraft>>) -> impl IntoView {
    let toasts = use_toasts();
    let steps: Vec<(String, String)> = nodes.with_value(|nodes| {
        nodes
            .iter()
            .filter(|n| matches!(NodeKind::parse(&n.kind), Some(NodeKind::SmsSend | NodeKind::EmailSend | NodeKind::VoicemailDrop)))
            .map(|n| (n.key.clone(), step_name(nodes, &n.key)))
            .collect()
    });
    let chosen = RwSignal::new(steps.first().map(|s| s.0.clone()).unwrap_or_default());
    let sending = RwSignal::new(false);
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let node = chosen.get_untracked();
        sending.set(true);
        spawn_local(async move {
            match test_send(id, node).await {
                Ok(r) => toasts.success(format!("Sent to {} via {}", r.to, r.provider)),
                Err(e) => toasts.error(e.error),
            }
            sending.try_set(false);
        });
    };
    view! {
        <form class=CARD on:submit=send aria-labelledby="test-send-heading" data-testid="test-send">
            <h2 id="test-send-heading" class="text-lg font-semibold">"Test send"</h2>
            <p class="mt-1 text-sm text-slate-600">"Sends a step to yourself, with you as the contact: texts and voicemail to your mobile number (Settings), email to your address."</p>
            {if steps.is_empty() {
                view! { <p class="mt-3 text-sm text-slate-500">"The funnel has no send steps yet."</p> }.into_any()
            } else {
                view! {
                    <div class="mt-3 flex flex-wrap items-end gap-2">
                        <label class="block grow text-sm">
                            <span class="font-medium text-slate-700">"Step to send"</span>
                            <select class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2" name="node"
                                on:change=move |ev| chosen.set(event_target_value(&ev))>
                                {steps.into_iter().map(|(key, label)| view! { <option value=key>{label}</option> }).collect_view()}
                            </select>
                        </label>
                        <button type="submit" class=BUTTON disabled=move || sending.get()>
                            {move || if sending.get() { "Sending…" } else { "Send to me" }}
                        </button>
                    </div>
                }.into_any()
            }}
        </form>
    }
}

/// When the campaign may send: hours of the day and days of the week, in each contact's time
/// zone; and the opt-out line the first text carries.
#[component]
pub fn SendWindowForm(id: Uuid, live: RwSignal<CampaignDetail>) -> impl IntoView {
    let toasts = use_toasts();
    let w = live.with_untracked(|d| d.window.clone());
    let start = RwSignal::new(w.start);
    let end = RwSignal::new(w.end);
    let days = RwSignal::new(w.days);
    let opt_out = RwSignal::new(w.opt_out_line);
    let pause_on_reply = RwSignal::new(w.pause_on_reply.unwrap_or(true));
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let window = SendWindowView {
            start: start.get_untracked(),
            end: end.get_untracked(),
            days: days.get_untracked(),
            opt_out_line: opt_out.get_untracked(),
            pause_on_reply: Some(pause_on_reply.get_untracked()),
        };
        spawn_local(async move {
            match save_send_window(id, window).await {
                Ok(d) => {
                    // Show the window as stored (times normalised, days sorted).
                    start.try_set(d.window.start.clone());
                    end.try_set(d.window.end.clone());
                    days.try_set(d.window.days.clone());
                    opt_out.try_set(d.window.opt_out_line.clone());
                    pause_on_reply.try_set(d.window.pause_on_reply.unwrap_or(true));
                    refresh(live, d);
                    toasts.success("Send window saved");
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <form class=CARD on:submit=save aria-labelledby="send-window-heading" data-testid="send-window">
            <h2 id="send-window-heading" class="text-lg font-semibold">"Send window"</h2>
            <p class="mt-1 text-sm text-slate-600">"Messages go out only inside these hours, in each contact's time zone (the event's when the contact has none). An end of 24:00 is midnight."</p>
            <div class="mt-3 grid gap-4 sm:grid-cols-2">
                <TextField label="From (HH:MM)" name="window_start" value=start placeholder="09:00" required=true/>
                <TextField label="Until (HH:MM)" name="window_end" value=end placeholder="20:00" required=true/>
            </div>
            <fieldset class="mt-4">
                <legend class="text-sm font-medium text-slate-700">"Days"</legend>
                <div class="mt-1 flex flex-wrap gap-x-4 gap-y-2">
                    {WEEKDAYS.into_iter().map(|(n, day)| view! {
                        <label class="inline-flex items-center gap-1.5 text-sm">
                            // The attribute for the server's HTML, the property once hydrated.
                            <input type="checkbox" name="window_days" value=n.to_string()
                                checked=days.with_untracked(|d| d.contains(&n))
                                prop:checked=move || days.with(|d| d.contains(&n))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    days.update(|d| {
                                        d.retain(|x| *x != n);
                                        if on {
                                            d.push(n);
                                            d.sort();
                                        }
                                    });
                                }/>
                            {day}
                        </label>
                    }).collect_view()}
                </div>
            </fieldset>
            <div class="mt-4">
                <TextField label="Opt-out line (the first text to each contact ends with it)" name="opt_out_line" value=opt_out/>
            </div>
            <label class="mt-4 inline-flex items-center gap-1.5 text-sm">
                <input type="checkbox" name="pause_on_reply"
                    checked=pause_on_reply.get_untracked()
                    prop:checked=move || pause_on_reply.get()
                    on:change=move |ev| pause_on_reply.set(event_target_checked(&ev))/>
                "Pause a contact's run when they reply, until someone resumes it"
            </label>
            <div class="mt-4"><button type="submit" class=BUTTON>"Save send window"</button></div>
        </form>
    }
}

/// What the user may do to one contact's run, given where the engine is with it.
fn actions_for(e: &EnrollmentView) -> Vec<EnrollmentAction> {
    use EngineState as S;
    use EnrollmentAction as A;
    let mut actions = Vec::new();
    match e.engine_state {
        S::Active | S::Held => actions.push(A::Pause),
        S::Paused => actions.push(A::Resume),
        _ => {}
    }
    // A held contact's send has an unknown outcome: the BDR says whether it went out.
    if e.engine_state == S::Held {
        actions.extend([A::MarkSent, A::SendAgain]);
    }
    if matches!(e.engine_state, S::Active | S::Paused | S::Held) && e.current_node.is_some() {
        actions.push(A::Skip);
    }
    if !matches!(e.engine_state, S::Removed | S::Finished) {
        actions.push(A::Remove);
    }
    actions
}

fn button_label(a: EnrollmentAction) -> &'static str {
    match a {
        EnrollmentAction::Pause => "Pause",
        EnrollmentAction::Resume => "Resume",
        EnrollmentAction::Remove => "Remove",
        EnrollmentAction::Skip => "Skip step",
        EnrollmentAction::MarkSent => "Mark as sent",
        EnrollmentAction::SendAgain => "Send again",
    }
}

/// The campaign's contacts with where the engine is with each, and what can be done to them.
#[component]
pub fn EnrollmentTable(
    id: Uuid,
    live: RwSignal<CampaignDetail>,
    enrollments: Memo<Vec<EnrollmentView>>,
    nodes: StoredValue<Vec<NodeDraft>>,
) -> impl IntoView {
    view! {
        <DataTable headers={&["Contact", "Status", "Stage", "Engine", "Step", "Next run", "Held because", "Actions"]} testid="enrollments">
            // Keyed by everything a row shows, so a poll re-renders only the rows that changed.
            <For
                each=move || enrollments.get()
                key=|e| (e.id, e.status, e.engine_state, e.current_node.clone(), e.next_run_at, e.held_reason.clone(), e.stage_key.clone())
                let:e
            >
                <EnrollmentRow id live e nodes/>
            </For>
        </DataTable>
    }
}

#[component]
fn EnrollmentRow(id: Uuid, live: RwSignal<CampaignDetail>, e: EnrollmentView, nodes: StoredValue<Vec<NodeDraft>>) -> impl IntoView {
    let toasts = use_toasts();
    let busy = RwSignal::new(false);
    let (enrollment, name) = (e.id, e.contact_name.clone());
    let act = move |action: EnrollmentAction| {
        let name = name.clone();
        let sure = action != EnrollmentAction::Remove
            || window()
                .confirm_with_message(&format!("Remove {name} from this campaign? Nothing more is sent to them."))
                .unwrap_or(false);
        if !sure {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match act_on_enrollment(id, enrollment, action).await {
                Ok(d) => {
                    toasts.success(format!("{name}: {}", action.label().to_lowercase()));
                    refresh(live, d);
                }
                Err(err) => toasts.error(err.error),
            }
            busy.try_set(false);
        });
    };
    let running = matches!(e.engine_state, EngineState::Active | EngineState::Held);
    let next = match e.next_run_at {
        Some(t) if running && t <= Utc::now() => "Due now".to_string(),
        Some(t) if running => when(t),
        _ => "—".to_string(),
    };
    let tone = match e.engine_state {
        EngineState::Active => Tone::Good,
        EngineState::Held => Tone::Warn,
        _ => Tone::Neutral,
    };
    let step = e.current_node.as_deref().map(|k| nodes.with_value(|n| step_name(n, k))).unwrap_or_default();
    view! {
        <tr data-contact=e.contact_name.clone()>
            <td class="px-4 py-2"><a class="text-indigo-700 hover:underline" href=format!("/leads/contacts/{}", e.contact_id)>{e.contact_name.clone()}</a></td>
            <td class="px-4 py-2">{e.status.as_str()}</td>
            <td class="px-4 py-2">{e.stage_key.clone().unwrap_or_default()}</td>
            <td class="px-4 py-2" data-col="engine"><Badge tone text=e.engine_state.as_str()/></td>
            <td class="px-4 py-2">{step}</td>
            <td class="px-4 py-2 whitespace-nowrap">{next}</td>
            <td class="px-4 py-2 text-slate-600">{e.held_reason.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="px-4 py-2">
                <div class="flex flex-wrap gap-1">
                    {actions_for(&e).into_iter().map(|a| view! {
                        <button type="button" class="whitespace-nowrap rounded-md border border-slate-300 bg-white px-2 py-1 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-50"
                            aria-label=format!("{} {}", button_label(a), e.contact_name)
                            disabled=move || busy.get()
                            on:click={
                                let act = act.clone();
                                move |_| act(a)
                            }>
                            {button_label(a)}
                        </button>
                    }).collect_view()}
                </div>
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::EnrollmentStatus;
    use EnrollmentAction as A;

    fn at(state: EngineState, node: Option<&str>) -> EnrollmentView {
        EnrollmentView {
            id: Uuid::nil(),
            contact_id: Uuid::nil(),
            contact_name: "Ann".into(),
            status: EnrollmentStatus::NoActivity,
            stage_key: None,
            engine_state: state,
            current_node: node.map(String::from),
            next_run_at: None,
            held_reason: None,
        }
    }

    #[test]
    fn offers_only_the_actions_the_engine_state_allows() {
        assert_eq!(actions_for(&at(EngineState::Active, Some("N2"))), [A::Pause, A::Skip, A::Remove]);
        assert_eq!(actions_for(&at(EngineState::Active, None)), [A::Pause, A::Remove]);
        assert_eq!(actions_for(&at(EngineState::Paused, Some("N2"))), [A::Resume, A::Skip, A::Remove]);
        assert_eq!(actions_for(&at(EngineState::Held, Some("N2"))), [A::Pause, A::MarkSent, A::SendAgain, A::Skip, A::Remove]);
        assert_eq!(actions_for(&at(EngineState::Stopped, Some("N2"))), [A::Remove]);
        assert!(actions_for(&at(EngineState::Removed, Some("N2"))).is_empty());
        assert!(actions_for(&at(EngineState::Finished, None)).is_empty());
    }

    #[test]
    fn names_steps_by_key_and_name() {
        let node = NodeDraft { key: "N2".into(), kind: "sms_send".into(), name: "Invitation text".into(), config: serde_json::json!({}), x: 0.0, y: 0.0 };
        assert_eq!(step_name(&[node], "N2"), "N2 · Invitation text");
        assert_eq!(step_name(&[], "N9"), "N9");
    }
}
