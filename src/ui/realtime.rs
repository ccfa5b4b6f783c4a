//! Real-time updates in the browser: one `EventSource` on `/api/events` per signed-in tab.
//! Pages read the latest event (or a resync) and refetch what it touches.
use crate::domain::inbox::Event;
use leptos::prelude::*;

/// What the stream said last; `tick` moves on every message, so pages refetch even when
/// two events look alike.
#[derive(Clone, Copy)]
pub struct Realtime {
    pub tick: RwSignal<u64>,
    /// `None` after a resync: everything may have changed.
    pub last: RwSignal<Option<Event>>,
}

impl Realtime {
    /// Whether the latest message may concern this campaign.
    pub fn touches_campaign(&self, id: uuid::Uuid) -> bool {
        self.last.with(|e| e.as_ref().is_none_or(|e| e.campaign_id == Some(id) || e.campaign_id.is_none()))
    }
}

/// Opens the stream for the signed-in shell; it closes when the shell unmounts. The browser
/// reconnects by itself after a network error.
pub fn provide_realtime() {
    let rt = Realtime { tick: RwSignal::new(0), last: RwSignal::new(None) };
    provide_context(rt);
    // Effects run only in the browser.
    Effect::new(move |_| connect(rt));
}

pub fn use_realtime() -> Realtime {
    expect_context::<Realtime>()
}

/// Keeps a page's data fresh while the calling component is mounted: `fetch` runs whenever
/// the stream says something `relevant` happened (or that events were missed), one fetch at
/// a time; changes heard during a fetch bring one more. `apply` takes each answer; a failed
/// fetch waits for the next change and the page keeps what it shows. Effects run only in the
/// browser, so server rendering fetches nothing more.
pub fn refetch_on_change<T, Fut>(
    relevant: impl Fn(&Realtime) -> bool + 'static,
    fetch: impl Fn() -> Fut + Copy + 'static,
    apply: impl Fn(T) + Copy + 'static,
) where
    T: 'static,
    Fut: std::future::Future<Output = Result<T, crate::domain::AppError>> + 'static,
{
    let rt = use_realtime();
    // (a fetch is out, another is wanted after it)
    let state = StoredValue::new((false, false));
    Effect::new(move |first: Option<()>| {
        rt.tick.track();
        if first.is_none() || !relevant(&rt) {
            return;
        }
        if state.get_value().0 {
            state.update_value(|s| s.1 = true);
            return;
        }
        state.set_value((true, false));
        leptos::task::spawn_local(async move {
            loop {
                if let Ok(fresh) = fetch().await {
                    apply(fresh);
                }
                if !state.try_update_value(|s| std::mem::replace(&mut s.1, false)).unwrap_or(false) {
                    break;
                }
            }
            state.try_update_value(|s| s.0 = false);
        });
    });
}

#[cfg(feature = "hydrate")]
fn connect(rt: Realtime) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Ok(source) = web_sys::EventSource::new("/api/events") else { return };
    let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |m: web_sys::MessageEvent| {
        let event = m.data().as_string().and_then(|d| serde_json::from_str::<Event>(&d).ok());
        rt.last.set(event);
        rt.tick.update(|t| *t += 1);
    });
    let on_resync = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
        rt.last.set(None);
        rt.tick.update(|t| *t += 1);
    });
    let _ = source.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("resync", on_resync.as_ref().unchecked_ref());
    // The closures live as long as the stream; both go when the shell unmounts.
    let keep = StoredValue::new_local(Some((source, on_change, on_resync)));
    on_cleanup(move || {
        if let Some((source, ..)) = keep.try_update_value(Option::take).flatten() {
            source.close();
        }
    });
}

#[cfg(not(feature = "hydrate"))]
fn connect(_rt: Realtime) {}
