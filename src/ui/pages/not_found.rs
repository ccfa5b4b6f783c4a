use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <leptos_meta::Title text="Page not found"/>
        <div class="flex min-h-full flex-col items-center justify-center px-4 py-24 text-center">
            <p class="text-sm font-semibold text-indigo-600">"404"</p>
            <h1 class="mt-2 text-3xl font-bold tracking-tight">"Page not found"</h1>
            <p class="mt-2 text-slate-600">"There is nothing at this address."</p>
            <a href="/" class="mt-6 text-sm font-medium text-indigo-600 hover:underline">"Go to the dashboard"</a>
        </div>
    }
}
