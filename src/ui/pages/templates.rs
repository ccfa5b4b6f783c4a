use crate::api::templates::list_templates;
use crate::domain::template::TemplateSummary;
use crate::ui::components::{EmptyState, Loaded, PageHeader, when};
use leptos::prelude::*;

#[component]
pub fn TemplatesPage() -> impl IntoView {
    let templates = Resource::new(|| (), |_| list_templates());
    view! {
        <PageHeader title="Templates" subtitle="Funnels that campaigns are created from"/>
        <p class="-mt-4 mb-4 text-sm"><a class="text-indigo-600 hover:underline" href="/content">"Message content (texts, emails, voicemail scripts) →"</a></p>
        <Loaded resource=templates render={|list: Vec<TemplateSummary>| {
            if list.is_empty() {
                return view! {
                    <EmptyState title="No templates yet">"Admins design funnel templates; published ones can be used for campaigns."</EmptyState>
                }.into_any();
            }
            view! {
                <ul class="divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white">
                    {list.into_iter().map(|t| view! {
                        <li class="flex flex-wrap items-center justify-between gap-2 px-4 py-3 text-sm">
                            <div>
                                <p class="font-medium">{t.name}</p>
                                <p class="text-slate-500">
                                    {t.node_count}" steps · "
                                    {t.latest_version.map(|v| format!("version {v}")).unwrap_or_else(|| "never published".into())}
                                    " · used by "{t.campaigns}" campaigns · updated "{when(t.updated_at)}
                                </p>
                            </div>
                            <span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs">{t.status.as_str()}</span>
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}/>
    }
}
