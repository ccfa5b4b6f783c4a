//! The pages, rendered on the server and hydrated in the browser.
mod builder;
mod charts;
mod components;
mod layout;
mod pages;
mod realtime;
mod session;
mod toast;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" class="h-full bg-slate-50">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <MetaTags/>
            </head>
            <body class="h-full text-slate-900 antialiased">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    session::provide_session();
    toast::provide_toasts();
    // Effects run only in the browser: the mark tells tests (and CSS) the page is interactive.
    Effect::new(|| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/turnout.css"/>
        <Title formatter=|page: String| if page.is_empty() { "Turnout".to_string() } else { format!("{page} · Turnout") }/>
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("/login") view=pages::login::LoginPage/>
                <Route path=path!("/forgot-password") view=pages::password::ForgotPasswordPage/>
                <Route path=path!("/reset-password") view=pages::password::ResetPasswordPage/>
                <ParentRoute path=path!("") view=layout::Shell>
                    <Route path=path!("") view=pages::dashboard::DashboardPage/>
                    <Route path=path!("campaigns") view=pages::campaigns::CampaignsPage/>
                    <Route path=path!("campaigns/:id") view=pages::campaigns::CampaignPage/>
                    <Route path=path!("builder") view=pages::builder::BuilderPage/>
                    <Route path=path!("templates") view=pages::templates::TemplatesPage/>
                    <Route path=path!("templates/:id") view=pages::templates::TemplatePage/>
                    <Route path=path!("content") view=pages::content::ContentPage/>
                    <Route path=path!("inbox") view=pages::inbox::InboxPage/>
                    <Route path=path!("leads") view=pages::leads::LeadsPage/>
                    <Route path=path!("leads/imports/:id") view=pages::leads::ImportPage/>
                    <Route path=path!("leads/contacts/:id") view=pages::leads::ContactPage/>
                    <Route path=path!("analytics") view=pages::analytics::AnalyticsPage/>
                    <Route path=path!("settings") view=pages::settings::SettingsPage/>
                    <Route path=path!("admin/users") view=pages::admin_users::AdminUsersPage/>
                    <Route path=path!("admin/audit") view=pages::audit::AuditPage/>
                    <Route path=path!("admin/suppressions") view=pages::suppressions::SuppressionsPage/>
                </ParentRoute>
            </Routes>
            <toast::ToastRegion/>
        </Router>
    }
}
