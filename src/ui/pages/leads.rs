use crate::ui::components::{EmptyState, PageHeader};
use leptos::prelude::*;

#[component]
pub fn LeadsPage() -> impl IntoView {
    view! {
        <PageHeader title="Leads" subtitle="Everyone your campaigns reach"/>
        <EmptyState title="Search and import are not available yet">
            "Contacts will be searchable here, with filters by campaign, status and stage, and CSV import and export. "
            "Contacts already enrolled show in each "<a class="text-indigo-600 hover:underline" href="/campaigns">"campaign"</a>"."
        </EmptyState>
    }
}
