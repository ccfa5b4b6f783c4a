//! Funnel templates: the list (with "New template" and import for admins) and a template's
//! page with the visual builder, save, publish, versions and export.
use crate::api::templates::{create_template, get_template, import_template, list_templates, publish_template, save_template};
use crate::domain::AppError;
use crate::domain::funnel::GraphIssue;
use crate::domain::template::{GraphFormat, TemplateDetail, TemplateSummary, VersionInfo};
use crate::ui::builder::{Builder, BuilderState};
use crate::ui::components::{BUTTON, BUTTON_QUIET, CARD, EmptyState, Loaded, PageHeader, when};
use crate::ui::session::use_is_admin;
use crate::ui::toast::use_toasts;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map};
use uuid::Uuid;

const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm disabled:bg-slate-50";

#[component]
pub fn TemplatesPage() -> impl IntoView {
    let templates = Resource::new(|| (), |_| list_templates());
    let is_admin = use_is_admin();
    view! {
        <PageHeader title="Templates" subtitle="Funnels that campaigns are created from"/>
        <p class="-mt-4 mb-4 text-sm"><a class="text-indigo-600 hover:underline" href="/content">"Message content (texts, emails, voicemail scripts) →"</a></p>
        <Show when=move || is_admin.get()>
            <div class="mb-6 grid gap-4 lg:grid-cols-2">
                <NewTemplateForm/>
                <ImportForm/>
            </div>
        </Show>
        <Loaded resource=templates render={|list: Vec<TemplateSummary>| {
            if list.is_empty() {
                return view! {
                    <EmptyState title="No templates yet">"Admins design funnel templates; published ones can be used for campaigns."</EmptyState>
                }.into_any();
            }
            view! {
                <ul class="divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white" data-testid="template-list">
                    {list.into_iter().map(|t| view! {
                        <li class="flex flex-wrap items-center justify-between gap-2 px-4 py-3 text-sm">
                            <div>
                                <a class="font-medium text-indigo-700 hover:underline" href=format!("/templates/{}", t.id)>{t.name}</a>
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

#[component]
fn NewTemplateForm() -> impl IntoView {
    let toasts = use_toasts();
    let name = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let n = name.get_untracked();
        spawn_local(async move {
            match create_template(n).await {
                Ok(t) => use_navigate()(&format!("/templates/{}", t.id), Default::default()),
                Err(e) => toasts.error(e.error),
            }
            busy.set(false);
        });
    };
    view! {
        <form class=format!("{CARD} space-y-3") on:submit=submit data-testid="new-template">
            <h2 class="text-sm font-semibold">"New template"</h2>
            <label class="block text-sm">
                <span class="font-medium text-slate-700">"Template name"</span>
                <input class=INPUT name="name" required placeholder="e.g. Webinar invite, 3 touches" bind:value=name/>
            </label>
            <button type="submit" class=BUTTON disabled=move || busy.get()>"New template"</button>
        </form>
    }
}

#[component]
fn ImportForm() -> impl IntoView {
    let toasts = use_toasts();
    let name = RwSignal::new(String::new());
    let format = RwSignal::new("csv".to_string());
    let text = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let f = GraphFormat::parse(&format.get_untracked()).unwrap_or(GraphFormat::Csv);
        busy.set(true);
        let (n, t) = (name.get_untracked(), text.get_untracked());
        spawn_local(async move {
            match import_template(n, f, t).await {
                Ok(t) => {
                    if t.issues.is_empty() {
                        toasts.success("Imported");
                    } else {
                        toasts.error(format!("Imported as a draft with {} issue(s) to fix", t.issues.len()));
                    }
                    use_navigate()(&format!("/templates/{}", t.id), Default::default());
                }
                Err(e) => toasts.error(e.error),
            }
            busy.set(false);
        });
    };
    view! {
        <form class=format!("{CARD} space-y-3") on:submit=submit data-testid="import-template">
            <h2 class="text-sm font-semibold">"Import a template"</h2>
            <div class="grid gap-3 sm:grid-cols-3">
                <label class="block text-sm sm:col-span-2">
                    <span class="font-medium text-slate-700">"Name for the import"</span>
                    <input class=INPUT name="import-name" required bind:value=name/>
                </label>
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"Format"</span>
                    <select class=INPUT name="format" prop:value=move || format.get() on:change=move |ev| format.set(event_target_value(&ev))>
                        <option value="csv">"CSV"</option>
                        <option value="json">"JSON"</option>
                    </select>
                </label>
            </div>
            <label class="block text-sm">
                <span class="font-medium text-slate-700">"Exported text"</span>
                <textarea class=format!("{INPUT} font-mono") rows="3" name="text" required placeholder="Paste a template's CSV or JSON export" bind:value=text></textarea>
            </label>
            <button type="submit" class=BUTTON_QUIET disabled=move || busy.get()>"Import"</button>
        </form>
    }
}

#[component]
pub fn TemplatePage() -> impl IntoView {
    let params = use_params_map();
    let template = Resource::new(
        move || params.get().get("id").and_then(|id| Uuid::parse_str(&id).ok()),
        |id| async move {
            match id {
                Some(id) => get_template(id).await,
                None => Err(AppError::not_found("Template")),
            }
        },
    );
    view! {
        <Loaded resource=template render=|t: TemplateDetail| view! { <TemplateEditor detail=t/> }/>
    }
}

#[component]
fn TemplateEditor(detail: TemplateDetail) -> impl IntoView {
    let toasts = use_toasts();
    let is_admin = use_is_admin().get_untracked();
    let id = detail.id;
    let name = RwSignal::new(detail.name.clone());
    let status = RwSignal::new(detail.status);
    let versions = RwSignal::new(detail.versions.clone());
    let saved_issues = RwSignal::new(None::<Vec<GraphIssue>>);
    let publish_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let dirty = RwSignal::new(false);
    let builder = BuilderState::new(detail.draft.clone(), !is_admin).on_change(Callback::new(move |_| dirty.set(true)));

    let took = move |t: &TemplateDetail| {
        status.set(t.status);
        versions.set(t.versions.clone());
    };
    let save_now = move || async move {
        let draft = builder.snapshot();
        let result = save_template(id, name.get_untracked(), draft).await;
        if let Ok(t) = &result {
            took(t);
            dirty.set(false);
            saved_issues.set(Some(t.issues.clone()));
        }
        result
    };
    let save = move |_| {
        busy.set(true);
        publish_error.set(None);
        spawn_local(async move {
            match save_now().await {
                Ok(t) if t.issues.is_empty() => toasts.success("Saved"),
                Ok(t) => toasts.error(format!("Saved, with {} issue(s) to fix before publishing", t.issues.len())),
                Err(e) => toasts.error(e.error),
            }
            busy.set(false);
        });
    };
    let publish = move |_| {
        busy.set(true);
        publish_error.set(None);
        spawn_local(async move {
            // What is published is what is on screen: save first.
            let result = match save_now().await {
                Ok(_) => publish_template(id).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(t) => {
                    took(&t);
                    saved_issues.set(None);
                    let v = t.versions.iter().map(|v| v.version).max().unwrap_or(0);
                    toasts.success(format!("Published version {v}"));
                }
                Err(e) => {
                    toasts.error("Not published: the funnel has issues");
                    publish_error.set(Some(e.error));
                }
            }
            busy.set(false);
        });
    };

    view! {
        <leptos_meta::Title text=detail.name.clone()/>
        <div class="mb-4 flex flex-wrap items-end justify-between gap-3">
            <div class="min-w-0 flex-1">
                <a class="text-sm text-indigo-700 hover:underline" href="/templates">"← Templates"</a>
                <h1 class="mt-1 text-2xl font-semibold tracking-tight">{move || name.get()}</h1>
                <p class="mt-1 text-sm text-slate-600">
                    "Status: "<span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs" data-testid="template-status">{move || status.get().as_str()}</span>
                    {move || dirty.get().then_some(" · unsaved changes")}
                    {(!is_admin).then_some(" · read only")}
                </p>
            </div>
            {is_admin.then(|| view! {
                <div class="flex flex-wrap items-end gap-2">
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Template name"</span>
                        <input class=INPUT name="template-name" prop:value=move || name.get()
                            on:input=move |ev| { name.set(event_target_value(&ev)); dirty.set(true); }/>
                    </label>
                    <span class="py-2 text-sm text-slate-600" data-testid="issue-count">{move || match builder.issues().with(|l| l.len()) {
                        0 => "Ready to publish".to_string(),
                        1 => "1 issue".to_string(),
                        n => format!("{n} issues"),
                    }}</span>
                    <button type="button" class=BUTTON_QUIET on:click=save disabled=move || busy.get()>"Save"</button>
                    <button type="button" class=BUTTON on:click=publish disabled=move || busy.get()>"Publish"</button>
                </div>
            })}
        </div>
        {move || publish_error.get().map(|e| view! {
            <div class="mb-4 rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-800" role="alert" data-testid="publish-error">{e}</div>
        })}
        {move || saved_issues.get().filter(|l| !l.is_empty()).map(|list| view! {
            <div class="mb-4 rounded-lg border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900" data-testid="save-warning">
                <p class="font-medium">"Saved as a draft. Fix these before publishing:"</p>
                <ul class="mt-1 list-disc pl-5">{list.into_iter().map(|i| view! { <li>{i.to_string()}</li> }).collect_view()}</ul>
            </div>
        })}
        <Builder state=builder/>
        <div class="mt-6 grid gap-4 lg:grid-cols-2">
            <section class=CARD>
                <h2 class="text-sm font-semibold">"Versions"</h2>
                {move || {
                    let list = versions.get();
                    if list.is_empty() {
                        return view! { <p class="mt-2 text-sm text-slate-600">"Not published yet. Publishing makes an immutable version campaigns can use."</p> }.into_any();
                    }
                    view! {
                        <ul class="mt-2 divide-y divide-slate-100 text-sm" data-testid="template-versions">
                            {list.into_iter().map(|v: VersionInfo| view! {
                                <li class="py-1.5">{format!("Version {}", v.version)}" · published "{when(v.published_at)}" · "{v.campaigns}" campaigns"</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
            <section class=CARD>
                <h2 class="text-sm font-semibold">"Export"</h2>
                <p class="mt-1 text-sm text-slate-600">"The saved draft's nodes and edges, to import elsewhere."</p>
                <div class="mt-3 flex gap-2">
                    <a class=BUTTON_QUIET href=format!("/api/templates/{id}/export?format=csv") download=format!("template-{id}.csv")>"Export CSV"</a>
                    <a class=BUTTON_QUIET href=format!("/api/templates/{id}/export?format=json") download=format!("template-{id}.json")>"Export JSON"</a>
                </div>
            </section>
        </div>
    }
}
