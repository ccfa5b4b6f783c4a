use crate::api::records::{get_campaign, list_campaigns};
use crate::domain::campaign::CampaignSummary;
use crate::ui::components::{CARD, EmptyState, DataTable, Loaded, PageHeader, when};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

#[component]
pub fn CampaignsPage() -> impl IntoView {
    let campaigns = Resource::new(|| (), |_| list_campaigns());
    view! {
        <PageHeader title="Campaigns" subtitle="Events and the contacts invited to them"/>
        <Loaded resource=campaigns render={|list: Vec<CampaignSummary>| {
            if list.is_empty() {
                return view! {
                    <EmptyState title="No campaigns yet">
                        "Campaigns are created from a published funnel template. Once one exists, it appears here with its event date and contacts."
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
    }
}

#[component]
pub fn CampaignPage() -> impl IntoView {
    let params = use_params_map();
    let campaign = Resource::new(
        move || params.get().get("id").and_then(|id| Uuid::parse_str(&id).ok()),
        |id| async move {
            match id {
                Some(id) => get_campaign(id).await,
                None => Err(crate::domain::AppError::not_found("Campaign")),
            }
        },
    );
    view! {
        <Loaded resource=campaign render={|c: CampaignSummary| view! {
            <leptos_meta::Title text=c.name.clone()/>
            <h1 class="text-2xl font-semibold tracking-tight">{c.name.clone()}</h1>
            <div class=format!("{CARD} mt-4 grid gap-2 text-sm sm:grid-cols-2")>
                <p><span class="text-slate-500">"Status: "</span>{c.status.as_str()}</p>
                <p><span class="text-slate-500">"Event: "</span>{c.event_type.as_str()}" · "{when(c.event_start)}" ("{c.event_time_zone.clone()}")"</p>
                <p><span class="text-slate-500">"Venue: "</span>{c.venue.clone().unwrap_or_else(|| "—".into())}</p>
                <p><span class="text-slate-500">"Owner: "</span>{c.owner_name.clone()}</p>
                <p><span class="text-slate-500">"Contacts: "</span>{c.enrolled}</p>
                <p><span class="text-slate-500">"Need a BDR: "</span>{c.needs_bdr}</p>
            </div>
        }}/>
    }
}
