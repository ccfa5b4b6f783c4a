//! Texting through Bonzo: the choice of provider (per user, with an organisation default),
//! the Bonzo tokens, and Bonzo's event hooks. Its texts in take the same path as Twilio's
//! (`replies::receive`), with answers sent back through Bonzo; its delivery reports update
//! the message like Twilio's. The client and every guessed wire detail are in
//! `providers::bonzo`.
use crate::domain::AppError;
use crate::domain::bonzo::{BonzoAccountInput, BonzoView, SmsProvider};
use crate::server::auth::AuthUser;
use crate::server::providers::bonzo::Event;
use crate::server::providers::{self, save_account};
use crate::server::state::AppState;
use crate::server::{audit, conversations, org, outbound, replies, users};

/// What the webhook's secret path segment is signed for.
const WEBHOOK: &str = "bonzo-webhook";

/// The URL to paste into Bonzo's event hooks: its last segment is the shared secret.
pub fn webhook_url(state: &AppState) -> String {
    format!("{}/api/bonzo/webhook/{}", state.settings.public_origin(), state.keys.sign_link(WEBHOOK))
}

/// One event hook post. A wrong secret is 404 (the route does not reveal itself), a body
/// that is not an event 400; both logged. A text is committed before the answer, so a
/// failure before then is a 5xx Bonzo may retry (the same message id is stored once).
pub async fn webhook(state: &AppState, secret: &str, body: &[u8]) -> Result<(), AppError> {
    if state.keys.open_link(secret).as_deref() != Some(WEBHOOK) {
        tracing::warn!("Bonzo event posted to a wrong secret URL");
        return Err(AppError::not_found("API route"));
    }
    let event = Event::parse(body).map_err(|e| {
        tracing::warn!(error = %e, "malformed Bonzo event");
        AppError::bad_request(format!("Malformed event: {e}"))
    })?;
    match event {
        Event::Received { id, from, to, body } => {
            let sms = replies::Inbound {
                message_sid: &id,
                account_sid: "",
                provider: "bonzo",
                answers_inline: false,
                from: &from,
                to: &to,
                body: &body,
                opt_out_type: None,
                media: Vec::new(),
            };
            let outcome = replies::receive(state, &sms).await.map_err(|e| {
                tracing::error!(id, error = %e.error, "Bonzo text not stored");
                if e.status >= 500 { e } else { AppError::internal() }
            })?;
            if let Some(answer) = outcome.send {
                tokio::spawn(outbound::send_bonzo(state.clone(), answer));
            }
        }
        Event::Status { id, status, error } => {
            let at = state.clock.now();
            if !conversations::record_delivery(&state.pool, None, &["bonzo"], &id, status, None, error.as_deref(), at).await? {
                tracing::info!(id, status, "Bonzo report for a text Turnout did not send");
            }
        }
        Event::Other(name) => tracing::debug!(event = name, "Bonzo event not acted on"),
    }
    Ok(())
}

pub async fn view(state: &AppState, user: &AuthUser) -> Result<BonzoView, AppError> {
    let account = providers::account_that_applies(&state.pool, "bonzo", Some(user.id)).await?;
    let choice = users::sms_provider(&state.pool, user.id).await?;
    let org_default = org::sms_provider(&state.pool).await?;
    Ok(BonzoView {
        own: account.as_ref().is_some_and(|a| a.1),
        account: account.map(|a| a.0),
        choice,
        org_default,
        effective: choice.unwrap_or(org_default),
        webhook_url: user.is_admin().then(|| webhook_url(state)),
    })
}

/// Sets or removes a Bonzo token: the user's own, or with `org` the organisation's (admins).
pub async fn set_account(state: &AppState, actor: &AuthUser, org: bool, input: &BonzoAccountInput) -> Result<BonzoView, AppError> {
    if org {
        actor.require_admin()?;
    }
    let token = input.api_token.trim();
    let label = match input.label.trim() {
        "" => "Bonzo",
        label => label,
    };
    let account = (!token.is_empty()).then_some((label, token));
    let owner = (!org).then_some(actor.id);
    let mut tx = state.pool.begin().await?;
    save_account(&mut tx, &state.keys, "bonzo", owner, account).await?;
    let after = serde_json::json!({ "scope": if org { "organisation" } else { "own" }, "label": account.map(|a| a.0) });
    audit::record(&mut *tx, Some(actor.id), "provider.bonzo_saved", "user", owner, None, Some(after)).await?;
    tx.commit().await?;
    view(state, actor).await
}

/// Sets what texts go out through: the user's own choice (empty: the organisation's), or
/// with `org` the organisation's default (admins). Bonzo needs a token that applies first.
pub async fn set_choice(state: &AppState, actor: &AuthUser, org: bool, choice: &str) -> Result<BonzoView, AppError> {
    if org {
        actor.require_admin()?;
    }
    let parsed = match choice.trim() {
        "" => None,
        c => Some(SmsProvider::parse(c).ok_or_else(|| AppError::unprocessable("Texts go out through twilio or bonzo"))?),
    };
    let whose = (!org).then_some(actor.id);
    if parsed == Some(SmsProvider::Bonzo) && providers::account_that_applies(&state.pool, "bonzo", whose).await?.is_none() {
        return Err(AppError::unprocessable("Add a Bonzo API token before choosing Bonzo"));
    }
    let mut tx = state.pool.begin().await?;
    if org {
        let p = parsed.ok_or_else(|| AppError::unprocessable("Choose twilio or bonzo for the organisation"))?;
        org::set_sms_provider(&mut *tx, p).await?;
    } else {
        users::set_sms_provider(&mut *tx, actor.id, parsed).await?;
    }
    let after = serde_json::json!({ "scope": if org { "organisation" } else { "own" }, "sms_provider": parsed });
    audit::record(&mut *tx, Some(actor.id), "provider.sms_provider_chosen", "user", whose, None, Some(after)).await?;
    tx.commit().await?;
    view(state, actor).await
}
