use crate::api::records::dashboard;
use crate::domain::campaign::DashboardCounts;
use crate::ui::components::{CARD, Loaded, PageHeader};
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let counts = Resource::new(|| (), |_| dashboard());
    view! {
        <PageHeader title="Dashboard" subtitle="Your campaigns at a glance"/>
        <Loaded resource=counts render={|c: DashboardCounts| {
            let tiles = [
                ("Active campaigns", c.campaigns_active, "campaigns-active"),
                ("Campaigns", c.campaigns_total, "campaigns-total"),
                ("Contacts enrolled", c.enrolled, "enrolled"),
                ("Need a BDR", c.needs_bdr, "needs-bdr"),
                ("RSVPs", c.rsvps, "rsvps"),
                ("Attended", c.attended, "attended"),
            ];
            view! {
                <div class="grid grid-cols-2 gap-4 lg:grid-cols-3">
                    {tiles.into_iter().map(|(label, n, id)| view! {
                        <div class=CARD data-testid=id>
                            <p class="text-sm text-slate-500">{label}</p>
                            <p class="mt-1 text-3xl font-semibold">{n}</p>
                        </div>
                    }).collect_view()}
                </div>
            }
        }}/>
    }
}
