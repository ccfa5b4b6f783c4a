//! Settings: one's profile and sending identities, the Twilio account texts go out through,
//! password, and (admins) the organisation.
use crate::api::account::{change_password, get_profile, get_twilio_account, set_twilio_account, update_profile};
use crate::api::admin::{get_org, update_org};
use crate::domain::org::OrgSettings;
use crate::domain::user::{Profile, ProfileUpdate, SmtpTls, TwilioAccountInput, TwilioAccountView};
use crate::ui::components::{BUTTON, BUTTON_QUIET, CARD, Loaded, PageHeader, TextField};
use crate::ui::session::use_is_admin;
use crate::ui::toast::use_toasts;
use leptos::prelude::*;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let profile = Resource::new(|| (), |_| get_profile());
    let is_admin = use_is_admin();
    view! {
        <PageHeader title="Settings" subtitle="Your profile and the identities your messages go out from"/>
        <div class="space-y-6">
            <Loaded resource=profile render={|p: Profile| view! { <ProfileForm profile=p/> }}/>
            <TwilioCard/>
            <PasswordForm/>
            {move || is_admin.get().then(|| view! { <OrgForm/> })}
        </div>
    }
}

#[component]
fn ProfileForm(profile: Profile) -> impl IntoView {
    let toasts = use_toasts();
    let text = |v: Option<String>| RwSignal::new(v.unwrap_or_default());
    let name = RwSignal::new(profile.name.clone());
    let mobile = text(profile.mobile_phone.clone());
    let sms = text(profile.sms_from_number.clone());
    let vm = text(profile.vm_caller_id.clone());
    let host = text(profile.smtp_host.clone());
    let port = text(profile.smtp_port.map(|p| p.to_string()));
    let username = text(profile.smtp_username.clone());
    let from = text(profile.smtp_from_email.clone());
    let tls = RwSignal::new(profile.smtp_tls.as_str().to_string());
    let secret = RwSignal::new(String::new());
    let secret_set = RwSignal::new(profile.smtp_password_set);
    let clear_secret = RwSignal::new(false);

    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let password = if clear_secret.get_untracked() {
            Some(String::new())
        } else {
            Some(secret.get_untracked()).filter(|s| !s.is_empty())
        };
        let update = ProfileUpdate {
            name: name.get_untracked(),
            mobile_phone: mobile.get_untracked(),
            sms_from_number: sms.get_untracked(),
            vm_caller_id: vm.get_untracked(),
            smtp_host: host.get_untracked(),
            smtp_port: port.get_untracked(),
            smtp_username: username.get_untracked(),
            smtp_tls: tls.get_untracked(),
            smtp_from_email: from.get_untracked(),
            smtp_password: password,
        };
        leptos::task::spawn_local(async move {
            match update_profile(update).await {
                Ok(p) => {
                    // Show the numbers as stored, in E.164.
                    sms.set(p.sms_from_number.unwrap_or_default());
                    mobile.set(p.mobile_phone.unwrap_or_default());
                    vm.set(p.vm_caller_id.unwrap_or_default());
                    secret.set(String::new());
                    clear_secret.set(false);
                    secret_set.set(p.smtp_password_set);
                    toasts.success("Settings saved");
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };

    view! {
        <form class=CARD on:submit=save data-testid="profile-form">
            <h2 class="text-lg font-semibold">"Profile"</h2>
            <p class="text-sm text-slate-500">{profile.email.clone()}" · "{profile.role.label()}</p>
            <div class="mt-4 grid gap-4 sm:grid-cols-2">
                <TextField label="Display name" name="name" value=name required=true/>
                <TextField label="Your mobile (for test sends)" name="mobile_phone" value=mobile kind="tel" placeholder="+1 555 010 0000"/>
                <TextField label="SMS from-number" name="sms_from_number" value=sms kind="tel" placeholder="+1 555 010 0000"/>
                <TextField label="Voicemail caller id" name="vm_caller_id" value=vm kind="tel" placeholder="+1 555 010 0000"/>
            </div>
            <h3 class="mt-6 font-semibold">"Email (SMTP) identity"</h3>
            <div class="mt-2 grid gap-4 sm:grid-cols-2">
                <TextField label="SMTP host" name="smtp_host" value=host placeholder="smtp.example.com"/>
                <TextField label="Port" name="smtp_port" value=port kind="number" placeholder="587"/>
                <TextField label="Username" name="smtp_username" value=username autocomplete="off"/>
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"Password"</span>
                    <input type="password" name="smtp_password" autocomplete="new-password"
                        class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 shadow-sm"
                        placeholder=move || if secret_set.get() { "Stored, leave blank to keep" } else { "Not set" }
                        bind:value=secret/>
                    <span class="mt-1 flex items-center gap-2 text-xs text-slate-500">
                        <input type="checkbox" bind:checked=clear_secret disabled=move || !secret_set.get()/>
                        "Remove the stored password"
                    </span>
                </label>
                <label class="block text-sm">
                    <span class="font-medium text-slate-700">"Security"</span>
                    <select name="smtp_tls" class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2"
                        on:change=move |ev| tls.set(event_target_value(&ev)) prop:value=move || tls.get()>
                        {SmtpTls::ALL.iter().map(|t| view! {
                            <option value=t.as_str() selected=t.as_str() == profile.smtp_tls.as_str()>{t.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <TextField label="From address" name="smtp_from_email" value=from kind="email" placeholder="you@example.com"/>
            </div>
            <div class="mt-6"><button type="submit" class=BUTTON>"Save settings"</button></div>
        </form>
    }
}

/// Which Twilio account sends the user's texts (their own, else the organisation's, else the
/// sandbox), and forms to set or remove their own and (admins) the organisation's. Tokens
/// are write-only: the server never returns them.
#[component]
fn TwilioCard() -> impl IntoView {
    let account = Resource::new(|| (), |_| get_twilio_account());
    let is_admin = use_is_admin();
    view! {
        <section class=CARD aria-labelledby="twilio-heading" data-testid="twilio-card">
            <h2 id="twilio-heading" class="text-lg font-semibold">"Twilio (SMS)"</h2>
            <Loaded resource=account render=move |v: TwilioAccountView| {
                let current = RwSignal::new(v);
                view! {
                    <p class="mt-1 text-sm" data-testid="twilio-status">
                        {move || current.with(|a| match (&a.account_sid, a.own) {
                            (Some(sid), true) => format!("Your texts go out through your own account {sid}."),
                            (Some(sid), false) => format!("Your texts go out through the organisation's account {sid}."),
                            (None, _) => "Sandbox: messages are simulated. No text reaches a phone until you or an admin add a Twilio account.".to_string(),
                        })}
                    </p>
                    <TwilioForm org=false current/>
                    {move || is_admin.get().then(|| view! { <TwilioForm org=true current/> })}
                }
            }/>
        </section>
    }
}

/// Sets or removes one Twilio account: the user's own, or with `org` the organisation's.
#[component]
fn TwilioForm(org: bool, current: RwSignal<TwilioAccountView>) -> impl IntoView {
    let toasts = use_toasts();
    let sid = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let send = move |input: TwilioAccountInput| {
        let removing = input.account_sid.is_empty();
        leptos::task::spawn_local(async move {
            match set_twilio_account(input, org).await {
                Ok(v) => {
                    current.set(v);
                    sid.set(String::new());
                    token.set(String::new());
                    toasts.success(if removing { "Twilio account removed" } else { "Twilio account saved" });
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send(TwilioAccountInput { account_sid: sid.get_untracked(), auth_token: token.get_untracked() });
    };
    let remove = move |_| send(TwilioAccountInput::default());
    // Only the own account is known to be set; an admin may always clear the organisation's.
    let removable = move || org || current.with(|a| a.own);
    let (title, testid) = if org { ("The organisation's account (for everyone without their own)", "twilio-org") } else { ("Your own account", "twilio-own") };
    view! {
        <form class="mt-4 border-t border-slate-100 pt-4" on:submit=save data-testid=testid>
            <h3 class="font-semibold">{title}</h3>
            <div class="mt-2 grid gap-4 sm:grid-cols-2">
                <TextField label="Account SID" name="account_sid" value=sid placeholder="AC…" autocomplete="off" required=true/>
                <TextField label="Auth token" name="auth_token" kind="password" value=token autocomplete="new-password" required=true/>
            </div>
            <div class="mt-4 flex flex-wrap gap-2">
                <button type="submit" class=BUTTON>{if org { "Save the organisation's account" } else { "Save my account" }}</button>
                {move || removable().then(|| view! {
                    <button type="button" class=BUTTON_QUIET on:click=remove>
                        {if org { "Remove the organisation's account" } else { "Remove my account" }}
                    </button>
                })}
            </div>
        </form>
    }
}

#[component]
fn PasswordForm() -> impl IntoView {
    let toasts = use_toasts();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (c, n) = (current.get_untracked(), new.get_untracked());
        leptos::task::spawn_local(async move {
            match change_password(c, n).await {
                Ok(()) => {
                    current.set(String::new());
                    new.set(String::new());
                    toasts.success("Password changed; other sign-ins have ended");
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <form class=CARD on:submit=save>
            <h2 class="text-lg font-semibold">"Password"</h2>
            <div class="mt-4 grid gap-4 sm:grid-cols-2">
                <TextField label="Current password" name="current" kind="password" value=current autocomplete="current-password" required=true/>
                <TextField label="New password (at least 10 characters)" name="new" kind="password" value=new autocomplete="new-password" required=true/>
            </div>
            <div class="mt-6"><button type="submit" class=BUTTON>"Change password"</button></div>
        </form>
    }
}

#[component]
fn OrgForm() -> impl IntoView {
    let org = Resource::new(|| (), |_| get_org());
    view! {
        <Loaded resource=org render={|o: OrgSettings| {
            let toasts = use_toasts();
            let name = RwSignal::new(o.name);
            let tz = RwSignal::new(o.time_zone);
            let address = RwSignal::new(o.postal_address);
            let phrases = RwSignal::new(o.rsvp_phrases.unwrap_or_default().join("\n"));
            let save = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let s = OrgSettings {
                    name: name.get_untracked(),
                    time_zone: tz.get_untracked(),
                    postal_address: address.get_untracked(),
                    rsvp_phrases: Some(phrases.get_untracked().lines().map(str::to_string).collect()),
                };
                leptos::task::spawn_local(async move {
                    match update_org(s).await {
                        Ok(_) => toasts.success("Organisation saved"),
                        Err(e) => toasts.error(e.error),
                    }
                });
            };
            view! {
                <form class=CARD on:submit=save>
                    <h2 class="text-lg font-semibold">"Organisation"</h2>
                    <div class="mt-4 grid gap-4 sm:grid-cols-2">
                        <TextField label="Name" name="org_name" value=name required=true/>
                        <TextField label="Time zone" name="org_time_zone" value=tz placeholder="America/New_York" required=true/>
                    </div>
                    <label class="mt-4 block text-sm">
                        <span class="font-medium text-slate-700">"Postal address (shown in email footers)"</span>
                        <textarea name="postal_address" rows="3" class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2"
                            prop:value=move || address.get() on:input=move |ev| address.set(event_target_value(&ev))></textarea>
                    </label>
                    <label class="mt-4 block text-sm">
                        <span class="font-medium text-slate-700">"RSVP phrases, one a line (a reply with one of them, as whole words in any case, marks the contact Received RSVP)"</span>
                        <textarea name="rsvp_phrases" rows="4" class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2"
                            prop:value=move || phrases.get() on:input=move |ev| phrases.set(event_target_value(&ev))></textarea>
                    </label>
                    <div class="mt-6"><button type="submit" class=BUTTON>"Save organisation"</button></div>
                </form>
            }
        }}/>
    }
}
