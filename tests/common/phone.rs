//! Someone texting the app as Twilio posts an incoming SMS: signed, form-encoded, to
//! the inbound webhook.
use super::TestApp;
use super::twilio::FakeTwilio;
use turnout::server::providers::SANDBOX_ACCOUNT_SID;
use turnout::server::webhooks::twilio_signature::signature;
use uuid::Uuid;

pub const PATH: &str = "/api/twilio/inbound-sms";

/// Someone texting the app, signing as the Twilio account given.
pub struct Phone<'a> {
    pub app: &'a TestApp,
    pub account: String,
    pub token: String,
}

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl<'a> Phone<'a> {
    pub fn sandbox(app: &'a TestApp) -> Self {
        Phone { app, account: SANDBOX_ACCOUNT_SID.into(), token: app.state.keys.sandbox_token().into() }
    }

    pub fn twilio(app: &'a TestApp, fake: &FakeTwilio) -> Self {
        Phone { app, account: fake.account_sid.clone(), token: fake.auth_token.clone() }
    }

    /// The parameters Twilio posts for an incoming SMS, with a new `MessageSid`.
    pub fn params(&self, from: &str, to: &str, body: &str) -> Vec<(String, String)> {
        let sid = format!("SM{}", Uuid::new_v4().simple());
        [
            ("ToCountry", "US"), ("ToState", "DC"), ("SmsMessageSid", sid.as_str()), ("NumMedia", "0"), ("ToCity", "WASHINGTON"),
            ("FromState", "DC"), ("SmsSid", sid.as_str()), ("SmsStatus", "received"), ("Body", body), ("FromCountry", "US"),
            ("To", to), ("NumSegments", "1"), ("MessageSid", sid.as_str()), ("AccountSid", self.account.as_str()), ("From", from),
            ("ApiVersion", "2010-04-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Posts the parameters form-encoded, with the signature header given.
    pub async fn post(&self, params: &[(String, String)], signature: Option<String>) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        let mut req = reqwest::Client::new()
            .post(self.app.url(PATH))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(s) = signature {
            req = req.header("X-Twilio-Signature", s);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        Answer { status, content_type, body: res.text().await.expect("body") }
    }

    /// Posts the parameters signed as Twilio signs them for the webhook's URL.
    pub async fn send(&self, params: &[(String, String)]) -> Answer {
        let sig = signature(&self.token, &self.app.url(PATH), params);
        self.post(params, Some(sig)).await
    }

    pub async fn text(&self, from: &str, to: &str, body: &str) -> Answer {
        let a = self.send(&self.params(from, to, body)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a
    }
}
