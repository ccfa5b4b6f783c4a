//! Short messages in the corner: errors from the server, confirmations of saves.
use leptos::prelude::*;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq)]
pub enum ToastKind {
    Error,
    Success,
}

#[derive(Clone)]
struct Toast {
    id: u64,
    kind: ToastKind,
    text: String,
}

#[derive(Clone, Copy)]
pub struct Toasts {
    items: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    pub fn show(&self, kind: ToastKind, text: impl Into<String>) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.items.update(|v| v.push(Toast { id, kind, text: text.into() }));
        let items = self.items;
        set_timeout(move || items.update(|v| v.retain(|t| t.id != id)), Duration::from_secs(6));
    }

    pub fn error(&self, text: impl Into<String>) {
        self.show(ToastKind::Error, text);
    }

    pub fn success(&self, text: impl Into<String>) {
        self.show(ToastKind::Success, text);
    }
}

pub fn provide_toasts() {
    provide_context(Toasts { items: RwSignal::new(Vec::new()), next: StoredValue::new(0) });
}

pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}

#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div class="fixed bottom-4 right-4 z-50 flex w-80 max-w-[calc(100vw-2rem)] flex-col gap-2" role="status" aria-live="polite">
            <For each=move || toasts.items.get() key=|t| t.id let:t>
                <div
                    class="rounded-lg px-4 py-3 text-sm shadow-lg"
                    class=("bg-red-600", t.kind == ToastKind::Error)
                    class=("bg-emerald-600", t.kind == ToastKind::Success)
                    class=("text-white", true)
                    data-testid="toast"
                >
                    {t.text.clone()}
                </div>
            </For>
        </div>
    }
}
