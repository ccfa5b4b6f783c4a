//! The unified inbox: every conversation the user may see, filtered and searched, read
//! and answered in place, kept fresh by the real-time stream. Keys: j/k or the arrows move,
//! Enter opens, e marks done.
use crate::api::campaigns::{act_on_enrollment, list_campaigns};
use crate::api::inbox::{
    assign_conversation, delete_snippet, get_conversation, list_conversations, list_snippets, mark_conversations_done,
    reply_to_conversation, save_snippet,
};
use crate::api::leads::bulk_set_status;
use crate::domain::campaign::{Channel, Direction, EngineState, EnrollmentAction, EnrollmentStatus};
use crate::domain::contact::BulkStatusChange;
use crate::domain::media::MediaState;
use crate::domain::inbox::{ConversationView, FunnelPosition, HistoryMessage, InboxFilter, InboxItem, InboxView, ReplyInput, SnippetInput};
use crate::ui::components::{BUTTON, BUTTON_QUIET, Badge, EmptyState, Loaded, PageHeader, Tone, when};
use crate::ui::realtime::use_realtime;
use crate::ui::toast::use_toasts;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::collections::BTreeSet;
use uuid::Uuid;

const INPUT: &str = "rounded-md border border-slate-300 px-2 py-1.5 text-sm";
const VIEWS: [(InboxView, &str); 4] =
    [(InboxView::All, "All"), (InboxView::NeedsReply, "Needs reply"), (InboxView::Mine, "Mine"), (InboxView::Unassigned, "Unassigned")];

#[component]
pub fn InboxPage() -> impl IntoView {
    let rt = use_realtime();
    let toasts = use_toasts();
    let filter = RwSignal::new(InboxFilter::default());
    let search = RwSignal::new(String::new());
    let list = Resource::new(move || (filter.get(), rt.tick.get()), |(f, _)| list_conversations(f));
    let campaigns = Resource::new(|| (), |_| list_campaigns(None, None, None, None));
    // The highlighted row (keyboard), the open conversation, the rows ticked for bulk actions.
    let cursor = RwSignal::new(0usize);
    // A link may name the conversation to open (`/inbox?conversation=<id>`, from the dashboard).
    let linked = leptos_router::hooks::use_query_map().with_untracked(|q| q.get("conversation").and_then(|id| id.parse::<Uuid>().ok()));
    let open = RwSignal::new(linked);
    let ticked = RwSignal::new(BTreeSet::<Uuid>::new());
    let items = Memo::new(move |_| list.get().and_then(Result::ok).unwrap_or_default());
    // The reply being written outlives the view's refetches; opening another conversation starts a new one.
    let draft = Draft::new();
    Effect::new(move |_| {
        open.track();
        draft.clear();
    });
    let detail = Resource::new(move || (open.get(), rt.tick.get()), |(id, _)| async move {
        match id {
            Some(id) => get_conversation(id).await.map(Some),
            None => Ok(None),
        }
    });

    let done = move |ids: Vec<Uuid>| {
        spawn_local(async move {
            match mark_conversations_done(ids).await {
                Ok(n) => {
                    toasts.success(format!("Marked {n} done"));
                    ticked.set(BTreeSet::new());
                    rt.tick.update(|t| *t += 1);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            let typing = ev
                .target()
                .and_then(|t| wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::Element>(t).ok())
                .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
            if typing || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
                return;
            }
            let n = items.with_untracked(Vec::len);
            if n == 0 {
                return;
            }
            let at = cursor.get_untracked().min(n - 1);
            match ev.key().as_str() {
                "j" | "ArrowDown" => cursor.set((at + 1).min(n - 1)),
                "k" | "ArrowUp" => cursor.set(at.saturating_sub(1)),
                "Enter" => open.set(items.with_untracked(|i| i.get(at).map(|c| c.id))),
                "e" => {
                    if let Some(id) = items.with_untracked(|i| i.get(at).map(|c| c.id)) {
                        done(vec![id]);
                    }
                }
                _ => return,
            }
            ev.prevent_default();
        });
        on_cleanup(move || handle.remove());
    });

    view! {
        <PageHeader title="Inbox" subtitle="Replies on every channel, as they arrive. Keys: j/k move, Enter opens, e marks done."/>
        <div class="mb-4 flex flex-wrap items-end gap-2" data-testid="inbox-filters">
            <div class="flex rounded-md border border-slate-300 bg-white" role="group" aria-label="View">
                {VIEWS.into_iter().map(|(v, label)| view! {
                    <button type="button" class="px-3 py-1.5 text-sm"
                        class=("bg-indigo-600", move || filter.with(|f| f.view.unwrap_or(InboxView::All) == v))
                        class=("text-white", move || filter.with(|f| f.view.unwrap_or(InboxView::All) == v))
                        aria-pressed=move || filter.with(|f| f.view.unwrap_or(InboxView::All) == v).to_string()
                        on:click=move |_| filter.update(|f| f.view = Some(v))>{label}</button>
                }).collect_view()}
            </div>
            <select class=INPUT aria-label="Channel" on:change=move |ev| filter.update(|f| f.channel = Channel::parse(&event_target_value(&ev)))>
                <option value="">"All channels"</option>
                {Channel::ALL.iter().map(|c| view! { <option value=c.as_str()>{c.as_str()}</option> }).collect_view()}
            </select>
            <select class=INPUT aria-label="Campaign" on:change=move |ev| filter.update(|f| f.campaign_id = event_target_value(&ev).parse().ok())>
                <option value="">"All campaigns"</option>
                {move || campaigns.get().and_then(Result::ok).unwrap_or_default().into_iter()
                    .map(|k| view! { <option value=k.id.to_string()>{k.name}</option> }).collect_view()}
            </select>
            <select class=INPUT aria-label="Status" on:change=move |ev| filter.update(|f| f.status = EnrollmentStatus::parse(&event_target_value(&ev)))>
                <option value="">"Any status"</option>
                {EnrollmentStatus::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
            </select>
            <form class="flex gap-2" on:submit=move |ev| {
                ev.prevent_default();
                filter.update(|f| f.q = search.get_untracked());
            }>
                <input class=INPUT type="search" aria-label="Search messages" placeholder="Search messages" bind:value=search/>
                <button type="submit" class=BUTTON_QUIET>"Search"</button>
            </form>
            <button type="button" class=BUTTON_QUIET disabled=move || ticked.with(BTreeSet::is_empty)
                on:click=move |_| done(ticked.get_untracked().into_iter().collect())>
                {move || format!("Mark {} done", ticked.with(BTreeSet::len))}
            </button>
        </div>
        <div class="grid gap-4 md:grid-cols-[22rem_1fr]">
            <Loaded resource=list render={move |rows: Vec<InboxItem>| {
                if rows.is_empty() {
                    return view! {
                        <EmptyState title="Nothing here">"Replies to your campaigns' texts and emails land here as they arrive."</EmptyState>
                    }.into_any();
                }
                view! {
                    <ul class="divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white" data-testid="conversations">
                        {rows.into_iter().enumerate().map(|(i, c)| view! { <Row i c cursor open ticked/> }).collect_view()}
                    </ul>
                }.into_any()
            }}/>
            <Loaded resource=detail render={move |d: Option<ConversationView>| match d {
                None => view! { <p class="p-6 text-sm text-slate-500">"Select a conversation to read it."</p> }.into_any(),
                Some(d) => view! { <Conversation d draft/> }.into_any(),
            }}/>
        </div>
    }
}

#[component]
fn Row(i: usize, c: InboxItem, cursor: RwSignal<usize>, open: RwSignal<Option<Uuid>>, ticked: RwSignal<BTreeSet<Uuid>>) -> impl IntoView {
    let id = c.id;
    let title = c.title();
    view! {
        <li class="flex items-start gap-2 px-3 py-3" data-testid="conversation" data-id=id.to_string()
            class:ring-2=move || cursor.get() == i class:ring-indigo-400=move || cursor.get() == i
            class:bg-indigo-50=move || open.get() == Some(id)>
            <input type="checkbox" class="mt-1" aria-label=format!("Select {title}")
                prop:checked=move || ticked.with(|t| t.contains(&id))
                on:change=move |_| ticked.update(|t| if !t.remove(&id) { t.insert(id); })/>
            <button type="button" class="min-w-0 flex-1 text-left text-sm" on:click=move |_| { cursor.set(i); open.set(Some(id)); }>
                <p class="flex items-center gap-2">
                    <span class="truncate" class:font-semibold=c.unread>{title.clone()}</span>
                    <span class="text-xs uppercase text-slate-400">{c.channel.as_str()}</span>
                    {c.unread.then(|| view! { <span class="h-2 w-2 rounded-full bg-indigo-600" aria-label="Unread"></span> })}
                    {c.needs_reply.then(|| view! { <Badge tone=Tone::Warn text="Needs reply"/> })}
                </p>
                <p class="truncate text-slate-500">
                    {(c.last_direction == Direction::Out).then_some("You: ")}{c.last_body.clone()}
                </p>
                <p class="text-xs text-slate-400">
                    {c.campaign_name.clone().unwrap_or_else(|| "No campaign".into())}
                    {c.status.map(|s| format!(" · {s}"))}
                    {c.assignee_name.clone().map(|a| format!(" · {a}"))}
                </p>
            </button>
        </li>
    }
}

/// One conversation: the contact's history and what can be done.
#[component]
fn Conversation(d: ConversationView, draft: Draft) -> impl IntoView {
    let toasts = use_toasts();
    let rt = use_realtime();
    let id = d.item.id;
    let assign = move |ev: leptos::ev::Event| {
        let to = event_target_value(&ev).parse::<Uuid>().ok();
        spawn_local(async move {
            match assign_conversation(id, to).await {
                Ok(()) => {
                    toasts.success("Assigned");
                    rt.tick.update(|t| *t += 1);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let assigned = d.item.assigned_to;
    view! {
        <section class="rounded-xl border border-slate-200 bg-white p-4" data-testid="conversation-view">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div>
                    <h2 class="font-semibold">{d.item.title()}</h2>
                    <p class="text-xs text-slate-500">{format!("{} · {}", d.item.address, d.item.channel)}</p>
                </div>
                <div class="flex flex-wrap items-center gap-2">
                    <select class=INPUT aria-label="Assign to" on:change=assign>
                        <option value="" selected=assigned.is_none()>"Nobody"</option>
                        {d.assignees.into_iter().map(|a| view! {
                            <option value=a.id.to_string() selected=assigned == Some(a.id)>{a.name}</option>
                        }).collect_view()}
                    </select>
                    <button type="button" class=BUTTON_QUIET on:click=move |_| {
                        spawn_local(async move {
                            match mark_conversations_done(vec![id]).await {
                                Ok(_) => { toasts.success("Marked done"); rt.tick.update(|t| *t += 1); }
                                Err(e) => toasts.error(e.error),
                            }
                        });
                    }>"Mark done"</button>
                </div>
            </div>
            {(!d.funnel.is_empty()).then(|| view! {
                <ul class="mt-3 space-y-1 text-sm" data-testid="funnel">
                    {d.funnel.into_iter().map(|f| view! { <Position f/> }).collect_view()}
                </ul>
            })}
            <ol class="mt-4 space-y-2" data-testid="history">
                {d.history.into_iter().map(|m| view! { <Message m/> }).collect_view()}
            </ol>
            {(!d.scheduled.is_empty()).then(|| view! {
                <ul class="mt-3 space-y-1 text-xs text-slate-600" data-testid="scheduled">
                    {d.scheduled.into_iter().map(|s| view! {
                        <li>{format!("Scheduled for {}: {}", when(s.send_at), s.body)}
                            {s.error.map(|e| view! { <span class="text-red-700">{format!(" (not sent: {e})")}</span> })}</li>
                    }).collect_view()}
                </ul>
            })}
            <Composer id draft/>
        </section>
    }
}

#[component]
fn Message(m: HistoryMessage) -> impl IntoView {
    let out = m.direction == Direction::Out;
    let state = m.delivery_status.clone().or(m.send_state.clone());
    view! {
        <li class="flex" class:justify-end=out data-testid="message">
            <div class="max-w-[80%] rounded-lg px-3 py-2 text-sm" class=("bg-indigo-600", out) class=("text-white", out) class=("bg-slate-100", !out)>
                {m.subject.map(|s| view! { <p class="font-medium">{s}</p> })}
                // A voicemail's body is what was spoken, not a text the contact read.
                {(m.channel == Channel::Voicemail).then(|| view! { <p class="text-[11px] font-medium opacity-80">"Script"</p> })}
                // Shown, but not the contact writing: it neither paused nor counted as a reply.
                {m.auto_kind.as_deref().map(|k| view! {
                    <p class="text-[11px] font-semibold uppercase tracking-wide text-amber-700" data-testid="message-auto">
                        {if k == "bounce" { "Bounce: the address refused the email" } else { "Automatic reply" }}
                    </p>
                })}
                <p class="whitespace-pre-wrap">{m.body}</p>
                {m.media.into_iter().map(|f| match f.state {
                    MediaState::Stored if f.is_audio() => view! {
                        <audio controls preload="none" src=f.url class="mt-2 w-full max-w-xs" data-testid="message-audio"></audio>
                    }.into_any(),
                    MediaState::Stored if f.is_image() => {
                        let link = f.url.clone();
                        view! {
                            <a href=link target="_blank"><img src=f.url alt="Picture sent with the message" class="mt-2 max-h-60 rounded"/></a>
                        }.into_any()
                    }
                    MediaState::Stored => view! { <a class="mt-2 block underline" href=f.url target="_blank">{format!("Attachment ({})", f.content_type)}</a> }.into_any(),
                    MediaState::Pending => view! { <p class="mt-2 text-[11px]">"Attachment on its way…"</p> }.into_any(),
                    MediaState::Failed => view! {
                        <p class="mt-2 text-[11px]">{format!("Attachment not fetched: {}", f.error.unwrap_or_default())}</p>
                    }.into_any(),
                }).collect_view()}
                <p class="mt-1 flex flex-wrap items-center gap-1 text-[11px] opacity-80">
                    {format!("{} · {}", m.channel, when(m.created_at))}
                    {m.campaign_name.map(|k| format!(" · {k}"))}
                    {m.sent_by.map(|u| format!(" · {u}"))}
                    {state.map(|s| view! { <Badge tone=Tone::of_state(&s) text=s.clone()/> })}
                </p>
                {m.error.map(|e| view! { <p class="text-[11px]">{e}</p> })}
            </div>
        </li>
    }
}

/// The contact's place in one campaign, with its status and sequence controls.
#[component]
fn Position(f: FunnelPosition) -> impl IntoView {
    let toasts = use_toasts();
    let rt = use_realtime();
    let (campaign, enrollment) = (f.campaign_id, f.enrollment_id);
    let act = move |action: EnrollmentAction| {
        spawn_local(async move {
            match act_on_enrollment(campaign, enrollment, action).await {
                Ok(_) => { toasts.success(action.label()); rt.tick.update(|t| *t += 1); }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let set_status = move |ev: leptos::ev::Event| {
        let Some(status) = EnrollmentStatus::parse(&event_target_value(&ev)) else { return };
        let change = BulkStatusChange { ids: vec![enrollment], all_matching: false, filter: Default::default(), status };
        spawn_local(async move {
            match bulk_set_status(change).await {
                Ok(_) => { toasts.success(format!("Status: {status}")); rt.tick.update(|t| *t += 1); }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let position = match (&f.current_node, f.engine_state) {
        (Some(node), s) => format!("at {node}, {s}"),
        (None, s) => s.to_string(),
    };
    view! {
        <li class="flex flex-wrap items-center gap-2">
            <span class="font-medium">{f.campaign_name.clone()}</span>
            <span class="text-slate-500">{position}{f.stage_key.map(|s| format!(" · stage {s}"))}</span>
            <select class=INPUT aria-label=format!("Status in {}", f.campaign_name) on:change=set_status>
                {EnrollmentStatus::ALL.iter().map(|s| view! { <option value=s.as_str() selected=*s == f.status>{s.as_str()}</option> }).collect_view()}
            </select>
            {match f.engine_state {
                EngineState::Active | EngineState::Held => Some(view! {
                    <button type="button" class=BUTTON_QUIET on:click=move |_| act(EnrollmentAction::Pause)>"Pause sequence"</button>
                }.into_any()),
                EngineState::Paused => Some(view! {
                    <button type="button" class=BUTTON_QUIET on:click=move |_| act(EnrollmentAction::Resume)>"Resume sequence"</button>
                }.into_any()),
                _ => None,
            }}
        </li>
    }
}

/// A reply being written: its text, when to send it, and its key, which stays the same
/// until a send succeeds, so a double-click sends once.
#[derive(Clone, Copy)]
struct Draft {
    body: RwSignal<String>,
    later: RwSignal<String>,
    key: RwSignal<Uuid>,
}

impl Draft {
    fn new() -> Self {
        Self { body: RwSignal::new(String::new()), later: RwSignal::new(String::new()), key: RwSignal::new(Uuid::new_v4()) }
    }

    fn clear(&self) {
        self.body.set(String::new());
        self.later.set(String::new());
        self.key.set(Uuid::new_v4());
    }
}

/// The reply box: merge tags and snippets allowed; sent now or at a chosen time.
#[component]
fn Composer(id: Uuid, draft: Draft) -> impl IntoView {
    let toasts = use_toasts();
    let rt = use_realtime();
    let Draft { body, later, key } = draft;
    let busy = RwSignal::new(false);
    let snippets = Resource::new(|| (), |_| list_snippets());
    let snippet_name = RwSignal::new(String::new());
    let send = move |scheduled: bool| {
        let send_at = if scheduled {
            match local_time(&later.get_untracked()) {
                Some(at) => Some(at),
                None => return toasts.error("Choose when to send it"),
            }
        } else {
            None
        };
        let input = ReplyInput { conversation_id: id, key: key.get_untracked(), body: body.get_untracked(), send_at };
        busy.set(true);
        spawn_local(async move {
            match reply_to_conversation(input).await {
                Ok(_) => {
                    toasts.success(if scheduled { "Reply scheduled" } else { "Reply sent" });
                    draft.clear();
                    rt.tick.update(|t| *t += 1);
                }
                Err(e) => toasts.error(e.error),
            }
            busy.set(false);
        });
    };
    let save = move |_| {
        let input = SnippetInput { name: snippet_name.get_untracked(), body: body.get_untracked() };
        spawn_local(async move {
            match save_snippet(None, input).await {
                Ok(s) => { toasts.success(format!("Saved snippet {}", s.name)); snippet_name.set(String::new()); snippets.refetch(); }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <form class="mt-4 space-y-2 border-t border-slate-100 pt-4" data-testid="composer" on:submit=move |ev| { ev.prevent_default(); send(false); }>
            <textarea class="block w-full rounded-md border border-slate-300 px-3 py-2 text-sm" rows="3" aria-label="Reply"
                placeholder="Write a reply; merge tags like {{contact.first_name}} work" bind:value=body></textarea>
            <div class="flex flex-wrap items-center gap-2">
                <button type="submit" class=BUTTON disabled=move || busy.get()>"Send reply"</button>
                <input class=INPUT type="datetime-local" aria-label="Send at" bind:value=later/>
                <button type="button" class=BUTTON_QUIET disabled=move || busy.get() on:click=move |_| send(true)>"Schedule"</button>
                <Transition>
                    {move || snippets.get().and_then(Result::ok).map(|list| {
                        let choices = list.clone();
                        view! {
                        <select class=INPUT aria-label="Insert snippet" on:change=move |ev| {
                            let chosen = event_target_value(&ev);
                            if let Some(s) = choices.iter().find(|s| s.id.to_string() == chosen) {
                                body.update(|b| { if !b.is_empty() { b.push(' '); } b.push_str(&s.body); });
                            }
                        }>
                            <option value="">"Insert snippet…"</option>
                            {list.iter().map(|s| view! { <option value=s.id.to_string()>{s.name.clone()}</option> }).collect_view()}
                        </select>
                        {list.iter().map(|s| {
                            let (sid, name) = (s.id, s.name.clone());
                            view! {
                                <button type="button" class="text-xs text-slate-500 hover:text-red-700" aria-label=format!("Delete snippet {name}")
                                    on:click=move |_| spawn_local(async move {
                                        match delete_snippet(sid).await {
                                            Ok(()) => snippets.refetch(),
                                            Err(e) => toasts.error(e.error),
                                        }
                                    })>{format!("✕ {}", s.name)}</button>
                            }
                        }).collect_view()}
                    }})}
                </Transition>
                <input class=INPUT aria-label="Snippet name" placeholder="Snippet name" bind:value=snippet_name/>
                <button type="button" class=BUTTON_QUIET on:click=save>"Save as snippet"</button>
            </div>
        </form>
    }
}

/// A `datetime-local` value, read in the browser's time zone.
#[cfg(feature = "hydrate")]
fn local_time(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    #[wasm_bindgen::prelude::wasm_bindgen]
    extern "C" {
        // A date-time without an offset is local time (ECMAScript's Date Time String Format).
        #[wasm_bindgen(js_namespace = Date, js_name = parse)]
        fn date_parse(s: &str) -> f64;
    }
    let ms = date_parse(value);
    if value.is_empty() || ms.is_nan() {
        return None;
    }
    chrono::DateTime::from_timestamp_millis(ms as i64)
}

#[cfg(not(feature = "hydrate"))]
fn local_time(_value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    None
}
