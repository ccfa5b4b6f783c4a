//! Forgotten passwords: ask for a link, then set a new password with it.
use crate::api::account::{forgot_password, reset_password};
use crate::ui::components::{BUTTON, TextField};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
fn Card(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title/>
        <div class="flex min-h-full items-center justify-center px-4 py-12">
            <div class="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
                <h1 class="text-xl font-semibold">{title}</h1>
                {children()}
                <p class="mt-4 text-center text-sm"><a href="/login" class="text-indigo-600 hover:underline">"Back to sign in"</a></p>
            </div>
        </div>
    }
}

/// What the server said: a confirmation or its error.
#[component]
fn Outcome(outcome: RwSignal<Option<Result<(), String>>>, success: &'static str) -> impl IntoView {
    move || {
        outcome.get().map(|r| match r {
            Ok(()) => view! { <p class="mt-4 text-sm text-emerald-700" role="status">{success}</p> }.into_any(),
            Err(e) => view! { <p class="mt-4 text-sm text-red-700" role="alert">{e}</p> }.into_any(),
        })
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<(), String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let e = email.get_untracked();
        leptos::task::spawn_local(async move {
            outcome.set(Some(forgot_password(e).await.map_err(|e| e.error)));
        });
    };
    view! {
        <Card title="Forgot your password?">
            <form class="mt-4 space-y-4" on:submit=submit>
                <TextField label="Email" name="email" kind="email" value=email required=true/>
                <button type="submit" class=format!("{BUTTON} w-full")>"Email me a reset link"</button>
            </form>
            <Outcome outcome success="If that address has an account, a reset link is on its way."/>
        </Card>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let password = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<(), String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token = query.get_untracked().get("token").unwrap_or_default();
        let p = password.get_untracked();
        leptos::task::spawn_local(async move {
            outcome.set(Some(reset_password(token, p).await.map_err(|e| e.error)));
        });
    };
    view! {
        <Card title="Choose a new password">
            <form class="mt-4 space-y-4" on:submit=submit>
                <TextField label="New password (at least 10 characters)" name="password" kind="password" value=password autocomplete="new-password" required=true/>
                <button type="submit" class=format!("{BUTTON} w-full")>"Set password"</button>
            </form>
            <Outcome outcome success="Your password is set. You can sign in now."/>
        </Card>
    }
}
