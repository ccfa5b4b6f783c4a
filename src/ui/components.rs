//! Small building blocks shared by the pages.
use crate::api::campaigns::{get_campaign, list_campaigns};
use crate::domain::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Shows a resource's value once loaded, its error if it failed, and "Loading…" meanwhile.
#[component]
pub fn Loaded<T, F, V>(resource: Resource<Result<T, AppError>>, render: F) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=|| view! { <p class="py-8 text-center text-sm text-slate-500">"Loading…"</p> }>
            {move || resource.get().map(|r| match r {
                Ok(v) => render(v).into_any(),
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
pub fn ErrorBox(error: AppError) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-800" role="alert">
            {error.error}
        </div>
    }
}

/// An honest empty state: what will be here, and what to do now.
#[component]
pub fn EmptyState(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="rounded-xl border border-dashed border-slate-300 bg-white p-10 text-center">
            <h2 class="text-base font-semibold text-slate-800">{title}</h2>
            <div class="mx-auto mt-2 max-w-prose text-sm text-slate-600">{children()}</div>
        </div>
    }
}

#[component]
pub fn PageHeader(title: &'static str, #[prop(optional)] subtitle: Option<&'static str>) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title/>
        <div class="mb-6">
            <h1 class="text-2xl font-semibold tracking-tight">{title}</h1>
            {subtitle.map(|s| view! { <p class="mt-1 text-sm text-slate-600">{s}</p> })}
        </div>
    }
}

/// A labelled text input bound to a signal.
#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    view! {
        <label class="block text-sm">
            <span class="font-medium text-slate-700">{label}</span>
            <input
                class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-1 focus:ring-indigo-500"
                type=kind
                name=name
                placeholder=placeholder
                autocomplete=autocomplete
                required=required
                bind:value=value
            />
        </label>
    }
}

/// A table with a header row; the rows come as children.
#[component]
pub fn DataTable(
    headers: &'static [&'static str],
    #[prop(optional)] testid: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid=testid>
                <thead class="bg-slate-50 text-left text-slate-600">
                    <tr>{headers.iter().map(|h| view! { <th class="px-4 py-2 font-medium">{*h}</th> }).collect_view()}</tr>
                </thead>
                <tbody class="divide-y divide-slate-100">{children()}</tbody>
            </table>
        </div>
    }
}

/// How a state reads at a glance.
#[derive(Clone, Copy, PartialEq)]
pub enum Tone {
    Neutral,
    Good,
    Warn,
    Bad,
}

impl Tone {
    /// A send state, delivery report or engine step: failures red, what needs a look amber.
    pub fn of_state(state: &str) -> Tone {
        match state {
            "sent" | "delivered" | "read" => Tone::Good,
            "unknown" | "held" | "retry" => Tone::Warn,
            "failed" | "cancelled" | "undelivered" | "canceled" => Tone::Bad,
            _ => Tone::Neutral,
        }
    }
}

/// A small coloured label for a state.
#[component]
pub fn Badge(tone: Tone, #[prop(into)] text: String) -> impl IntoView {
    let colour = match tone {
        Tone::Neutral => "bg-slate-100 text-slate-700",
        Tone::Good => "bg-emerald-100 text-emerald-800",
        Tone::Warn => "bg-amber-100 text-amber-900",
        Tone::Bad => "bg-red-100 text-red-800",
    };
    view! { <span class=format!("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium {colour}")>{text}</span> }
}

/// Whose values a preview fills in: a contact of a campaign, or sample values while none is
/// chosen. `fixed_campaign` hides the campaign choice where the page already knows it (a
/// campaign's own funnel); `campaign` then holds it.
#[component]
pub fn ContactChooser(
    campaign: RwSignal<Option<Uuid>>,
    contact: RwSignal<Option<Uuid>>,
    #[prop(optional)] fixed_campaign: bool,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    const SELECT: &str = "max-w-full rounded-md border border-slate-300 px-2 py-1";
    let contacts = Resource::new(move || campaign.get(), |id| async move {
        match id {
            Some(id) => get_campaign(id).await.map(|c| c.enrollments),
            None => Ok(Vec::new()),
        }
    });
    let campaigns = (!fixed_campaign).then(|| {
        let list = Resource::new(|| (), |_| list_campaigns(None, None, None, None));
        view! {
            <select class=SELECT aria-label="Campaign"
                on:change=move |ev| { campaign.set(Uuid::parse_str(&event_target_value(&ev)).ok()); contact.set(None); }>
                <option value="">"Sample contact"</option>
                <Transition>{move || list.get().and_then(|r| r.ok()).map(|l| l.into_iter().map(|c| view! {
                    <option value=c.id.to_string()>{c.name}</option>
                }).collect_view())}</Transition>
            </select>
        }
    });
    view! {
        {campaigns}
        <select class=SELECT aria-label="Contact" data-testid=testid
            on:change=move |ev| contact.set(Uuid::parse_str(&event_target_value(&ev)).ok())>
            <option value="">{if fixed_campaign { "Sample contact" } else { "Any contact" }}</option>
            <Transition>{move || contacts.get().and_then(|r| r.ok()).map(|l| l.into_iter().map(|e| view! {
                <option value=e.contact_id.to_string()>{e.contact_name}</option>
            }).collect_view())}</Transition>
        </select>
    }
}

pub const BUTTON: &str = "inline-flex items-center justify-center rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-50";
pub const BUTTON_QUIET: &str = "inline-flex items-center justify-center rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-50";
pub const CARD: &str = "rounded-xl border border-slate-200 bg-white p-5 shadow-sm";

pub fn when(at: DateTime<Utc>) -> String {
    at.format("%b %-d, %Y %H:%M UTC").to_string()
}

/// Turns an empty string into `None` for optional fields.
pub fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}
