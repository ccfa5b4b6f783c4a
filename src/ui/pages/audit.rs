use crate::api::admin::list_audit;
use crate::domain::audit::{AuditEntry, AuditPage as Page};
use crate::ui::components::{BUTTON_QUIET, DataTable, Loaded, PageHeader, when};
use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub fn AuditPage() -> impl IntoView {
    let cursor = RwSignal::new(None::<Uuid>);
    let page = Resource::new(move || cursor.get(), list_audit);
    view! {
        <PageHeader title="Audit log" subtitle="Every change to users and settings, newest first"/>
        <Loaded resource=page render={move |p: Page| view! {
            <DataTable headers={&["When", "Who", "Action", "Record"]} testid="audit-table">
                {p.entries.into_iter().map(|e: AuditEntry| view! {
                    <tr>
                        <td class="whitespace-nowrap px-4 py-2">{when(e.created_at)}</td>
                        <td class="px-4 py-2">{e.actor_email.unwrap_or_else(|| "system".into())}</td>
                        <td class="px-4 py-2 font-mono text-xs">{e.action}</td>
                        <td class="px-4 py-2 text-slate-500">{e.record_type}</td>
                    </tr>
                }).collect_view()}
            </DataTable>
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
