//! Message content: reusable SMS, email and voicemail text with merge tags, a live length
//! counter, and a preview for a chosen contact.
use crate::api::content::{list_content, preview_content, save_content};
use crate::domain::campaign::Channel;
use crate::domain::content::{ContentInput, ContentView, Preview};
use crate::domain::merge::{KNOWN_TAGS, MergeTemplate};
use crate::domain::sms::{Encoding, SmsLength};
use crate::ui::components::{BUTTON, BUTTON_QUIET, CARD, ContactChooser, Loaded, PageHeader, TextField, non_empty};
use crate::ui::session::use_is_admin;
use crate::ui::toast::use_toasts;
use leptos::prelude::*;
use uuid::Uuid;

const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 font-mono text-sm";

#[component]
pub fn ContentPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let contents = Resource::new(move || reload.get(), |_| list_content());
    let editing = RwSignal::new(None::<ContentView>);
    let is_admin = use_is_admin();
    view! {
        <PageHeader title="Message content" subtitle="Texts, emails and voicemail scripts your funnels send"/>
        <div class="grid gap-6 lg:grid-cols-[18rem_1fr]">
            <div>
                {move || is_admin.get().then(|| view! {
                    <button type="button" class=BUTTON on:click=move |_| editing.set(None)>"New content"</button>
                })}
                <Loaded resource=contents render={move |list: Vec<ContentView>| {
                    if list.is_empty() {
                        return view! { <p class="mt-4 text-sm text-slate-500">"No saved content yet."</p> }.into_any();
                    }
                    view! {
                        <ul class="mt-4 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white" data-testid="content-list">
                            {list.into_iter().map(|c| {
                                let item = c.clone();
                                view! {
                                    <li>
                                        <button type="button" class="w-full px-4 py-2 text-left text-sm hover:bg-slate-50" on:click=move |_| editing.set(Some(item.clone()))>
                                            <span class="font-medium">{c.name}</span>
                                            <span class="ml-2 text-xs uppercase text-slate-400">{c.channel.as_str()}</span>
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}/>
            </div>
            {move || view! { <Editor existing=editing.get() reload/> }}
        </div>
    }
}

#[component]
fn Editor(existing: Option<ContentView>, reload: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let is_admin = use_is_admin();
    let id = existing.as_ref().map(|c| c.id);
    let name = RwSignal::new(existing.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    let channel = RwSignal::new(existing.as_ref().map(|c| c.channel).unwrap_or(Channel::Sms));
    let subject = RwSignal::new(existing.as_ref().and_then(|c| c.subject.clone()).unwrap_or_default());
    let body = RwSignal::new(existing.as_ref().map(|c| c.body.clone()).unwrap_or_default());
    let html = RwSignal::new(existing.as_ref().and_then(|c| c.body_html.clone()).unwrap_or_default());
    let input = move || ContentInput {
        name: name.get_untracked(),
        channel: Some(channel.get_untracked()),
        subject: non_empty(subject.get_untracked()),
        body: body.get_untracked(),
        body_html: non_empty(html.get_untracked()),
    };
    // Checked as the author types, with the same parser the server uses.
    let tag_problem = move || {
        [subject.get(), body.get(), html.get()].iter().find_map(|t| MergeTemplate::parse(t).err())
    };
    let length = move || SmsLength::of(&body.get());
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = input();
        leptos::task::spawn_local(async move {
            match save_content(id, input).await {
                Ok(_) => {
                    toasts.success("Content saved");
                    reload.update(|n| *n += 1);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <div class="space-y-4">
            <form class=CARD on:submit=save data-testid="content-editor">
                <div class="grid gap-4 sm:grid-cols-2">
                    <TextField label="Name" name="name" value=name required=true/>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Channel"</span>
                        <select class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2" aria-label="Channel"
                            on:change=move |ev| { if let Some(c) = Channel::parse(&event_target_value(&ev)) { channel.set(c) } }
                            prop:value=move || channel.get().as_str()>
                            <option value="sms">"SMS"</option>
                            <option value="email">"Email"</option>
                            <option value="voicemail">"Voicemail script"</option>
                        </select>
                    </label>
                </div>
                <Show when=move || channel.get() == Channel::Email>
                    <label class="mt-4 block text-sm">
                        <span class="font-medium text-slate-700">"Subject"</span>
                        <input class=INPUT name="subject" bind:value=subject/>
                    </label>
                </Show>
                <label class="mt-4 block text-sm">
                    <span class="font-medium text-slate-700">{move || if channel.get() == Channel::Email { "Text body" } else { "Message" }}</span>
                    <textarea class=INPUT name="body" rows="5" prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                </label>
                <Show when=move || channel.get() == Channel::Sms>
                    {move || {
                        let l = length();
                        view! {
                            <p class="mt-1 text-xs" class:text-amber-700=l.too_long() class:text-slate-500=!l.too_long() data-testid="sms-length">
                                {format!("{} characters · {} segment{} · {}", l.units, l.segments, if l.segments == 1 { "" } else { "s" },
                                    if l.encoding == Encoding::Gsm7 { "GSM-7" } else { "Unicode (UCS-2)" })}
                                {l.too_long().then_some(" · over 3 segments: costly, and may arrive out of order")}
                            </p>
                        }
                    }}
                </Show>
                <Show when=move || channel.get() == Channel::Email>
                    <label class="mt-4 block text-sm">
                        <span class="font-medium text-slate-700">"HTML body (optional)"</span>
                        <textarea class=INPUT name="body_html" rows="5" prop:value=move || html.get() on:input=move |ev| html.set(event_target_value(&ev))></textarea>
                    </label>
                </Show>
                {move || tag_problem().map(|p| view! { <p class="mt-2 text-sm text-red-700" role="alert">{p}</p> })}
                <p class="mt-2 text-xs text-slate-500">"Merge tags: "{KNOWN_TAGS.map(|t| format!("{{{{{t}}}}}")).join(" ")}" · fallback: {{contact.first_name | \"there\"}}"</p>
                {move || is_admin.get().then(|| view! { <div class="mt-4"><button type="submit" class=BUTTON>"Save content"</button></div> })}
            </form>
            <PreviewPanel input=Signal::derive(move || ContentInput {
                name: name.get(),
                channel: Some(channel.get()),
                subject: non_empty(subject.get()),
                body: body.get(),
                body_html: non_empty(html.get()),
            })/>
        </div>
    }
}

#[component]
fn PreviewPanel(input: Signal<ContentInput>) -> impl IntoView {
    let toasts = use_toasts();
    let campaign = RwSignal::new(None::<Uuid>);
    let contact = RwSignal::new(None::<Uuid>);
    let preview = RwSignal::new(None::<Preview>);
    let run = move |_| {
        let (i, k, c) = (input.get_untracked(), campaign.get_untracked(), contact.get_untracked());
        leptos::task::spawn_local(async move {
            match preview_content(i, k, c).await {
                Ok(p) => preview.set(Some(p)),
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <div class=CARD data-testid="preview">
            <h2 class="font-semibold">"Preview"</h2>
            <div class="mt-2 flex flex-wrap items-end gap-3 text-sm">
                <ContactChooser campaign contact/>
                <button type="button" class=BUTTON_QUIET on:click=run>"Preview"</button>
            </div>
            {move || preview.get().map(|p| view! {
                <div class="mt-3 space-y-2 text-sm">
                    {p.problem.map(|e| view! { <p class="text-amber-700" role="alert">"This contact's step would be held: "{e}</p> })}
                    {p.subject.map(|s| view! { <p><span class="text-slate-500">"Subject: "</span>{s}</p> })}
                    {p.body.map(|b| view! { <pre class="whitespace-pre-wrap rounded-md bg-slate-50 p-3 font-sans" data-testid="preview-body">{b}</pre> })}
                    // Sanitised on the server (ammonia), merge values escaped.
                    {p.body_html.map(|h| view! { <div class="prose rounded-md border border-slate-200 p-3" inner_html=h></div> })}
                </div>
            })}
        </div>
    }
}
