//! Settings: one's profile and sending identities, the Twilio account texts go out through,
//! the voicemail accounts, password, and (admins) the organisation.
use crate::api::account::{change_password, get_profile, get_twilio_account, set_twilio_account, update_profile};
use crate::api::admin::{get_org, update_org};
use crate::api::google::{disconnect_google, get_google_account, sync_google_now};
use crate::api::bonzo::{get_bonzo, set_bonzo_account, set_sms_provider};
use crate::api::voicemail::{get_voicemail_accounts, set_elevenlabs_key, set_slybroadcast_account};
use crate::domain::AppError;
use crate::domain::bonzo::{BonzoAccountInput, BonzoView, SmsProvider};
use crate::domain::google::GoogleAccountView;
use crate::domain::org::OrgSettings;
use crate::domain::user::{Profile, ProfileUpdate, SmtpTls, TwilioAccountInput, TwilioAccountView};
use crate::domain::voicemail::{SlybroadcastAccountInput, VoicemailAccountsView};
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
            <BonzoCard/>
            <GoogleCard/>
            <VoicemailCard/>
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
    let send = move |account_sid, auth_token| async move {
        set_twilio_account(TwilioAccountInput { account_sid, auth_token }, org).await.map(|v| current.set(v))
    };
    // Only the own account is known to be set; an admin may always clear the organisation's.
    let removable = Signal::derive(move || org || current.with(|a| a.own));
    let (title, testid) = if org { ("The organisation's account (for everyone without their own)", "twilio-org") } else { ("Your own account", "twilio-own") };
    let login = Login { label: "Account SID", name: "account_sid", kind: "text", placeholder: "AC…" };
    view! {
        <CredentialForm org title testid what="Twilio account" noun="account" login secret=("Auth token", "auth_token") removable send/>
    }
}

/// Whether texts go out through Twilio or Bonzo (the user's choice, else the organisation's),
/// the Bonzo tokens (own, and for admins the organisation's), and for admins the
/// organisation's default and the URL to paste into Bonzo's event hooks.
#[component]
fn BonzoCard() -> impl IntoView {
    let bonzo = Resource::new(|| (), |_| get_bonzo());
    let is_admin = use_is_admin();
    view! {
        <section class=CARD aria-labelledby="bonzo-heading" data-testid="bonzo-card">
            <h2 id="bonzo-heading" class="text-lg font-semibold">"Bonzo (SMS)"</h2>
            <Loaded resource=bonzo render=move |v: BonzoView| {
                let current = RwSignal::new(v);
                view! {
                    <p class="mt-1 text-sm" data-testid="bonzo-status">
                        {move || current.with(|b| {
                            let why = if b.choice.is_some() { "your choice" } else { "the organisation's choice" };
                            let account = match (&b.account, b.own) {
                                (Some(a), true) => format!("Your Bonzo token ({a}) is set."),
                                (Some(a), false) => format!("The organisation's Bonzo token ({a}) applies."),
                                (None, _) => "No Bonzo token applies: texts cannot go out through Bonzo until one is set.".into(),
                            };
                            format!("Your texts go out through {} ({why}). {account}", b.effective.label())
                        })}
                    </p>
                    <ProviderChoice org=false current/>
                    <BonzoForm org=false current/>
                    {move || is_admin.get().then(|| view! {
                        <ProviderChoice org=true current/>
                        <BonzoForm org=true current/>
                        <label class="mt-4 block border-t border-slate-100 pt-4 text-sm">
                            <span class="font-medium text-slate-700">"Event hook URL (paste it into Bonzo's event hooks; it holds a secret)"</span>
                            <input type="text" readonly class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 font-mono text-xs"
                                data-testid="bonzo-webhook-url" prop:value=move || current.with(|b| b.webhook_url.clone().unwrap_or_default())/>
                        </label>
                    })}
                }
            }/>
        </section>
    }
}

/// The user's choice of provider (or following the organisation's), or with `org` the
/// organisation's default.
#[component]
fn ProviderChoice(org: bool, current: RwSignal<BonzoView>) -> impl IntoView {
    let toasts = use_toasts();
    let change = move |ev: leptos::ev::Event| {
        let choice = event_target_value(&ev);
        leptos::task::spawn_local(async move {
            match set_sms_provider(choice, org).await {
                Ok(v) => {
                    current.set(v);
                    toasts.success("Saved");
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let selected = move || current.with(|b| if org { b.org_default.as_str() } else { b.choice.map_or("", SmsProvider::as_str) }.to_string());
    let label = if org { "The organisation's texts go out through (for everyone who did not choose)" } else { "My texts go out through" };
    view! {
        <label class="mt-4 block text-sm">
            <span class="font-medium text-slate-700">{label}</span>
            <select name=if org { "org_sms_provider" } else { "sms_provider" } class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2"
                on:change=change prop:value=selected>
                {(!org).then(|| view! { <option value="">"The organisation's choice"</option> })}
                {SmsProvider::ALL.iter().map(|p| view! { <option value=p.as_str()>{p.label()}</option> }).collect_view()}
            </select>
        </label>
    }
}

/// Sets or removes one Bonzo API token: the user's own, or with `org` the organisation's.
#[component]
fn BonzoForm(org: bool, current: RwSignal<BonzoView>) -> impl IntoView {
    let send = move |label, api_token| async move { set_bonzo_account(BonzoAccountInput { label, api_token }, org).await.map(|v| current.set(v)) };
    let removable = Signal::derive(move || org || current.with(|b| b.own));
    let (title, testid) = if org { ("The organisation's Bonzo token (for everyone without their own)", "bonzo-org") } else { ("Your own Bonzo token", "bonzo-own") };
    let login = Login { label: "Bonzo user or business", name: "bonzo_label", kind: "text", placeholder: "e.g. your Bonzo login" };
    view! {
        <CredentialForm org title testid what="Bonzo token" noun="token" login secret=("API token", "bonzo_token") removable send/>
    }
}

/// Who speaks voicemail scripts (ElevenLabs with the organisation's key, else the local
/// voices) and which Slybroadcast account drops them (the user's own, else the
/// organisation's, else the sandbox), with forms as for Twilio. Secrets are write-only.
#[component]
fn VoicemailCard() -> impl IntoView {
    let accounts = Resource::new(|| (), |_| get_voicemail_accounts());
    let is_admin = use_is_admin();
    view! {
        <section class=CARD aria-labelledby="voicemail-heading" data-testid="voicemail-card">
            <h2 id="voicemail-heading" class="text-lg font-semibold">"Voicemail"</h2>
            <Loaded resource=accounts render=move |v: VoicemailAccountsView| {
                let current = RwSignal::new(v);
                view! {
                    <p class="mt-1 text-sm" data-testid="voicemail-speech">
                        {move || if current.with(|a| a.elevenlabs) {
                            "Speech: ElevenLabs."
                        } else {
                            "Speech: local voices (espeak-ng); no ElevenLabs key is set."
                        }}
                    </p>
                    <p class="mt-1 text-sm" data-testid="voicemail-drops">
                        {move || current.with(|a| match (&a.slybroadcast_uid, a.slybroadcast_own) {
                            (Some(uid), true) => format!("Drops: Slybroadcast as {uid} (your own account)."),
                            (Some(uid), false) => format!("Drops: Slybroadcast as {uid} (the organisation's account)."),
                            (None, _) => "Drops: sandbox (no Slybroadcast account). Voicemails are simulated until you or an admin add one.".to_string(),
                        })}
                    </p>
                    <SlybroadcastForm org=false current/>
                    {move || is_admin.get().then(|| view! {
                        <SlybroadcastForm org=true current/>
                        <ElevenLabsForm current/>
                    })}
                }
            }/>
        </section>
    }
}

/// Sets or removes one Slybroadcast login: the user's own, or with `org` the organisation's.
#[component]
fn SlybroadcastForm(org: bool, current: RwSignal<VoicemailAccountsView>) -> impl IntoView {
    let send = move |uid, password| async move {
        set_slybroadcast_account(SlybroadcastAccountInput { uid, password }, org).await.map(|v| current.set(v))
    };
    let removable = Signal::derive(move || org || current.with(|a| a.slybroadcast_own));
    let (title, testid) = if org {
        ("The organisation's Slybroadcast account (for everyone without their own)", "slybroadcast-org")
    } else {
        ("Your own Slybroadcast account", "slybroadcast-own")
    };
    let login = Login { label: "Login email", name: "slybroadcast_uid", kind: "email", placeholder: "you@example.com" };
    view! {
        <CredentialForm org title testid what="Slybroadcast account" noun="account" login secret=("Password", "slybroadcast_password") removable send/>
    }
}

/// The organisation's ElevenLabs API key (admins); without one the local voices speak.
#[component]
fn ElevenLabsForm(current: RwSignal<VoicemailAccountsView>) -> impl IntoView {
    let send = move |_: String, api_key| async move { set_elevenlabs_key(api_key).await.map(|v| current.set(v)) };
    let removable = Signal::derive(move || current.with(|a| a.elevenlabs));
    view! {
        <CredentialForm org=true title="The organisation's ElevenLabs key" testid="elevenlabs-org" what="ElevenLabs key" noun="key"
            secret=("API key", "elevenlabs_key") removable send/>
    }
}

/// The login field of a credential.
#[derive(Clone, Copy)]
struct Login {
    label: &'static str,
    name: &'static str,
    kind: &'static str,
    placeholder: &'static str,
}

/// A write-only credential: a login (none for a bare API key) and a secret (label, name).
/// `send` gets both, or two empty strings to remove it; the fields empty after either.
#[component]
fn CredentialForm<F, Fut>(
    org: bool,
    title: &'static str,
    testid: &'static str,
    /// For the notices: "Twilio account".
    what: &'static str,
    /// For the buttons: "account", "key".
    noun: &'static str,
    #[prop(optional)] login: Option<Login>,
    secret: (&'static str, &'static str),
    removable: Signal<bool>,
    send: F,
) -> impl IntoView
where
    F: Fn(String, String) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<(), AppError>> + 'static,
{
    let toasts = use_toasts();
    let user = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let submit = move |(u, k): (String, String)| {
        let done = if k.is_empty() { format!("{what} removed") } else { format!("{what} saved") };
        leptos::task::spawn_local(async move {
            match send(u, k).await {
                Ok(()) => {
                    user.set(String::new());
                    key.set(String::new());
                    toasts.success(done);
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submit((user.get_untracked(), key.get_untracked()));
    };
    let whose = if org { "the organisation's" } else { "my" };
    view! {
        <form class="mt-4 border-t border-slate-100 pt-4" on:submit=save data-testid=testid>
            <h3 class="font-semibold">{title}</h3>
            <div class="mt-2 grid gap-4 sm:grid-cols-2">
                {login.map(|l| view! {
                    <TextField label=l.label name=l.name kind=l.kind value=user placeholder=l.placeholder autocomplete="off" required=true/>
                })}
                <TextField label=secret.0 name=secret.1 kind="password" value=key autocomplete="new-password" required=true/>
            </div>
            <div class="mt-4 flex flex-wrap gap-2">
                <button type="submit" class=BUTTON>{format!("Save {whose} {noun}")}</button>
                {move || removable.get().then(|| view! {
                    <button type="button" class=BUTTON_QUIET on:click=move |_| submit(Default::default())>{format!("Remove {whose} {noun}")}</button>
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

/// The user's own Google account: connect it (a redirect to Google and back), see whether
/// Google still accepts Turnout's access, sync its mail now, disconnect it.
#[component]
fn GoogleCard() -> impl IntoView {
    let toasts = use_toasts();
    let account = Resource::new(|| (), |_| get_google_account());
    // The callback comes back here saying how the connection went.
    let query = leptos_router::hooks::use_query_map();
    let outcome = move || {
        query.with(|q| match q.get("google").as_deref() {
            Some("connected") => Some((false, "Google connected: your campaign email now goes out from it.".to_string())),
            Some("error") => Some((true, format!("Google was not connected: {}", q.get("reason").unwrap_or_default()))),
            _ => None,
        })
    };
    let busy = RwSignal::new(false);
    let sync = move |current: RwSignal<GoogleAccountView>| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            match sync_google_now().await {
                Ok(r) => toasts.success(format!("Synced: {} new, {} replies, {} automatic, {} bounced", r.fetched, r.replies, r.auto_replies, r.bounces)),
                Err(e) => toasts.error(e.error),
            }
            if let Ok(v) = get_google_account().await {
                current.set(v);
            }
            busy.set(false);
        });
    };
    let disconnect = move |current: RwSignal<GoogleAccountView>| {
        leptos::task::spawn_local(async move {
            match disconnect_google().await {
                Ok(v) => {
                    current.set(v);
                    toasts.success("Google disconnected");
                }
                Err(e) => toasts.error(e.error),
            }
        });
    };
    view! {
        <section class=CARD aria-labelledby="google-heading" data-testid="google-card">
            <h2 id="google-heading" class="text-lg font-semibold">"Google"</h2>
            {move || outcome().map(|(bad, text)| view! { <p class="mt-1 text-sm" class=("text-red-700", bad) class=("text-emerald-700", !bad)>{text}</p> })}
            <Loaded resource=account render=move |v: GoogleAccountView| {
                let current = RwSignal::new(v);
                move || {
                    let v = current.get();
                    let status = match (v.configured, v.email.as_deref(), v.state.as_deref()) {
                        (false, _, _) => "Not available: an administrator has not set up Google sign-in.".to_string(),
                        (_, None, _) => "Not connected: your campaign email goes out by SMTP (or the sandbox).".to_string(),
                        (_, Some(e), Some("reconnect")) => format!("Google no longer accepts Turnout's access to {e}: reconnect to send and sync again."),
                        (_, Some(e), _) => match v.last_sync_at {
                            Some(at) => format!("Connected as {e}; mail last synced {}.", at.format("%Y-%m-%d %H:%M UTC")),
                            None => format!("Connected as {e}; not synced yet."),
                        },
                    };
                    let connect_label = if v.state.as_deref() == Some("reconnect") { "Reconnect Google" } else { "Connect Google" };
                    view! {
                        <p class="mt-1 text-sm" data-testid="google-status">{status}</p>
                        {v.last_error.clone().filter(|_| v.state.as_deref() == Some("connected")).map(|e| view! { <p class="mt-1 text-sm text-red-700">{format!("Last sync failed: {e}")}</p> })}
                        <div class="mt-4 flex flex-wrap gap-2">
                            {(v.configured && v.state.as_deref() != Some("connected")).then(|| view! {
                                // A full page load: the server redirects to Google.
                                <a class=BUTTON href="/api/google/connect" rel="external" data-testid="google-connect">{connect_label}</a>
                            })}
                            {(v.state.as_deref() == Some("connected")).then(|| view! {
                                <button type="button" class=BUTTON disabled=busy on:click=move |_| sync(current) data-testid="google-sync">"Sync now"</button>
                            })}
                            {v.email.is_some().then(|| view! {
                                <button type="button" class=BUTTON_QUIET on:click=move |_| disconnect(current) data-testid="google-disconnect">"Disconnect"</button>
                            })}
                        </div>
                    }
                }
            }/>
        </section>
    }
}
