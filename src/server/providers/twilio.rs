//! SMS through Twilio's Programmable Messaging REST API (version 2010-04-01).
//!
//! Wire formats: the Message resource, <https://www.twilio.com/docs/messaging/api/message-resource>
//! (create with a form POST, list with `To`/`From`/`DateSent` filters and `next_page_uri` paging);
//! errors and paging, <https://www.twilio.com/docs/usage/twilios-response> (an error is JSON
//! `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`).
use super::{request_error, retry_after, root_cause};
use super::{Accepted, Outgoing, Provider, Reconciled, SendError};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use reqwest::StatusCode;
use serde::Deserialize;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// "Attempt to send to unsubscribed recipient": the number texted STOP to this sender.
const UNSUBSCRIBED: u32 = 21610;
/// "Authenticate": wrong account SID or auth token.
const BAD_CREDENTIALS: u32 = 20003;
/// Twilio's largest `PageSize` is 1000; 100 keeps each lookup answer small.
const PAGE_SIZE: &str = "100";
/// Reconciliation gives up (and says `Unknown`) past this many pages for one recipient.
const MAX_PAGES: usize = 20;
/// How far Twilio's clock may lag ours when matching a message to its row.
const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);
/// How long after the row was written a message may plausibly leave Twilio's queue, for the
/// `DateSent` days to ask about.
const QUEUE_TIME: TimeDelta = TimeDelta::minutes(10);

pub struct TwilioClient {
    /// Timeouts are the caller's: a timed-out send is reported as `Ambiguous`.
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: String,
    /// Where Twilio posts status changes (`StatusCallback`).
    status_callback: Option<String>,
}

impl TwilioClient {
    /// `base_url` is [`DEFAULT_BASE_URL`] in production and a fake's address in tests.
    pub fn new(
        http: reqwest::Client,
        base_url: impl Into<String>,
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
        status_callback: Option<String>,
    ) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_string();
        Self { http, base_url, account_sid: account_sid.into(), auth_token: auth_token.into(), status_callback }
    }

    fn messages_url(&self) -> String {
        format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base_url, self.account_sid)
    }

    /// The message Twilio holds for `m`, if any. Twilio takes no idempotency key, so it is
    /// found by sender, recipient, body and time.
    async fn find(&self, m: &Outgoing) -> Result<Option<Accepted>, String> {
        let earliest = m.created_at - CLOCK_SKEW;
        for day in sent_days(m.created_at) {
            let day = day.format("%Y-%m-%d").to_string();
            let query = [("To", m.to.as_str()), ("From", m.from.as_str()), ("DateSent", day.as_str()), ("PageSize", PAGE_SIZE)];
            if let Some(found) = self.search(&query, m, earliest).await? {
                return Ok(Some(found));
            }
        }
        // Twilio sets `date_sent` only when a message leaves its queue, and a busy sender's
        // queue can hold messages for hours: those escape the `DateSent` filter.
        let query = [("To", m.to.as_str()), ("From", m.from.as_str()), ("PageSize", PAGE_SIZE)];
        self.search(&query, m, earliest).await
    }

    /// Pages through one listing until a message matches.
    async fn search(&self, query: &[(&str, &str)], m: &Outgoing, earliest: DateTime<Utc>) -> Result<Option<Accepted>, String> {
        let mut request = self.http.get(self.messages_url()).query(query);
        for _ in 0..MAX_PAGES {
            let page = self.page(request).await?;
            if let Some(hit) = page.messages.into_iter().find(|listed| listed.is_for(m, earliest)) {
                return Ok(Some(Accepted { provider_id: hit.sid, status: hit.status }));
            }
            match page.next_page_uri.filter(|uri| !uri.is_empty()) {
                // Documented as relative to the API's base, e.g. `/2010-04-01/Accounts/...`.
                Some(next) if next.starts_with('/') => request = self.http.get(format!("{}{next}", self.base_url)),
                Some(next) => request = self.http.get(next),
                None => return Ok(None),
            }
        }
        Err(format!("Twilio lists too many messages from {} to {} to check them all", m.from, m.to))
    }

    async fn page(&self, request: reqwest::RequestBuilder) -> Result<Page, String> {
        let res = request
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .send()
            .await
            .map_err(|e| format!("Twilio could not be asked about the message: {}", root_cause(&e)))?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| format!("Twilio's message list could not be read: {}", root_cause(&e)))?;
        if !status.is_success() {
            return Err(format!("Twilio refused the message lookup: {}", describe(status, &body)));
        }
        serde_json::from_slice(&body).map_err(|e| format!("Twilio's message list was not understood: {e}"))
    }
}

impl Provider for TwilioClient {
    fn name(&self) -> &'static str {
        "twilio"
    }

    async fn send(&self, m: &Outgoing) -> Result<Accepted, SendError> {
        let callback = self.status_callback.as_deref().map(|url| super::status_callback_url(url, m.id));
        let mut form = vec![("To", m.to.as_str()), ("From", m.from.as_str()), ("Body", m.body.as_str())];
        if let Some(url) = &callback {
            form.push(("StatusCallback", url.as_str()));
        }
        let res = self
            .http
            .post(self.messages_url())
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| request_error("Twilio", &e))?;
        let status = res.status();
        let retry_after = retry_after(res.headers());
        let body = match res.bytes().await {
            Ok(body) => body,
            // The status line arrived, so for a success Twilio holds the message.
            Err(e) if status.is_success() => {
                return Err(SendError::Ambiguous {
                    message: format!("Twilio's answer was cut off ({}); the message may have been sent", root_cause(&e)),
                });
            }
            Err(_) => Default::default(),
        };
        if status.is_success() {
            let created: Created = serde_json::from_slice(&body).map_err(|e| SendError::Ambiguous {
                message: format!("Twilio's answer was not understood ({e}); the message may have been sent"),
            })?;
            return Ok(Accepted { provider_id: created.sid, status: created.status });
        }
        Err(classify(status, retry_after, &body))
    }

    async fn reconcile(&self, m: &Outgoing) -> Reconciled {
        match self.find(m).await {
            Ok(Some(accepted)) => Reconciled::Sent(accepted),
            Ok(None) => Reconciled::NotSent,
            Err(reason) => Reconciled::Unknown(reason),
        }
    }
}

/// The 201 answer to a create: a Message resource, of which only these fields matter here.
#[derive(Deserialize)]
struct Created {
    sid: String,
    status: Option<String>,
}

/// One page of a Messages list.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    messages: Vec<Listed>,
    next_page_uri: Option<String>,
}

#[derive(Deserialize)]
struct Listed {
    sid: String,
    body: Option<String>,
    status: Option<String>,
    date_created: Option<String>,
    date_sent: Option<String>,
}

impl Listed {
    /// Same body, and not older than the row (an earlier step may have sent the same text).
    fn is_for(&self, m: &Outgoing, earliest: DateTime<Utc>) -> bool {
        if self.body.as_deref() != Some(m.body.as_str()) {
            return false;
        }
        let when = [&self.date_created, &self.date_sent].into_iter().flatten().find_map(|d| parse_date(d));
        when.is_none_or(|t| t >= earliest)
    }
}

/// Twilio's dates are RFC 2822, e.g. `Thu, 30 Jul 2015 20:12:31 +0000`.
fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s).ok().map(|d| d.with_timezone(&Utc))
}

/// The UTC days on which Twilio may have sent a message whose row was written at `created_at`:
/// that day, the next one just before midnight, the previous one just after.
fn sent_days(created_at: DateTime<Utc>) -> Vec<NaiveDate> {
    let mut days = vec![created_at.date_naive()];
    for edge in [created_at + QUEUE_TIME, created_at - CLOCK_SKEW] {
        if !days.contains(&edge.date_naive()) {
            days.push(edge.date_naive());
        }
    }
    days
}

/// Twilio's REST error body.
#[derive(Deserialize, Default)]
struct ErrorBody {
    code: Option<u32>,
    message: Option<String>,
}

fn error_body(body: &[u8]) -> ErrorBody {
    serde_json::from_slice(body).unwrap_or_default()
}

/// "Twilio 21211: The 'To' number +1555 is not a valid phone number."
fn describe(status: StatusCode, body: &[u8]) -> String {
    let e = error_body(body);
    match (e.code, e.message.filter(|m| !m.trim().is_empty())) {
        (Some(code), Some(text)) => format!("Twilio {code}: {text}"),
        (Some(code), None) => format!("Twilio error {code} (HTTP {})", status.as_u16()),
        (None, Some(text)) => format!("Twilio (HTTP {}): {text}", status.as_u16()),
        (None, None) => format!("Twilio answered HTTP {}", status.as_u16()),
    }
}

/// What an error answer means for the message.
fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> SendError {
    let code = error_body(body).code;
    let message = describe(status, body);
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return SendError::Transient { message, retry_after };
    }
    if status == StatusCode::UNAUTHORIZED || code == Some(BAD_CREDENTIALS) {
        return SendError::Permanent {
            message: "Twilio rejected the credentials: check the account SID and auth token".into(),
            code: Some(code.unwrap_or(BAD_CREDENTIALS).to_string()),
            suppress: false,
        };
    }
    if status.is_client_error() {
        return SendError::Permanent { message, code: code.map(|c| c.to_string()), suppress: code == Some(UNSUBSCRIBED) };
    }
    // Anything else (a stray 1xx or 3xx) says nothing about whether Twilio kept the message.
    SendError::Ambiguous { message: format!("{message}; the message may have been sent") }
}


#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, RETRY_AFTER};
    use chrono::TimeZone;

    fn permanent(e: SendError) -> (String, Option<String>, bool) {
        match e {
            SendError::Permanent { message, code, suppress } => (message, code, suppress),
            other => panic!("expected Permanent, got {other:?}"),
        }
    }

    #[test]
    fn an_invalid_number_is_permanent_with_twilios_code_and_words() {
        let body = br#"{"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let (message, code, suppress) = permanent(classify(StatusCode::BAD_REQUEST, None, body));
        assert_eq!(message, "Twilio 21211: The 'To' number +1555 is not a valid phone number.");
        assert_eq!(code.as_deref(), Some("21211"));
        assert!(!suppress);
    }

    #[test]
    fn an_unsubscribed_recipient_is_suppressed() {
        let body = br#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}"#;
        let (message, code, suppress) = permanent(classify(StatusCode::BAD_REQUEST, None, body));
        assert_eq!(message, "Twilio 21610: Attempt to send to unsubscribed recipient");
        assert_eq!(code.as_deref(), Some("21610"));
        assert!(suppress);
    }

    #[test]
    fn bad_credentials_are_permanent_whatever_the_body() {
        let body = br#"{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}"#;
        let (message, code, _) = permanent(classify(StatusCode::UNAUTHORIZED, None, body));
        assert_eq!(message, "Twilio rejected the credentials: check the account SID and auth token");
        assert_eq!(code.as_deref(), Some("20003"));
        let (_, code, _) = permanent(classify(StatusCode::UNAUTHORIZED, None, b"<html>nope</html>"));
        assert_eq!(code.as_deref(), Some("20003"));
        let (message, _, _) = permanent(classify(StatusCode::FORBIDDEN, None, br#"{"code": 20003, "message": "Authenticate"}"#));
        assert!(message.contains("credentials"));
    }

    #[test]
    fn rate_limits_and_server_errors_are_transient() {
        let body = br#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#;
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(1)), body),
            SendError::Transient { message: "Twilio 20429: Too Many Requests".into(), retry_after: Some(Duration::from_secs(1)) }
        );
        assert_eq!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, None, b"oops"),
            SendError::Transient { message: "Twilio answered HTTP 500".into(), retry_after: None }
        );
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, Some(Duration::from_secs(30)), b""),
            SendError::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(30)
        ));
    }

    #[test]
    fn a_client_error_without_json_keeps_the_status() {
        let (message, code, suppress) = permanent(classify(StatusCode::NOT_FOUND, None, b"Not Found"));
        assert_eq!(message, "Twilio answered HTTP 404");
        assert_eq!(code, None);
        assert!(!suppress);
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, " 7 ".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn the_day_after_is_asked_about_near_midnight() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        assert_eq!(sent_days(Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()), vec![day(4)]);
        assert_eq!(sent_days(Utc.with_ymd_and_hms(2026, 3, 4, 23, 55, 0).unwrap()), vec![day(4), day(5)]);
        assert_eq!(sent_days(Utc.with_ymd_and_hms(2026, 3, 5, 0, 2, 0).unwrap()), vec![day(5), day(4)]);
    }

    #[test]
    fn a_listed_message_matches_by_body_and_time() {
        let created_at = Utc.with_ymd_and_hms(2015, 7, 30, 20, 10, 0).unwrap();
        let m = Outgoing {
            voice: None,
            id: uuid::Uuid::nil(),
            to: "+15558675310".into(),
            from: "+15017122661".into(),
            body: "See you Thursday".into(),
            subject: None,
            html: None,
            headers: vec![],
            created_at,
        };
        let listed = |body: &str, created: Option<&str>| Listed {
            sid: "SM1".into(),
            body: Some(body.into()),
            status: Some("sent".into()),
            date_created: created.map(Into::into),
            date_sent: None,
        };
        let earliest = created_at - CLOCK_SKEW;
        assert!(listed("See you Thursday", Some("Thu, 30 Jul 2015 20:12:31 +0000")).is_for(&m, earliest));
        assert!(listed("See you Thursday", Some("Thu, 30 Jul 2015 20:06:00 +0000")).is_for(&m, earliest), "clock skew");
        assert!(!listed("See you Thursday", Some("Thu, 30 Jul 2015 19:00:00 +0000")).is_for(&m, earliest), "an older step");
        assert!(listed("See you Thursday", None).is_for(&m, earliest), "no date to go by");
        assert!(listed("See you Thursday", Some("not a date")).is_for(&m, earliest));
        assert!(!listed("See you Friday", Some("Thu, 30 Jul 2015 20:12:31 +0000")).is_for(&m, earliest));
    }
}
