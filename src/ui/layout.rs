//! The signed-in shell: navigation, the user and their role, sign out, toasts.
use crate::api::account::logout;
use crate::api::inbox::unread_counts;
use crate::ui::realtime::{provide_realtime, use_realtime};
use crate::domain::user::UserView;
use crate::ui::session::{reload_to, use_session};
use crate::ui::toast::use_toasts;
use leptos::prelude::*;
use leptos_router::components::{A, Outlet, Redirect};
use leptos_router::hooks::use_location;

const NAV: [(&str, &str); 8] = [
    ("/", "Dashboard"),
    ("/campaigns", "Campaigns"),
    ("/builder", "Campaign builder"),
    ("/templates", "Templates"),
    ("/inbox", "Inbox"),
    ("/leads", "Leads"),
    ("/analytics", "Analytics"),
    ("/settings", "Settings"),
];
const ADMIN_NAV: [(&str, &str); 3] = [("/admin/users", "Users"), ("/admin/suppressions", "Suppressions"), ("/admin/audit", "Audit log")];

#[component]
pub fn Shell() -> impl IntoView {
    let me = use_session();
    view! {
        <Suspense fallback=|| view! { <p class="p-8 text-sm text-slate-500">"Loading…"</p> }>
            {move || me.get().map(|r| match r {
                Ok(Some(user)) => view! { <Frame user/> }.into_any(),
                Ok(None) => {
                    let here = use_location().pathname.get_untracked();
                    let next = if here == "/" { String::new() } else { format!("?next={here}") };
                    view! { <Redirect path=format!("/login{next}")/> }.into_any()
                }
                Err(e) => view! { <div class="p-8"><crate::ui::components::ErrorBox error=e/></div> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn Frame(user: UserView) -> impl IntoView {
    let menu_open = RwSignal::new(false);
    let toasts = use_toasts();
    provide_realtime();
    let rt = use_realtime();
    let counts = Resource::new(move || rt.tick.get(), |_| unread_counts());
    let unread = move || counts.get().and_then(Result::ok).map_or(0, |c| c.unread);
    let is_admin = user.role == crate::domain::Role::Admin;
    let sign_out = move |_| {
        leptos::task::spawn_local(async move {
            match logout().await {
                Ok(()) => reload_to("/login"),
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let link = move |(href, label): (&'static str, &'static str)| {
        view! {
            <A href=href attr:class="block rounded-md px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-800 hover:text-white aria-[current=page]:bg-slate-800 aria-[current=page]:text-white" exact=true on:click=move |_| menu_open.set(false)>
                {label}
                {(href == "/inbox").then(|| view! {
                    <Transition>
                        {move || (unread() > 0).then(|| view! {
                            // Out of the link's name ("Inbox"); the title says what the number is.
                            <span class="ml-2 rounded-full bg-indigo-500 px-2 py-0.5 text-xs text-white" data-testid="unread-count"
                                aria-hidden="true" title=format!("{} unread", unread())>{unread()}</span>
                        })}
                    </Transition>
                })}
            </A>
        }
    };
    view! {
        <div class="min-h-full md:flex">
            <aside class="bg-slate-900 md:fixed md:inset-y-0 md:w-60">
                <div class="flex items-center justify-between px-4 py-4">
                    <a href="/" class="text-lg font-bold tracking-tight text-white">"Turnout"</a>
                    <button
                        type="button"
                        class="rounded-md p-2 text-slate-300 hover:bg-slate-800 md:hidden"
                        aria-label="Menu"
                        aria-expanded=move || menu_open.get().to_string()
                        data-testid="menu-toggle"
                        on:click=move |_| menu_open.update(|o| *o = !*o)
                    >
                        "☰"
                    </button>
                </div>
                <nav class="space-y-1 px-2 pb-4 md:block" class:hidden=move || !menu_open.get() aria-label="Main">
                    {NAV.into_iter().map(link).collect_view()}
                    {is_admin.then(|| view! {
                        <p class="px-3 pt-4 text-xs font-semibold uppercase tracking-wider text-slate-500">"Admin"</p>
                        {ADMIN_NAV.into_iter().map(link).collect_view()}
                    })}
                </nav>
            </aside>
            <div class="flex-1 md:pl-60">
                <header class="flex items-center justify-end gap-3 border-b border-slate-200 bg-white px-4 py-3 md:px-8">
                    <span class="text-sm text-slate-700" data-testid="signed-in-user">{user.name.clone()}</span>
                    <span class="rounded-full bg-indigo-50 px-2 py-0.5 text-xs font-medium text-indigo-700" data-testid="signed-in-role">
                        {user.role.label()}
                    </span>
                    <button type="button" class=crate::ui::components::BUTTON_QUIET on:click=sign_out>"Sign out"</button>
                </header>
                <main class="mx-auto max-w-6xl px-4 py-6 md:px-8">
                    <Outlet/>
                </main>
            </div>
        </div>
    }
}
