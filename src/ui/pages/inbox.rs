use crate::api::records::{get_conversation, list_conversations};
use crate::domain::campaign::{ConversationDetail, ConversationSummary, Direction};
use crate::ui::components::{EmptyState, Loaded, PageHeader, when};
use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub fn InboxPage() -> impl IntoView {
    let conversations = Resource::new(|| (), |_| list_conversations());
    let selected = RwSignal::new(None::<Uuid>);
    let detail = Resource::new(move || selected.get(), |id| async move {
        match id {
            Some(id) => get_conversation(id).await.map(Some),
            None => Ok(None),
        }
    });
    view! {
        <PageHeader title="Inbox" subtitle="Replies from your campaigns' contacts"/>
        <Loaded resource=conversations render={move |list: Vec<ConversationSummary>| {
            if list.is_empty() {
                return view! {
                    <EmptyState title="No conversations yet">"Replies to your campaigns' texts and emails land here."</EmptyState>
                }.into_any();
            }
            view! {
                <div class="grid gap-4 md:grid-cols-[20rem_1fr]">
                    <ul class="divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white" data-testid="conversations">
                        {list.into_iter().map(|c| {
                            let id = c.id;
                            view! {
                                <li>
                                    <button type="button" class="w-full px-4 py-3 text-left text-sm hover:bg-slate-50"
                                        class:bg-indigo-50=move || selected.get() == Some(id)
                                        on:click=move |_| selected.set(Some(id))>
                                        <p class="font-medium">{c.contact_name.clone().unwrap_or_else(|| c.address.clone())}
                                            <span class="ml-2 text-xs uppercase text-slate-400">{c.channel.as_str()}</span></p>
                                        <p class="truncate text-slate-500">{c.last_body.clone().unwrap_or_default()}</p>
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <Loaded resource=detail render={|d: Option<ConversationDetail>| match d {
                        None => view! { <p class="p-6 text-sm text-slate-500">"Select a conversation to read it."</p> }.into_any(),
                        Some(d) => view! {
                            <div class="rounded-xl border border-slate-200 bg-white p-4">
                                <h2 class="font-semibold">{d.summary.contact_name.clone().unwrap_or_else(|| d.summary.address.clone())}</h2>
                                <p class="text-xs text-slate-500">{d.summary.address.clone()}</p>
                                <ol class="mt-4 space-y-2">
                                    {d.messages.into_iter().map(|m| {
                                        let out = m.direction == Direction::Out;
                                        view! {
                                            <li class="flex" class:justify-end=out>
                                                <div class="max-w-[80%] rounded-lg px-3 py-2 text-sm"
                                                    class=("bg-indigo-600", out) class=("text-white", out) class=("bg-slate-100", !out)>
                                                    <p class="whitespace-pre-wrap">{m.body}</p>
                                                    <p class="mt-1 text-[11px] opacity-70">{when(m.created_at)}</p>
                                                </div>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                            </div>
                        }.into_any(),
                    }}/>
                </div>
            }.into_any()
        }}/>
    }
}
