use crate::api::account::login;
use crate::ui::components::{BUTTON, TextField};
use crate::ui::session::{reload_to, use_user};
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

/// Only a path on this site may follow sign-in, never another origin.
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//")).unwrap_or_else(|| "/".into())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let show_password = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let query = use_query_map();
    let next = move || safe_next(query.get().get("next"));
    let user = use_user();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let (e, p) = (email.get_untracked(), password.get_untracked());
        let target = next();
        leptos::task::spawn_local(async move {
            match login(e, p).await {
                Ok(_) => reload_to(&target),
                Err(err) => {
                    error.set(Some(err.error));
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <leptos_meta::Title text="Sign in"/>
        <Suspense>{move || user.get().map(|_| view! { <Redirect path=next()/> })}</Suspense>
        <div class="flex min-h-full items-center justify-center px-4 py-12">
            <div class="w-full max-w-sm">
                <h1 class="text-center text-3xl font-bold tracking-tight text-indigo-700">"Turnout"</h1>
                <p class="mt-2 text-center text-sm text-slate-600">"Sign in to fill your events"</p>
                <form class="mt-8 space-y-4 rounded-xl border border-slate-200 bg-white p-6 shadow-sm" method="post" action="/api/fn/login" on:submit=submit>
                    <TextField label="Email" name="email" kind="email" value=email autocomplete="username" required=true/>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Password"</span>
                        <input
                            class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-1 focus:ring-indigo-500"
                            type=move || if show_password.get() { "text" } else { "password" }
                            name="password"
                            autocomplete="current-password"
                            required
                            bind:value=password
                        />
                    </label>
                    <label class="flex items-center gap-2 text-sm text-slate-600">
                        <input type="checkbox" data-testid="show-password" bind:checked=show_password/>
                        "Show password"
                    </label>
                    {move || error.get().map(|e| view! {
                        <p class="rounded-md bg-red-50 px-3 py-2 text-sm text-red-700" role="alert">{e}</p>
                    })}
                    <button type="submit" class=format!("{BUTTON} w-full") disabled=move || busy.get()>
                        {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                    <p class="text-center text-sm">
                        <a href="/forgot-password" class="text-indigo-600 hover:underline">"Forgot your password?"</a>
                    </p>
                </form>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_stays_on_site() {
        assert_eq!(super::safe_next(Some("/inbox".into())), "/inbox");
        assert_eq!(super::safe_next(Some("//evil.example".into())), "/");
        assert_eq!(super::safe_next(Some("https://evil.example".into())), "/");
        assert_eq!(super::safe_next(None), "/");
    }
}
