//! Campaigns: the list with filters, starting one from a published template, and a
//! campaign's own page with its status, funnel and contacts (running it: `campaign_run`).
use crate::api::campaigns::{
    change_campaign_status, create_campaign, get_campaign, list_campaigns, move_enrollments, published_templates, save_campaign_graph,
};
use crate::api::admin::list_users;
use crate::ui::builder::{Builder, BuilderState};
use crate::ui::pages::attendees::AttendeeUpload;
use crate::ui::pages::campaign_run::{DryRunPanel, EnrollmentTable, LiveProgress, SendWindowForm, TestSendForm, follow_campaign};
use crate::ui::session::use_is_admin;
use crate::domain::campaign::{
    CampaignAction, CampaignDetail, CampaignStatus, CampaignSummary, EventType, NewCampaignInput,
};
use crate::domain::template::PublishedVersion;
use crate::ui::components::{BUTTON, BUTTON_QUIET, CARD, DataTable, EmptyState, Loaded, PageHeader, TextField, when};
use crate::ui::toast::use_toasts;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use uuid::Uuid;

const SELECT: &str = "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2";

#[component]
pub fn CampaignsPage() -> impl IntoView {
    let status = RwSignal::new(String::new());
    let owner = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let campaigns = Resource::new(
        move || (status.get(), owner.get(), from.get(), to.get()),
        |(s, o, f, t)| list_campaigns(CampaignStatus::parse(&s), Uuid::parse_str(&o).ok(), f.parse().ok(), t.parse().ok()),
    );
    let is_admin = use_is_admin();
    // Only admins see other people's campaigns, so only they filter by owner.
    let owners = Resource::new(move || is_admin.get(), |admin| async move {
        if admin { list_users().await } else { Ok(Vec::new()) }
    });
    view! {
        <PageHeader title="Campaigns" subtitle="Events and the contacts invited to them"/>
        <NewCampaignForm/>
        <div class="mt-6 flex flex-wrap items-end gap-3 text-sm" data-testid="campaign-filters">
            <label>
                <span class="text-slate-600">"Status"</span>
                <select class=SELECT aria-label="Status" on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="">"Any"</option>
                    {CampaignStatus::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <Transition>
                {move || owners.get().and_then(|r| r.ok()).filter(|l| !l.is_empty()).map(|list| view! {
                    <label>
                        <span class="text-slate-600">"Owner"</span>
                        <select class=SELECT aria-label="Owner" on:change=move |ev| owner.set(event_target_value(&ev))>
                            <option value="">"Anyone"</option>
                            {list.into_iter().map(|u| view! { <option value=u.id.to_string()>{u.name}</option> }).collect_view()}
                        </select>
                    </label>
                })}
            </Transition>
            <label><span class="text-slate-600">"Event from"</span><input type="date" class=SELECT bind:value=from/></label>
            <label><span class="text-slate-600">"to"</span><input type="date" class=SELECT bind:value=to/></label>
        </div>
        <div class="mt-4">
            <Loaded resource=campaigns render={|list: Vec<CampaignSummary>| {
                if list.is_empty() {
                    return view! {
                        <EmptyState title="No campaigns here">
                            "Start one from a published funnel template above, or change the filters."
                        </EmptyState>
                    }.into_any();
                }
                view! {
                    <DataTable headers={&["Campaign", "Status", "Event", "Owner", "Contacts", "Need a BDR"]}>
                        {list.into_iter().map(|c| view! {
                            <tr>
                                <td class="px-4 py-2"><a class="font-medium text-indigo-700 hover:underline" href=format!("/campaigns/{}", c.id)>{c.name}</a></td>
                                <td class="px-4 py-2">{c.status.as_str()}</td>
                                <td class="px-4 py-2">{when(c.event_start)}" · "{c.event_type.as_str()}</td>
                                <td class="px-4 py-2">{c.owner_name}</td>
                                <td class="px-4 py-2">{c.enrolled}</td>
                                <td class="px-4 py-2">{c.needs_bdr}</td>
                            </tr>
                        }).collect_view()}
                    </DataTable>
                }.into_any()
            }}/>
        </div>
    }
}

#[component]
fn NewCampaignForm() -> impl IntoView {
    let toasts = use_toasts();
    let navigate = use_navigate();
    let versions = Resource::new(|| (), |_| published_templates());
    let name = RwSignal::new(String::new());
    let version = RwSignal::new(String::new());
    let event_type = RwSignal::new(EventType::InPerson.as_str().to_string());
    let start = RwSignal::new(String::new());
    let tz = RwSignal::new("America/New_York".to_string());
    let venue = RwSignal::new(String::new());
    let link = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = NewCampaignInput {
            name: name.get_untracked(),
            template_version_id: Uuid::parse_str(&version.get_untracked()).ok(),
            event_type: EventType::parse(&event_type.get_untracked()),
            event_start: start.get_untracked(),
            event_time_zone: tz.get_untracked(),
            venue: venue.get_untracked(),
            join_link: link.get_untracked(),
            owner_id: None,
            sender_id: None,
        };
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match create_campaign(input).await {
                Ok(c) => navigate(&format!("/campaigns/{}", c.summary.id), Default::default()),
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <form class=CARD on:submit=submit data-testid="new-campaign-form">
            <h2 class="text-lg font-semibold">"Start a campaign"</h2>
            <div class="mt-4 grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
                <TextField label="Name" name="name" value=name required=true/>
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"Funnel template"</span>
                    <select class=SELECT name="template" on:change=move |ev| version.set(event_target_value(&ev))>
                        <option value="">"Choose…"</option>
                        <Transition>
                            {move || versions.get().and_then(|r| r.ok()).map(|list: Vec<PublishedVersion>| list.into_iter().map(|v| view! {
                                <option value=v.version_id.to_string()>{format!("{} (v{})", v.name, v.version)}</option>
                            }).collect_view())}
                        </Transition>
                    </select>
                </label>
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"Event type"</span>
                    <select class=SELECT name="event_type" on:change=move |ev| event_type.set(event_target_value(&ev))>
                        {EventType::ALL.iter().map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <TextField label="Starts (local time)" name="event_start" kind="datetime-local" value=start required=true/>
                <TextField label="Time zone" name="event_time_zone" value=tz required=true/>
                {move || if event_type.get() == EventType::Virtual.as_str() {
                    view! { <TextField label="Join link" name="join_link" kind="url" value=link/> }.into_any()
                } else {
                    view! { <TextField label="Venue" name="venue" value=venue/> }.into_any()
                }}
            </div>
            <div class="mt-4"><button type="submit" class=BUTTON>"Create campaign"</button></div>
        </form>
    }
}

#[component]
pub fn CampaignPage() -> impl IntoView {
    let params = use_params_map();
    let reload = RwSignal::new(0u32);
    let campaign = Resource::new(
        move || (params.get().get("id").and_then(|id| Uuid::parse_str(&id).ok()), reload.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_campaign(id).await,
                None => Err(crate::domain::AppError::not_found("Campaign")),
            }
        },
    );
    view! {
        <Loaded resource=campaign render={move |c: CampaignDetail| view! { <CampaignView c reload/> }}/>
    }
}

#[component]
fn CampaignView(c: CampaignDetail, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let id = c.summary.id;
    let act = move |action: CampaignAction| {
        leptos::task::spawn_local(async move {
            match change_campaign_status(id, action).await {
                Ok(_) => {
                    toasts.success(done(action));
                    reload.update(|n| *n += 1);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let actions: Vec<CampaignAction> = match c.summary.status {
        CampaignStatus::Draft | CampaignStatus::Scheduled => vec![CampaignAction::Activate, CampaignAction::Archive],
        CampaignStatus::Active => vec![CampaignAction::Pause, CampaignAction::Complete, CampaignAction::Archive],
        CampaignStatus::Paused => vec![CampaignAction::Resume, CampaignAction::Complete, CampaignAction::Archive],
        CampaignStatus::Completed => vec![CampaignAction::Archive],
        CampaignStatus::Archived => vec![],
    };
    let s = c.summary.clone();
    let editable = !matches!(s.status, CampaignStatus::Completed | CampaignStatus::Archived);
    let running = matches!(s.status, CampaignStatus::Scheduled | CampaignStatus::Active | CampaignStatus::Paused);
    let builder = BuilderState::new(c.graph.clone(), !editable).in_campaign(id);
    // The page's fresh copy of the campaign: refetched on its real-time events while it runs
    // and replaced by what the enrollment and window actions return, without rebuilding the funnel editor.
    let live = RwSignal::new(c.clone());
    let counts = Memo::new(move |_| live.with(|d| d.counts.clone()));
    let enrollments = Memo::new(move |_| live.with(|d| d.enrollments.clone()));
    let stranded = Memo::new(move |_| live.with(|d| d.stranded.clone()));
    let polling = matches!(s.status, CampaignStatus::Active | CampaignStatus::Paused);
    if polling {
        follow_campaign(id, live);
    }
    let nodes = StoredValue::new(c.graph.nodes.clone());
    let shown = c.enrollments.len() as i64;
    // A running campaign's funnel changes as a new version; contacts on removed steps pause.
    let save_graph = move |_| {
        let graph = builder.snapshot();
        leptos::task::spawn_local(async move {
            match save_campaign_graph(id, graph).await {
                Ok(d) => {
                    toasts.success(if d.stranded.is_empty() { "Funnel saved" } else { "Funnel saved; some contacts need a new step" });
                    reload.update(|n| *n += 1);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <leptos_meta::Title text=s.name.clone()/>
        <div class="flex flex-wrap items-center justify-between gap-3">
            <h1 class="text-2xl font-semibold tracking-tight">{s.name.clone()}</h1>
            <div class="flex gap-2">
                {actions.into_iter().map(|a| view! {
                    <button type="button" class=BUTTON_QUIET on:click=move |_| act(a)>{label(a)}</button>
                }).collect_view()}
            </div>
        </div>
        <div class=format!("{CARD} mt-4 grid gap-2 text-sm sm:grid-cols-2")>
            <p><span class="text-slate-500">"Status: "</span><span data-testid="campaign-status">{s.status.as_str()}</span></p>
            <p><span class="text-slate-500">"Event: "</span>{s.event_type.as_str()}" · "{when(s.event_start)}" ("{s.event_time_zone.clone()}")"</p>
            <p><span class="text-slate-500">"Where: "</span>{s.venue.clone().or(c.join_link.clone()).unwrap_or_else(|| "—".into())}</p>
            <p><span class="text-slate-500">"Owner: "</span>{s.owner_name.clone()}</p>
            <p><span class="text-slate-500">"Contacts: "</span>{s.enrolled}" · need a BDR: "{s.needs_bdr}</p>
            <p><span class="text-slate-500">"Funnel version: "</span>{c.graph_version}</p>
        </div>
        {(!c.issues.is_empty()).then(|| view! {
            <div class="mt-4 rounded-lg border border-amber-200 bg-amber-50 p-4 text-sm" role="alert">
                <p class="font-medium">"The funnel has problems to fix before the campaign can run:"</p>
                <ul class="mt-1 list-disc pl-5">{c.issues.iter().map(|i| view! { <li>{i.to_string()}</li> }).collect_view()}</ul>
            </div>
        })}
        <LiveProgress nodes counts polling/>
        {editable.then(|| view! {
            <div class="mt-6 grid items-start gap-6 lg:grid-cols-2">
                <TestSendForm id nodes/>
                <SendWindowForm id live/>
                <div class="lg:col-span-2"><DryRunPanel id nodes/></div>
            </div>
        })}
        <div class="mt-6 flex items-center justify-between">
            <h2 class="text-lg font-semibold">"Funnel"</h2>
            {editable.then(|| view! {
                <button type="button" class=BUTTON on:click=save_graph>
                    {if running { "Save as a new funnel version" } else { "Save funnel" }}
                </button>
            })}
        </div>
        <div class="mt-2" data-testid="campaign-builder"><Builder state=builder/></div>
        {move || {
            let stranded = stranded.get();
            if stranded.is_empty() {
                return None;
            }
            let ids: Vec<Uuid> = stranded.iter().map(|e| e.id).collect();
            let target = RwSignal::new(nodes.with_value(|ns| ns.first().map(|n| n.key.clone()).unwrap_or_default()));
            let move_them = move |_| {
                let (ids, to) = (ids.clone(), target.get_untracked());
                leptos::task::spawn_local(async move {
                    match move_enrollments(id, ids, to).await {
                        Ok(_) => {
                            toasts.success("Contacts moved; they carry on from there");
                            reload.update(|n| *n += 1);
                        }
                        Err(e) => toasts.error(e.error),
                    }
                });
            };
            Some(view! {
                <div class="mt-6 rounded-lg border border-red-200 bg-red-50 p-4 text-sm" data-testid="stranded">
                    <p class="font-medium">{format!("{} contacts were on steps the last funnel change removed; they are paused until moved:", stranded.len())}</p>
                    <ul class="mt-1 list-disc pl-5">{stranded.iter().map(|e| view! { <li>{e.contact_name.clone()}" (was on "{e.current_node.clone()}")"</li> }).collect_view()}</ul>
                    <div class="mt-3 flex items-center gap-2">
                        <select class="rounded-md border border-slate-300 px-2 py-1" aria-label="Move to step" on:change=move |ev| target.set(event_target_value(&ev))>
                            {nodes.with_value(|ns| ns.iter().map(|n| view! { <option value=n.key.clone()>{format!("{} {}", n.key, n.name)}</option> }).collect_view())}
                        </select>
                        <button type="button" class=BUTTON_QUIET on:click=move_them>"Move them there"</button>
                    </div>
                </div>
            })
        }}
        <div class="mt-6"><AttendeeUpload id live/></div>
        <h2 class="mt-6 text-lg font-semibold">"Contacts"</h2>
        <div class="mt-2">
            {if c.enrollments.is_empty() {
                view! { <EmptyState title="No contacts yet">"Import a CSV file from the Leads page to enroll contacts."</EmptyState> }.into_any()
            } else {
                view! {
                    <EnrollmentTable id live enrollments nodes/>
                    {(s.enrolled > shown).then(|| view! {
                        <p class="mt-2 text-sm text-slate-500">
                            {format!("Showing the first {shown} of {} contacts; ", s.enrolled)}
                            <a class="text-indigo-700 hover:underline" href="/leads">"the Leads page lists them all"</a>"."
                        </p>
                    })}
                }.into_any()
            }}
        </div>
    }
}

fn label(a: CampaignAction) -> &'static str {
    match a {
        CampaignAction::Activate => "Activate",
        CampaignAction::Pause => "Pause",
        CampaignAction::Resume => "Resume",
        CampaignAction::Complete => "Mark completed",
        CampaignAction::Archive => "Archive",
    }
}

fn done(a: CampaignAction) -> &'static str {
    match a {
        CampaignAction::Activate => "Campaign activated",
        CampaignAction::Pause => "Campaign paused",
        CampaignAction::Resume => "Campaign resumed",
        CampaignAction::Complete => "Campaign completed",
        CampaignAction::Archive => "Campaign archived",
    }
}
