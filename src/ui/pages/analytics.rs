use crate::ui::components::{EmptyState, PageHeader};
use leptos::prelude::*;

#[component]
pub fn AnalyticsPage() -> impl IntoView {
    view! {
        <PageHeader title="Analytics" subtitle="How your funnels perform"/>
        <EmptyState title="No analytics yet">
            "Delivery, reply, RSVP and attendance rates per campaign and step will be charted here once messages are sent. "
            "The "<a class="text-indigo-600 hover:underline" href="/">"dashboard"</a>" has today's exact counts."
        </EmptyState>
    }
}
