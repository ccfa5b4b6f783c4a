//! Every Twilio webhook goes through `verified`: the signature is checked as Twilio
//! documents it, with the auth token of the account the request names (`AccountSid`),
//! over the public URL (`PUBLIC_BASE_URL` + path + query) and the sorted POST parameters.
use crate::domain::AppError;
use crate::server::providers;
use crate::server::state::AppState;
use crate::server::webhooks::twilio_signature;
use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};

/// A verified webhook's parameters.
pub struct TwilioParams(pub Vec<(String, String)>);

impl TwilioParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, AppError> {
        self.get(name).ok_or_else(|| AppError::bad_request(format!("missing parameter {name}")))
    }
}

pub async fn verified(state: &AppState, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Result<TwilioParams, AppError> {
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path());
    let url = format!("{}{path}", state.settings.public_origin());
    let refuse = |why: &str| {
        tracing::warn!(%path, why, "Twilio webhook refused");
        AppError { status: 403, error: "Invalid Twilio signature".into() }
    };
    let signature = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).ok_or_else(|| refuse("no X-Twilio-Signature"))?;
    let account = params.iter().find(|(k, _)| k == "AccountSid").map(|(_, v)| v.as_str()).ok_or_else(|| refuse("no AccountSid"))?;
    let token = providers::twilio_token(&state.pool, &state.keys, account).await?.ok_or_else(|| refuse("unknown AccountSid"))?;
    if !twilio_signature::verify(&token, &url, &params, signature) {
        return Err(refuse("signature mismatch"));
    }
    Ok(TwilioParams(params))
}
