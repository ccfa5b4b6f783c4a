use crate::api::admin::list_audit;
use crate::domain::audit::{AuditEntry, AuditPage as Page};
use crate::ui::components::{BUTTON_QUIET, Loaded, PageHeader, when};
use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub fn AuditPage() -> impl IntoView {
    let cursor = RwSignal::new(None::<Uuid>);
    let page = Resource::new(move || cursor.get(), list_audit);
    view! {
        <PageHeader title="Audit log" subtitle="Every change to users and settings, newest first"/>
        <Loaded resource=page render={move |p: Page| view! {
            <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white">
                <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid="audit-table">
                    <thead class="bg-slate-50 text-left text-slate-600">
                        <tr>
                            <th class="px-4 py-2 font-medium">"When"</th>
                            <th class="px-4 py-2 font-medium">"Who"</th>
                            <th class="px-4 py-2 font-medium">"Action"</th>
                            <th class="px-4 py-2 font-medium">"Record"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">
                        {p.entries.into_iter().map(|e: AuditEntry| view! {
                            <tr>
                                <td class="whitespace-nowrap px-4 py-2">{when(e.created_at)}</td>
                                <td class="px-4 py-2">{e.actor_email.unwrap_or_else(|| "system".into())}</td>
                                <td class="px-4 py-2 font-mono text-xs">{e.action}</td>
                                <td class="px-4 py-2 text-slate-500">{e.record_type}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <div class="mt-4 flex gap-2">
                {cursor.get_untracked().is_some().then(|| view! {
                    <button type="button" class=BUTTON_QUIET on:click=move |_| cursor.set(None)>"Newest"</button>
                })}
                {p.next.map(|n| view! {
                    <button type="button" class=BUTTON_QUIET on:click=move |_| cursor.set(Some(n))>"Older"</button>
                })}
            </div>
        }}/>
    }
}
