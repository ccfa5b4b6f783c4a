use crate::ui::components::{EmptyState, PageHeader};
use leptos::prelude::*;

#[component]
pub fn BuilderPage() -> impl IntoView {
    view! {
        <PageHeader title="Campaign builder" subtitle="Design the steps a contact goes through"/>
        <EmptyState title="The visual funnel builder is not available yet">
            "Funnels of texts, emails, voicemail drops and waits will be drawn here. Until then, "
            <a class="text-indigo-600 hover:underline" href="/templates">"the templates list"</a>
            " shows the funnels that exist."
        </EmptyState>
    }
}
