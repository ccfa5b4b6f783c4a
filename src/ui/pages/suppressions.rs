//! Admin › Suppressions: who is never written to. Search by exact address or by reason and
//! source, add, remove with a reason, import and export CSV. Entries show a masked address.
use crate::api::suppressions::{add_suppression, import_suppressions, list_suppressions, remove_suppression};
use crate::domain::suppression::{SuppressionImport, SuppressionView};
use crate::ui::components::{BUTTON, BUTTON_QUIET, CARD, DataTable, EmptyState, Loaded, PageHeader, TextField, when};
use crate::ui::toast::use_toasts;
use leptos::prelude::*;

const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm";

#[component]
pub fn SuppressionsPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let query = RwSignal::new(String::new());
    // The search runs when submitted, not on every key.
    let searched = RwSignal::new(String::new());
    let entries = Resource::new(move || (reload.get(), searched.get()), |(_, q)| list_suppressions(q));
    let refresh = move || reload.update(|n| *n += 1);
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        searched.set(query.get_untracked());
    };
    view! {
        <PageHeader title="Suppressions" subtitle="Phones and emails that are never written to"/>
        <div class="grid gap-4 lg:grid-cols-2">
            <AddForm on_done=refresh/>
            <ImportForm on_done=refresh/>
        </div>
        <form class="mt-6 flex flex-wrap items-end gap-2" on:submit=search data-testid="suppression-search">
            <div class="min-w-64 flex-1">
                <TextField label="Search: an exact phone or email, or words of the reason or source" name="q" value=query/>
            </div>
            <button type="submit" class=BUTTON_QUIET>"Search"</button>
            <a class=BUTTON_QUIET href="/api/suppressions/export.csv" download="suppressions.csv" rel="external">"Export CSV"</a>
        </form>
        <div class="mt-4">
            <Loaded resource=entries render={move |list: Vec<SuppressionView>| {
                if list.is_empty() {
                    return view! { <EmptyState title="No suppressions found">"Nothing on the list matches."</EmptyState> }.into_any();
                }
                view! {
                    <DataTable headers={&["Kind", "Address", "Reason", "Source", "Added", ""]} testid="suppressions-table">
                        {list.into_iter().map(|e| view! { <Row entry=e on_done=refresh/> }).collect_view()}
                    </DataTable>
                }.into_any()
            }}/>
        </div>
    }
}

#[component]
fn AddForm(on_done: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let toasts = use_toasts();
    let address = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (a, r) = (address.get_untracked(), reason.get_untracked());
        leptos::task::spawn_local(async move {
            match add_suppression(a, r).await {
                Ok(_) => {
                    toasts.success("Added to the suppression list");
                    address.set(String::new());
                    reason.set(String::new());
                    on_done();
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <form class=CARD on:submit=submit data-testid="add-suppression">
            <h2 class="text-lg font-semibold">"Add"</h2>
            <div class="mt-4 grid gap-4 sm:grid-cols-2">
                <TextField label="Phone or email" name="address" value=address required=true/>
                <TextField label="Reason" name="reason" value=reason required=true/>
            </div>
            <div class="mt-4"><button type="submit" class=BUTTON>"Suppress"</button></div>
        </form>
    }
}

#[component]
fn ImportForm(on_done: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let toasts = use_toasts();
    let text = RwSignal::new(String::new());
    let report = RwSignal::new(None::<SuppressionImport>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = text.get_untracked();
        leptos::task::spawn_local(async move {
            match import_suppressions(t).await {
                Ok(r) => {
                    toasts.success(format!("{} added, {} on the list already", r.added, r.already));
                    report.set(Some(r));
                    on_done();
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <form class=CARD on:submit=submit data-testid="import-suppressions">
            <h2 class="text-lg font-semibold">"Import CSV"</h2>
            <label class="mt-4 block text-sm">
                <span class="font-medium text-slate-700">"A header line with address (or phone, or email) and reason, or an export of this list"</span>
                <textarea class=format!("{INPUT} font-mono") rows="3" name="csv" required placeholder="address,reason" bind:value=text></textarea>
            </label>
            <div class="mt-4"><button type="submit" class=BUTTON>"Import"</button></div>
            {move || report.get().filter(|r| !r.errors.is_empty()).map(|r| view! {
                <ul class="mt-3 list-disc pl-5 text-sm text-rose-700" data-testid="import-errors">
                    {r.errors.into_iter().map(|e| view! { <li>{format!("Line {}: {}", e.line, e.error)}</li> }).collect_view()}
                </ul>
            })}
        </form>
    }
}

#[component]
fn Row(entry: SuppressionView, on_done: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let toasts = use_toasts();
    let id = entry.id;
    let reason = RwSignal::new(String::new());
    let removing = RwSignal::new(false);
    let remove = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let r = reason.get_untracked();
        leptos::task::spawn_local(async move {
            match remove_suppression(id, r).await {
                Ok(()) => {
                    toasts.success("Removed from the suppression list");
                    on_done();
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let display = entry.display.clone().unwrap_or_else(|| "(hidden)".into());
    let shown = display.clone();
    view! {
        <tr data-display=display>
            <td class="px-4 py-2">{entry.kind.as_str()}</td>
            <td class="px-4 py-2 font-mono">{shown}</td>
            <td class="px-4 py-2">{entry.reason}</td>
            <td class="px-4 py-2">{entry.source}</td>
            <td class="px-4 py-2 text-slate-500">{when(entry.created_at)}</td>
            <td class="px-4 py-2">
                <Show when=move || removing.get() fallback=move || view! {
                    <button type="button" class=BUTTON_QUIET on:click=move |_| removing.set(true)>"Remove"</button>
                }>
                    <form class="flex gap-2" on:submit=remove>
                        <input class="rounded-md border border-slate-300 px-2 py-1 text-sm" name="remove-reason" required
                            placeholder="Why remove it?" bind:value=reason/>
                        <button type="submit" class=BUTTON_QUIET>"Confirm removal"</button>
                    </form>
                </Show>
            </td>
        </tr>
    }
}
