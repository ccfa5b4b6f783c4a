//! The campaign page's attendee list: the event's list of who came, uploaded as CSV with a
//! phone or email column, marks the campaign's contacts it names `Attended`; lines that
//! name nobody in the campaign are listed by line number.
use crate::api::campaigns::{get_campaign, import_attendees};
use crate::domain::campaign::CampaignDetail;
use crate::domain::contact::AttendeeImport;
use crate::ui::components::{BUTTON, CARD};
use crate::ui::pages::campaign_run::refresh;
use crate::ui::toast::use_toasts;
use leptos::html::Input;
use leptos::prelude::*;
use leptos::task::spawn_local;
use uuid::Uuid;

/// Shown to everyone who sees the campaign page: the owner and admins, the same people the
/// server function lets upload.
#[component]
pub fn AttendeeUpload(id: Uuid, live: RwSignal<CampaignDetail>) -> impl IntoView {
    let toasts = use_toasts();
    let file = NodeRef::<Input>::new();
    let report = RwSignal::new(None::<AttendeeImport>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(input) = file.get_untracked() else { return };
        busy.set(true);
        spawn_local(async move {
            match read_text(input).await {
                None => toasts.error("The file could not be read"),
                Some(text) => match import_attendees(id, text).await {
                    Ok(r) => {
                        report.try_set(Some(r));
                        // The contacts table shows the new statuses.
                        if let Ok(fresh) = get_campaign(id).await {
                            refresh(live, fresh);
                        }
                    }
                    Err(e) => toasts.error(e.error),
                },
            }
            busy.try_set(false);
        });
    };
    view! {
        <form class=CARD on:submit=submit aria-labelledby="attendees-heading" data-testid="attendees">
            <h2 id="attendees-heading" class="text-lg font-semibold">"Attendee list"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Upload who came to the event (CSV with a phone or email column) to mark those contacts Attended. "
                "No one's status is lowered: opted-out contacts stay opted out."
            </p>
            <div class="mt-3 flex flex-wrap items-end gap-2">
                <label class="block grow text-sm">
                    <span class="font-medium text-slate-700">"Attendee CSV file"</span>
                    <input class="mt-1 block w-full text-sm" type="file" name="attendees" accept=".csv,text/csv" required node_ref=file/>
                </label>
                <button type="submit" class=BUTTON disabled=move || busy.get()>
                    {move || if busy.get() { "Uploading…" } else { "Mark attended" }}
                </button>
            </div>
            {move || report.get().map(|r| view! {
                <div class="mt-3 text-sm" role="status">
                    <p data-testid="attendees-marked">
                        {format!("{} marked Attended; {} unchanged (already Attended or opted out, or listed twice)", r.marked, r.unchanged)}
                    </p>
                    {(!r.unmatched.is_empty()).then(|| view! {
                        <p class="mt-2 font-medium">{format!("{} lines matched nobody in this campaign:", r.unmatched.len())}</p>
                        <ul class="mt-1 list-disc pl-5 text-rose-700" data-testid="attendees-unmatched">
                            {r.unmatched.into_iter().map(|e| view! { <li>{format!("Line {}: {}", e.line, e.error)}</li> }).collect_view()}
                        </ul>
                    })}
                </div>
            })}
        </form>
    }
}

/// The chosen file's text: read in the browser, since the server function takes the text.
#[cfg(feature = "hydrate")]
async fn read_text(input: web_sys::HtmlInputElement) -> Option<String> {
    let file = input.files()?.get(0)?;
    wasm_bindgen_futures::JsFuture::from(file.text()).await.ok()?.as_string()
}

/// Forms are submitted only once hydrated.
#[cfg(not(feature = "hydrate"))]
async fn read_text(_: leptos::web_sys::HtmlInputElement) -> Option<String> {
    None
}
