use crate::ui::components::{EmptyState, PageHeader};
use leptos::prelude::*;

#[component]
pub fn BuilderPage() -> impl IntoView {
    view! {
        <PageHeader title="Campaign builder" subtitle="Design the steps a contact goes through"/>
        <EmptyState title="Funnels are drawn in their templates">
            "Open a funnel template from "
            <a class="text-indigo-600 hover:underline" href="/templates">"the templates list"</a>
            " to see its steps in the visual builder; admins edit and publish them there. A campaign's own graph will open here once campaigns are created from templates."
        </EmptyState>
    }
}
