//! Admin › Users: add people, change roles, disable accounts, reset passwords.
use crate::api::admin::{create_user, list_users, reset_user_password, update_user};
use crate::domain::Role;
use crate::domain::user::{InviteOutcome, NewUser, UserUpdate, UserView};
use crate::ui::components::{BUTTON, BUTTON_QUIET, CARD, DataTable, Loaded, PageHeader, TextField, non_empty};
use crate::ui::toast::use_toasts;
use leptos::prelude::*;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let users = Resource::new(move || reload.get(), |_| list_users());
    // A link to hand over when no system mail sender is configured.
    let handover = RwSignal::new(None::<(String, String)>);
    let outcome = move |o: InviteOutcome| {
        if let Some(link) = o.link {
            handover.set(Some((o.user.email, link)));
        }
        reload.update(|n| *n += 1);
    };
    view! {
        <PageHeader title="Users" subtitle="Who can sign in, and what they may do"/>
        <NewUserForm on_done=outcome/>
        {move || handover.get().map(|(email, link)| view! {
            <div class="mt-4 rounded-lg border border-amber-200 bg-amber-50 p-4 text-sm" data-testid="handover-link">
                <p>"No mail sender is set up, so give "<strong>{email}</strong>" this single-use link to set a password:"</p>
                <p class="mt-2 break-all font-mono text-xs">{link}</p>
            </div>
        })}
        <div class="mt-6">
            <Loaded resource=users render={move |list: Vec<UserView>| view! {
                <DataTable headers={&["Name", "Email", "Role", "Status", "Actions"]} testid="users-table">
                    {list.into_iter().map(|u| view! { <UserRow user=u on_done=outcome reload/> }).collect_view()}
                </DataTable>
            }}/>
        </div>
    }
}

#[component]
fn NewUserForm(on_done: impl Fn(InviteOutcome) + Copy + Send + Sync + 'static) -> impl IntoView {
    let toasts = use_toasts();
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Bdr.as_str().to_string());
    let password = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewUser {
            email: email.get_untracked(),
            name: name.get_untracked(),
            role: Role::parse(&role.get_untracked()).unwrap_or(Role::Bdr),
            password: non_empty(password.get_untracked()),
        };
        leptos::task::spawn_local(async move {
            match create_user(new).await {
                Ok(o) => {
                    toasts.success(if o.emailed { "User added and invited by email" } else { "User added" });
                    email.set(String::new());
                    name.set(String::new());
                    password.set(String::new());
                    on_done(o);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <form class=CARD on:submit=submit data-testid="new-user-form">
            <h2 class="text-lg font-semibold">"Add a user"</h2>
            <div class="mt-4 grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
                <TextField label="Name" name="name" value=name required=true/>
                <TextField label="Email" name="email" kind="email" value=email required=true/>
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"Role"</span>
                    <select name="role" class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2"
                        on:change=move |ev| role.set(event_target_value(&ev))>
                        <option value="bdr" selected>"BDR"</option>
                        <option value="admin">"Admin"</option>
                    </select>
                </label>
                <TextField label="Password (blank: send an invitation)" name="password" kind="password" value=password autocomplete="new-password"/>
            </div>
            <div class="mt-4"><button type="submit" class=BUTTON>"Add user"</button></div>
        </form>
    }
}

#[component]
fn UserRow(
    user: UserView,
    on_done: impl Fn(InviteOutcome) + Copy + Send + Sync + 'static,
    reload: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let id = user.id;
    let change = move |c: UserUpdate| {
        leptos::task::spawn_local(async move {
            match update_user(id, c).await {
                Ok(_) => {
                    toasts.success("User updated");
                    reload.update(|n| *n += 1);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let reset = move |_| {
        leptos::task::spawn_local(async move {
            match reset_user_password(id, None).await {
                Ok(o) => {
                    toasts.success(if o.emailed { "Reset link emailed" } else { "Reset link created" });
                    on_done(o);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let disabled = user.disabled;
    let email = user.email.clone();
    view! {
        <tr data-email=email>
            <td class="px-4 py-2 font-medium">{user.name}</td>
            <td class="px-4 py-2">{user.email}</td>
            <td class="px-4 py-2">
                <select aria-label="Role" class="rounded-md border border-slate-300 px-2 py-1"
                    on:change=move |ev| change(UserUpdate { role: Role::parse(&event_target_value(&ev)), ..Default::default() })>
                    {Role::ALL.iter().map(|r| view! { <option value=r.as_str() selected=*r == user.role>{r.label()}</option> }).collect_view()}
                </select>
            </td>
            <td class="px-4 py-2">{if disabled { "Disabled" } else { "Active" }}</td>
            <td class="flex flex-wrap gap-2 px-4 py-2">
                <button type="button" class=BUTTON_QUIET on:click=move |_| change(UserUpdate { disabled: Some(!disabled), ..Default::default() })>
                    {if disabled { "Enable" } else { "Disable" }}
                </button>
                <button type="button" class=BUTTON_QUIET on:click=reset>"Reset password"</button>
            </td>
        </tr>
    }
}
