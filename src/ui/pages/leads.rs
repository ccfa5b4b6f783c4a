//! Leads: everyone the user's campaigns reach. Search and filters, keyset pages, bulk status
//! changes, a contact's page, CSV export, and CSV import (upload, map, watch it run).
use crate::api::leads::{bulk_set_status, erase_contact, get_contact, get_import, list_leads, start_import};
use crate::api::campaigns::list_campaigns;
use crate::domain::AppError;
use crate::domain::campaign::{CampaignSummary, Direction, EnrollmentStatus};
use crate::domain::contact::{
    BulkStatusChange, ContactDetail, ImportField, ImportStatus, ImportView, Lead, LeadFilter, TimelineEntry, TimelineEvent,
};
use crate::ui::components::{BUTTON, BUTTON_QUIET, CARD, Badge, DataTable, Loaded, PageHeader, Tone, non_empty, when};
use crate::ui::toast::use_toasts;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use std::collections::HashSet;
use std::time::Duration;
use uuid::Uuid;

const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm";

#[component]
pub fn LeadsPage() -> impl IntoView {
    let toasts = use_toasts();
    let campaigns = Resource::new(|| (), |_| list_campaigns(None, None, None, None));
    let q = RwSignal::new(String::new());
    let stage = RwSignal::new(String::new());
    let filter = RwSignal::new(LeadFilter::default());
    let rows = RwSignal::new(Vec::<Lead>::new());
    let next = RwSignal::new(None::<Uuid>);
    let total = RwSignal::new(0i64);
    let loaded = RwSignal::new(false);
    let selected = RwSignal::new(HashSet::<Uuid>::new());
    let all_matching = RwSignal::new(false);
    let new_status = RwSignal::new(EnrollmentStatus::NeedsBdr.as_str().to_string());

    let load = move |after: Option<Uuid>| {
        let f = filter.get_untracked();
        spawn_local(async move {
            match list_leads(f, after).await {
                Ok(page) => {
                    if after.is_none() {
                        rows.set(page.leads);
                        selected.set(HashSet::new());
                        all_matching.set(false);
                    } else {
                        rows.update(|r| r.extend(page.leads));
                    }
                    next.set(page.next);
                    total.set(page.total);
                    loaded.set(true);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    Effect::new(move |_| {
        filter.track();
        load(None);
    });

    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        filter.update(|f| {
            f.q = q.get_untracked();
            f.stage = stage.get_untracked();
        });
    };
    let apply = move |_| {
        let Some(status) = EnrollmentStatus::parse(&new_status.get_untracked()) else { return };
        let change = BulkStatusChange {
            ids: selected.get_untracked().into_iter().collect(),
            all_matching: all_matching.get_untracked(),
            filter: filter.get_untracked(),
            status,
        };
        spawn_local(async move {
            match bulk_set_status(change).await {
                Ok(n) => {
                    toasts.success(format!("Changed {n} lead{}", if n == 1 { "" } else { "s" }));
                    load(None);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let chosen = move || if all_matching.get() { total.get() } else { selected.with(|s| s.len() as i64) };

    view! {
        <PageHeader title="Leads" subtitle="Everyone your campaigns reach"/>
        <ImportForm campaigns/>
        <form class=format!("{CARD} mt-6 grid gap-3 sm:grid-cols-5 sm:items-end") on:submit=search data-testid="lead-filters">
            <label class="block text-sm sm:col-span-2">
                <span class="font-medium text-slate-700">"Search"</span>
                <input class=INPUT type="search" name="q" placeholder="Name, email, phone or company" bind:value=q/>
            </label>
            <label class="block text-sm">
                <span class="font-medium text-slate-700">"Campaign"</span>
                <select class=INPUT name="campaign" on:change=move |ev| {
                    let v = Uuid::parse_str(&event_target_value(&ev)).ok();
                    filter.update(|f| f.campaign_id = v);
                }>
                    <option value="">"All campaigns"</option>
                    <CampaignOptions campaigns/>
                </select>
            </label>
            <label class="block text-sm">
                <span class="font-medium text-slate-700">"Status"</span>
                <select class=INPUT name="status" on:change=move |ev| {
                    let v = EnrollmentStatus::parse(&event_target_value(&ev));
                    filter.update(|f| f.status = v);
                }>
                    <option value="">"Any status"</option>
                    {EnrollmentStatus::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <label class="block text-sm">
                <span class="font-medium text-slate-700">"Stage"</span>
                <input class=INPUT name="stage" placeholder="e.g. invited" bind:value=stage/>
            </label>
            <div class="flex gap-2 sm:col-span-5">
                <button type="submit" class=BUTTON>"Search"</button>
                <a class=BUTTON_QUIET href=move || export_href(&filter.get()) download="leads.csv">"Export CSV"</a>
            </div>
        </form>

        <div class="mt-4 flex flex-wrap items-center gap-3 text-sm" data-testid="bulk-bar">
            <span data-testid="lead-count">{move || format!("{} matching", total.get())}</span>
            <span class="text-slate-500">{move || format!("{} selected", chosen())}</span>
            <button type="button" class=BUTTON_QUIET on:click=move |_| all_matching.set(true)
                disabled=move || total.get() == 0 || all_matching.get()>
                {move || format!("Select all {} matching", total.get())}
            </button>
            <select class="rounded-md border border-slate-300 px-2 py-1.5" aria-label="New status"
                on:change=move |ev| new_status.set(event_target_value(&ev)) prop:value=move || new_status.get()>
                {EnrollmentStatus::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
            </select>
            <button type="button" class=BUTTON on:click=apply disabled=move || chosen() == 0>"Change status"</button>
        </div>

        <div class="mt-3">
            {move || (loaded.get() && rows.with(Vec::is_empty)).then(|| view! {
                <p class="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-600">
                    "No leads match. Import a CSV file into one of your campaigns to add some."
                </p>
            })}
            <DataTable headers={&["", "Name", "Phone", "Email", "Company", "Campaign", "Status", "Stage"]} testid="leads">
                <For each=move || rows.get() key=|l| l.enrollment_id let:lead>
                    <LeadRow lead selected all_matching/>
                </For>
            </DataTable>
            <div class="mt-3">
                {move || next.get().map(|after| view! {
                    <button type="button" class=BUTTON_QUIET on:click=move |_| load(Some(after))>"Load more"</button>
                })}
            </div>
        </div>
    }
}

#[component]
fn LeadRow(lead: Lead, selected: RwSignal<HashSet<Uuid>>, all_matching: RwSignal<bool>) -> impl IntoView {
    let id = lead.enrollment_id;
    view! {
        <tr>
            <td class="px-4 py-2">
                <input type="checkbox" aria-label=format!("Select {}", lead.name)
                    prop:checked=move || all_matching.get() || selected.with(|s| s.contains(&id))
                    disabled=move || all_matching.get()
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        selected.update(|s| { if on { s.insert(id); } else { s.remove(&id); } });
                    }/>
            </td>
            <td class="px-4 py-2"><a class="font-medium text-indigo-700 hover:underline" href=format!("/leads/contacts/{}", lead.contact_id)>
                {if lead.name.is_empty() { "(no name)".to_string() } else { lead.name.clone() }}</a></td>
            <td class="px-4 py-2">{lead.phone.unwrap_or_default()}</td>
            <td class="px-4 py-2">{lead.email.unwrap_or_default()}</td>
            <td class="px-4 py-2">{lead.company.unwrap_or_default()}</td>
            <td class="px-4 py-2">{lead.campaign_name}</td>
            <td class="px-4 py-2" data-testid="lead-status">{lead.status.as_str()}</td>
            <td class="px-4 py-2">{lead.stage_key.unwrap_or_default()}</td>
        </tr>
    }
}

#[component]
fn CampaignOptions(campaigns: Resource<Result<Vec<CampaignSummary>, AppError>>) -> impl IntoView {
    view! {
        <Transition>
            {move || campaigns.get().and_then(Result::ok).map(|list| list.into_iter().map(|c| view! {
                <option value=c.id.to_string()>{c.name}</option>
            }).collect_view())}
        </Transition>
    }
}

/// A plain multipart form: the browser streams the file, the server spools it and sends the
/// browser on to the mapping page.
#[component]
fn ImportForm(campaigns: Resource<Result<Vec<CampaignSummary>, AppError>>) -> impl IntoView {
    view! {
        <form class=CARD method="post" action="/api/imports" enctype="multipart/form-data" data-testid="import-form">
            <h2 class="text-lg font-semibold">"Import contacts from CSV"</h2>
            <p class="text-sm text-slate-500">"Up to a million rows. You choose what each column holds before anything is imported."</p>
            <div class="mt-4 grid gap-4 sm:grid-cols-3">
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"Into campaign"</span>
                    <select class=INPUT name="campaign_id" required>
                        <CampaignOptions campaigns/>
                    </select>
                </label>
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"Consent source"</span>
                    <input class=INPUT name="consent_source" placeholder="e.g. Spring expo sign-up sheet"/>
                </label>
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"CSV file"</span>
                    <input class=INPUT type="file" name="file" accept=".csv,text/csv" required/>
                </label>
            </div>
            <div class="mt-4"><button type="submit" class=BUTTON>"Upload"</button></div>
        </form>
    }
}

/// The export link for the current filter.
fn export_href(f: &LeadFilter) -> String {
    let mut parts = Vec::new();
    let q = f.q.trim();
    if !q.is_empty() {
        parts.push(format!("q={}", encode(q)));
    }
    if let Some(c) = f.campaign_id {
        parts.push(format!("campaign_id={c}"));
    }
    if let Some(s) = f.status {
        parts.push(format!("status={}", encode(s.as_str())));
    }
    if let Some(s) = non_empty(f.stage.clone()) {
        parts.push(format!("stage={}", encode(&s)));
    }
    format!("/api/contacts/export.csv?{}", parts.join("&"))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let params = use_params_map();
    let tick = RwSignal::new(0u32);
    let import = Resource::new(
        move || (params.get().get("id").and_then(|id| Uuid::parse_str(&id).ok()), tick.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_import(id).await,
                None => Err(AppError::not_found("Import")),
            }
        },
    );
    // While the job runs, ask again shortly (effects run only in the browser).
    Effect::new(move |_| {
        let running = import
            .get()
            .and_then(Result::ok)
            .is_some_and(|v| matches!(v.status, ImportStatus::Queued | ImportStatus::Running));
        if running {
            set_timeout(move || tick.update(|t| *t += 1), Duration::from_millis(700));
        }
    });
    view! {
        <PageHeader title="Import contacts"/>
        <Loaded resource=import render=move |v: ImportView| view! {
            <p class="mb-4 text-sm text-slate-600">
                {v.file_name.clone()}" into "
                <a class="text-indigo-700 hover:underline" href=format!("/campaigns/{}", v.campaign_id)>{v.campaign_name.clone()}</a>
                {format!(" · {} rows", v.total_rows)}
            </p>
            {if v.status == ImportStatus::Uploaded {
                view! { <ImportMapping import=v tick/> }.into_any()
            } else {
                view! { <ImportProgress import=v/> }.into_any()
            }}
        }/>
    }
}

#[component]
fn ImportMapping(import: ImportView, tick: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let mapping = RwSignal::new(import.mapping.clone());
    let consent = RwSignal::new(import.consent_source.clone());
    let id = import.id;
    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (m, c) = (mapping.get_untracked(), consent.get_untracked());
        spawn_local(async move {
            match start_import(id, m, c).await {
                Ok(_) => tick.update(|t| *t += 1),
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <form class=CARD on:submit=start data-testid="import-mapping">
            <h2 class="text-lg font-semibold">"What does each column hold?"</h2>
            <p class="text-sm text-slate-500">"Guessed from the headers. People are matched by phone, else by email; other columns can be kept as custom fields."</p>
            <div class="mt-4 overflow-x-auto">
                <table class="min-w-full text-sm">
                    <thead><tr>
                        {import.headers.iter().enumerate().map(|(i, h)| view! {
                            <th class="px-3 py-2 text-left align-top">
                                <span class="block font-medium">{h.clone()}</span>
                                <select class="mt-1 rounded-md border border-slate-300 px-2 py-1" aria-label=format!("Column {}", h)
                                    on:change=move |ev| {
                                        if let Some(f) = ImportField::parse(&event_target_value(&ev)) {
                                            mapping.update(|m| m[i] = f);
                                        }
                                    }>
                                    {ImportField::ALL.iter().map(|f| view! {
                                        <option value=f.as_str() selected=mapping.with_untracked(|m| m[i] == *f)>{f.label()}</option>
                                    }).collect_view()}
                                </select>
                            </th>
                        }).collect_view()}
                    </tr></thead>
                    <tbody class="divide-y divide-slate-100 text-slate-600">
                        {import.preview.iter().map(|row| view! {
                            <tr>{row.iter().map(|cell| view! { <td class="px-3 py-1.5">{cell.clone()}</td> }).collect_view()}</tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <label class="mt-4 block max-w-md text-sm">
                <span class="font-medium text-slate-700">"Consent source"</span>
                <input class=INPUT name="consent_source" bind:value=consent/>
            </label>
            <div class="mt-4"><button type="submit" class=BUTTON>"Start import"</button></div>
        </form>
    }
}

#[component]
fn ImportProgress(import: ImportView) -> impl IntoView {
    let pct = import.percent();
    let counts = [
        ("Created", import.created),
        ("Updated", import.updated),
        ("Enrolled", import.enrolled),
        ("Skipped", import.skipped),
        ("Merged duplicates", import.merged),
        ("Conflicts", import.conflicts),
        ("Suppressed", import.suppressed),
    ];
    let noted = import.skipped + import.conflicts + import.suppressed;
    view! {
        <div class=CARD data-testid="import-progress">
            <p class="text-sm font-medium" data-testid="import-status">{match import.status {
                ImportStatus::Done => "Import finished".to_string(),
                ImportStatus::Failed => format!("Import failed: {}", import.error.clone().unwrap_or_default()),
                _ => format!("Importing… {} of {} rows", import.processed_rows, import.total_rows),
            }}</p>
            <div class="mt-3 h-3 w-full overflow-hidden rounded-full bg-slate-100" role="progressbar"
                aria-valuemin="0" aria-valuemax="100" aria-valuenow=pct.to_string()>
                <div class="h-full bg-indigo-600 transition-all" style=format!("width: {pct}%")></div>
            </div>
            <dl class="mt-4 grid grid-cols-2 gap-3 text-sm sm:grid-cols-7">
                {counts.into_iter().map(|(label, n)| view! {
                    <div><dt class="text-slate-500">{label}</dt><dd class="text-lg font-semibold" data-testid=format!("count-{}", label.to_lowercase())>{n}</dd></div>
                }).collect_view()}
            </dl>
            {(noted > 0).then(|| view! {
                <a class=format!("{BUTTON_QUIET} mt-4") href=format!("/api/imports/{}/issues.csv", import.id) download="">
                    "Download rejected and noted rows (CSV)"
                </a>
            })}
            <a class="ml-3 text-sm text-indigo-700 hover:underline" href="/leads">"Back to Leads"</a>
        </div>
    }
}

/// Admins erase a contact on request: personal data gone, their addresses kept suppressed.
#[component]
fn EraseContact(id: Uuid, erased: bool, on_done: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let toasts = use_toasts();
    let is_admin = crate::ui::session::use_is_admin();
    let reason = RwSignal::new(String::new());
    let erase = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let r = reason.get_untracked();
        spawn_local(async move {
            match erase_contact(id, r).await {
                Ok(()) => {
                    toasts.success("Contact erased; their phone and email stay suppressed");
                    on_done();
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <Show when=move || is_admin.get()>
            {if erased {
                view! { <p class="mt-4 text-sm text-slate-500" data-testid="erased">"Erased on request."</p> }.into_any()
            } else {
                view! {
                    <form class="mt-4 flex flex-wrap items-end gap-2" on:submit=erase data-testid="erase-contact">
                        <label class="text-sm">
                            <span class="font-medium text-slate-700">"Erase on request: reason"</span>
                            <input class="mt-1 block rounded-md border border-slate-300 px-3 py-2" name="erase-reason" required bind:value=reason/>
                        </label>
                        <button type="submit" class=BUTTON_QUIET>"Erase contact"</button>
                    </form>
                }.into_any()
            }}
        </Show>
    }
}

#[component]
pub fn ContactPage() -> impl IntoView {
    let params = use_params_map();
    let contact = Resource::new(
        move || params.get().get("id").and_then(|id| Uuid::parse_str(&id).ok()),
        |id| async move {
            match id {
                Some(id) => get_contact(id).await,
                None => Err(AppError::not_found("Contact")),
            }
        },
    );
    view! {
        <Loaded resource=contact render=move |c: ContactDetail| {
            let field = |label: &'static str, v: Option<String>| view! {
                <p><span class="text-slate-500">{label}": "</span>{v.unwrap_or_else(|| "—".into())}</p>
            };
            view! {
                <leptos_meta::Title text=c.name.clone()/>
                <h1 class="text-2xl font-semibold tracking-tight">{if c.name.is_empty() { "(no name)".to_string() } else { c.name.clone() }}</h1>
                <div class=format!("{CARD} mt-4 grid gap-2 text-sm sm:grid-cols-2")>
                    {field("Phone", c.phone.clone())}
                    {field("Email", c.email.clone())}
                    {field("Company", c.company.clone())}
                    {field("Time zone", c.time_zone.clone())}
                    {field("Consent source", c.consent_source.clone())}
                </div>
                <EraseContact id=c.id erased=c.erased_at.is_some() on_done=move || contact.refetch()/>
                <h2 class="mt-6 mb-2 font-semibold">"Campaigns"</h2>
                <DataTable headers={&["Campaign", "Status", "Stage", "Enrolled"]}>
                    {c.enrollments.into_iter().map(|e| view! {
                        <tr>
                            <td class="px-4 py-2"><a class="text-indigo-700 hover:underline" href=format!("/campaigns/{}", e.campaign_id)>{e.campaign_name}</a></td>
                            <td class="px-4 py-2">{e.status.as_str()}</td>
                            <td class="px-4 py-2">{e.stage_key.unwrap_or_default()}</td>
                            <td class="px-4 py-2">{when(e.created_at)}</td>
                        </tr>
                    }).collect_view()}
                </DataTable>
                <h2 class="mt-6 mb-2 font-semibold">"Timeline"</h2>
                {if c.timeline.is_empty() {
                    view! { <p class="text-sm text-slate-500">"Nothing has happened with this contact yet."</p> }.into_any()
                } else {
                    view! {
                        <ol class="space-y-2" data-testid="timeline">
                            {c.timeline.into_iter().map(|t| view! { <TimelineItem entry=t/> }).collect_view()}
                        </ol>
                    }.into_any()
                }}
            }
        }/>
    }
}

/// A message (with where its send is, so a failed or unknown one stands out) or a step the
/// engine or a user took.
#[component]
fn TimelineItem(entry: TimelineEntry) -> impl IntoView {
    let context = [entry.campaign_name, entry.node.map(|n| format!("step {n}"))].into_iter().flatten().map(|s| format!(" · {s}")).collect::<String>();
    match entry.event {
        TimelineEvent::Message { channel, direction, subject, body, send_state, delivery_status, error, audio_url } => view! {
            <li class="rounded-lg border border-slate-200 bg-white px-4 py-2 text-sm" data-kind="message">
                <p class="flex flex-wrap items-center gap-2 text-xs text-slate-500">
                    <span>{when(entry.at)}" · "{channel.as_str()}" · "{if direction == Direction::In { "received" } else { "outgoing" }}{context}</span>
                    {send_state.map(|s| view! { <Badge tone=Tone::of_state(&s) text=s/> })}
                    {delivery_status.map(|s| view! { <Badge tone=Tone::of_state(&s) text=s/> })}
                </p>
                {subject.map(|s| view! { <p class="font-medium">{s}</p> })}
                <p class="whitespace-pre-wrap">{body}</p>
                {audio_url.map(|u| view! { <audio controls preload="none" src=u class="mt-2 w-full max-w-xs" data-testid="timeline-audio"></audio> })}
                {error.map(|e| view! { <p class="mt-1 text-xs text-red-700">{e}</p> })}
            </li>
        }.into_any(),
        TimelineEvent::Step { kind, detail } => view! {
            <li class="rounded-lg border border-dashed border-slate-300 bg-slate-50 px-4 py-2 text-sm" data-kind="step">
                <p class="flex flex-wrap items-center gap-2 text-xs text-slate-500">
                    <span>{when(entry.at)}{context}</span>
                    <Badge tone=Tone::of_state(&kind) text=kind/>
                </p>
                <p class="text-slate-700">{detail}</p>
            </li>
        }.into_any(),
    }
}
