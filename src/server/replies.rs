//! Texts from contacts, as Twilio (or the sandbox) or Bonzo posts them: stored once, in the
//! contact's conversation (an unknown number's lands in one of its own, the inbox's Unassigned
//! view), then acted on: opt-outs and opt-ins, HELP, RSVPs, and replies that flag the contact
//! for a person and pause their run. Every change is in the audit log with what caused it.
use crate::domain::campaign::{Channel, EnrollmentStatus};
use crate::domain::reply::{self, Intent};
use crate::domain::{AppError, E164Phone};
use crate::server::conversations::{self, Received};
use crate::server::engine::compliance;
use crate::server::outbound::{self, Delivery, OneOff};
use crate::server::state::AppState;
use crate::server::webhooks::twilio::TwilioParams;
use crate::domain::inbox::{Event, EventKind};
use crate::server::{audit, campaigns, contacts, media, org, realtime};
use serde_json::json;
use uuid::Uuid;

/// An inbound text, from a verified webhook.
pub struct Inbound<'a> {
    pub message_sid: &'a str,
    /// The Twilio account it came through (its media are fetched with it); empty for Bonzo.
    pub account_sid: &'a str,
    /// `messages.provider` (`twilio`, `sandbox`, `bonzo`): answers go back through it.
    pub provider: &'static str,
    /// Whether the webhook's answer can carry the HELP text (Twilio's TwiML); else it is
    /// queued and sent like the opt-out confirmation.
    pub answers_inline: bool,
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    /// Twilio's Advanced Opt-Out verdict: STOP, START or HELP.
    pub opt_out_type: Option<&'a str>,
    /// Pictures and other files (MMS), fetched once the text is stored.
    pub media: Vec<media::MediaRef<'a>>,
}

impl<'a> Inbound<'a> {
    pub fn from_params(p: &'a TwilioParams) -> Result<Self, AppError> {
        let account_sid = p.require("AccountSid")?;
        Ok(Self {
            message_sid: p.require("MessageSid")?,
            account_sid,
            provider: outbound::provider_of(account_sid),
            answers_inline: true,
            from: p.require("From")?,
            to: p.require("To")?,
            body: p.get("Body").unwrap_or_default(),
            opt_out_type: p.get("OptOutType"),
            media: media::refs(|name| p.get(name))?,
        })
    }
}

/// What is left to do once the text is committed.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// The webhook's TwiML answer, which Twilio sends to the contact (HELP).
    pub answer: Option<String>,
    /// A queued text to send now (the opt-out confirmation, a HELP answer not given inline).
    pub send: Option<Uuid>,
    /// The new message whose media to fetch now.
    pub fetch_media: Option<Uuid>,
}

/// Phone suppressions that record the contact's own texted opt-out (Twilio's 21610 too),
/// which their START undoes; anyone else's entry stays.
const TEXTED_OPT_OUTS: &[&str] = &["sms_keyword", "twilio_opt_out", "twilio"];

/// What a contact's reply (a text or an email) does to the enrollment it answers: the
/// status climbs to Received RSVP (an RSVP phrase) or Needs BDR, the run pauses when the
/// campaign says so, and runs waiting at a "replied" branch go on at once.
pub async fn answered_by_reply(
    tx: &mut sqlx::PgConnection,
    answered: Option<&campaigns::Answered>,
    contact_id: Uuid,
    rsvp: bool,
    source: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    let to = if rsvp { EnrollmentStatus::ReceivedRsvp } else { EnrollmentStatus::NeedsBdr };
    if let Some(a) = answered {
        if campaigns::raise_status(&mut *tx, a.enrollment_id, to).await? {
            let (before, after) = (json!({ "status": a.status }), json!({ "status": to, "by": source }));
            audit::record(&mut *tx, None, "enrollment.status_changed", "enrollment", Some(a.enrollment_id), Some(before), Some(after)).await?;
        }
        if a.pause_on_reply && campaigns::pause_for_reply(&mut *tx, a.enrollment_id, now).await? {
            let after = json!({ "engine_state": "paused", "by": source });
            audit::record(&mut *tx, None, "enrollment.paused_on_reply", "enrollment", Some(a.enrollment_id), None, Some(after)).await?;
        }
    }
    // The paused run no longer runs; others waiting at a "replied" branch go on.
    campaigns::wake_replied(&mut *tx, contact_id, now).await?;
    Ok(())
}

/// Stores the text and applies what it asks for, in one transaction.
pub async fn receive(state: &AppState, sms: &Inbound<'_>) -> Result<Outcome, AppError> {
    let now = state.clock.now();
    let region = &state.settings.default_region;
    let phone = E164Phone::parse(sms.from, region).ok();
    // A sender that is no phone number (a short code, a name) is kept as written.
    let address = phone.as_ref().map_or(sms.from.trim(), E164Phone::as_str);
    let rsvp_phrases = org::get(&state.pool).await?.rsvp_phrases.unwrap_or_default();

    let mut tx = state.pool.begin().await?;
    // Texts from one number are handled one at a time: the first STOP is the only one confirmed.
    sqlx::query!("SELECT pg_advisory_xact_lock(7301, hashtext($1))", address).execute(&mut *tx).await?;
    let contact = match &phone {
        Some(p) => contacts::find_by_phone(&mut tx, p, region).await?,
        None => None,
    };
    let contact_id = contact.as_ref().map(|c| c.0);
    let answered = match contact_id {
        Some(id) => {
            campaigns::lock_contact(&mut tx, id).await?;
            campaigns::answered(&mut tx, id, Channel::Sms, sms.to).await?
        }
        None => None,
    };
    let conversation_id = conversations::open(&mut tx, contact_id, Channel::Sms, address).await?;
    let received = Received {
        conversation_id,
        body: sms.body,
        provider: sms.provider,
        provider_message_id: sms.message_sid,
        campaign_id: answered.as_ref().map(|a| a.campaign_id),
        from: address,
        to: sms.to,
        at: now,
        email: None,
    };
    let Some(message_id) = conversations::receive(&mut tx, &received).await? else {
        tracing::info!(sid = sms.message_sid, "text delivered again; it is stored already");
        return Ok(Outcome::default());
    };
    media::record(&mut tx, message_id, sms.account_sid, &sms.media).await?;

    // The number as texted, and as stored when the contact was found by its last digits.
    let mut numbers = vec![address.to_string()];
    numbers.extend(contact.as_ref().map(|c| c.1.clone()).filter(|stored| stored != address));
    let wanted: Vec<(Channel, String)> = numbers.iter().map(|n| (Channel::Sms, n.clone())).collect();
    let opted_out = !compliance::suppressed(&mut tx, &wanted).await?.is_empty();
    let verdict = reply::classify(sms.body, sms.opt_out_type, opted_out, &rsvp_phrases);
    let source = json!({ "source": "sms", "rule": verdict.rule, "from": address, "to": sms.to, "message_sid": sms.message_sid });
    // Answers go back from the number the contact wrote to.
    let answer = OneOff {
        key: String::new(),
        conversation_id,
        campaign_id: received.campaign_id,
        to: address,
        from: sms.to,
        body: "",
        subject: None,
        provider: sms.provider,
        sent_by: None,
    };
    let settings = &state.settings;
    let mut out = Outcome { fetch_media: Some(message_id).filter(|_| !sms.media.is_empty()), ..Outcome::default() };
    match &verdict.intent {
        Intent::OptOut => {
            let kind = if verdict.by_twilio { "twilio_opt_out" } else { "sms_keyword" };
            for n in &numbers {
                compliance::suppress(&mut tx, Channel::Sms, n, &format!("texted {}", verdict.rule), kind).await?;
            }
            let changed = match contact_id {
                Some(id) => campaigns::opt_out_contacts(&mut tx, &[id], now).await?,
                None => Vec::new(),
            };
            let before: Vec<_> = changed.iter().map(|(e, s)| json!({ "enrollment": e, "status": s })).collect();
            audit::record(&mut *tx, None, "contact.opted_out", "contact", contact_id, Some(json!(before)), Some(source)).await?;
            // One confirmation, for the text that opted the number out; Twilio's own opt-out
            // handling has confirmed already.
            let confirmation = settings.sms_opt_out_confirmation.trim();
            if !opted_out && !verdict.by_twilio && !confirmation.is_empty() {
                let text = OneOff { key: format!("{message_id}:confirmation"), body: confirmation, ..answer };
                out.send = outbound::record(&mut tx, &text, Delivery::Queued, now).await?;
            }
        }
        Intent::OptIn => {
            let lifted = compliance::lift(&mut tx, Channel::Sms, &numbers, TEXTED_OPT_OUTS).await?;
            let changed = match contact_id {
                Some(id) => campaigns::opt_back_in(&mut tx, id, now).await?,
                None => Vec::new(),
            };
            let after = json!({ "suppressions_lifted": lifted, "enrollments": changed, "by": source });
            audit::record(&mut *tx, None, "contact.opted_in", "contact", contact_id, None, Some(after)).await?;
        }
        Intent::Help => {
            let help = settings.sms_help_text.trim();
            if !verdict.by_twilio && !help.is_empty() {
                let text = OneOff { key: format!("{message_id}:help"), body: help, ..answer };
                if sms.answers_inline {
                    outbound::record(&mut tx, &text, Delivery::Answered, now).await?;
                    out.answer = Some(help.to_string());
                } else {
                    out.send = outbound::record(&mut tx, &text, Delivery::Queued, now).await?;
                }
            }
        }
        Intent::Ignore => {}
        Intent::Rsvp(_) | Intent::Reply => {
            let rsvp = matches!(verdict.intent, Intent::Rsvp(_));
            if let Some(id) = contact_id {
                answered_by_reply(&mut tx, answered.as_ref(), id, rsvp, &source, now).await?;
            }
        }
    }
    tx.commit().await?;
    // Open inboxes and campaign pages show the text, and what it changed, at once; announced
    // after the commit rather than in it, as notifying commits queue behind each other.
    let event = Event { contact_id, ..Event::conversation(EventKind::MessageIn, conversation_id, received.campaign_id) };
    realtime::announce(&state.pool, &[event]).await;
    Ok(out)
}
