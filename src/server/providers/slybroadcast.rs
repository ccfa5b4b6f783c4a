//! Slybroadcast ringless voicemail drops, from its API documentation
//! (<https://www.slybroadcast.com/documentation.php>): a form POST to `/gateway/vmb.php`
//! with `c_uid` and `c_password` (the account's login), `c_url` and `c_audio` (an audio file
//! it fetches, WAV/MP3/M4a), `c_phone` (destination numbers, comma separated), `c_callerID`,
//! `c_date` ("now", or a time in US Eastern), `c_title` and `c_dispo_url` (where it posts
//! each call's result, which must be answered "OK").
//!
//! Guessed (the stored documentation does not show them; from public integrations):
//! - the answer's wording: `OK` then `session_id=<id>` and `number of phone=<n>` lines on
//!   success, `ERROR` then the reason on failure;
//! - the result post: one form field `var` of `session_id|phone|status|failure_reason|
//!   delivery_time|carrier`, status `OK` or `FAILURE`;
//! - the number format: the documentation's examples are ten digits for US numbers, so
//!   NANP numbers lose their +1 and others are sent as digits with their country code.
use super::{Accepted, SendError, request_error, root_cause};

pub struct Slybroadcast {
    http: reqwest::Client,
    url: String,
    uid: String,
    password: String,
}

/// One drop as Slybroadcast takes it.
pub struct Drop<'a> {
    pub to: &'a str,
    pub caller_id: &'a str,
    pub audio_url: &'a str,
    /// Names the drop in Slybroadcast's own reports: Turnout's message id.
    pub title: &'a str,
    /// Where this drop's result is to be posted.
    pub dispo_url: &'a str,
}

impl Slybroadcast {
    pub fn new(http: reqwest::Client, base: &str, uid: String, password: String) -> Self {
        Self { http, url: format!("{}/gateway/vmb.php", base.trim_end_matches('/')), uid, password }
    }

    pub async fn drop(&self, d: &Drop<'_>) -> Result<Accepted, SendError> {
        let form = [
            ("c_uid", self.uid.as_str()),
            ("c_password", self.password.as_str()),
            ("c_url", d.audio_url),
            ("c_audio", "mp3"),
            ("c_phone", &digits(d.to)),
            ("c_callerID", &digits(d.caller_id)),
            // The engine already waited for the contact's send window.
            ("c_date", "now"),
            ("c_title", d.title),
            ("c_dispo_url", d.dispo_url),
        ];
        let res = self.http.post(&self.url).form(&form).send().await.map_err(|e| request_error("Slybroadcast", &e))?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| SendError::Ambiguous {
            message: format!("Slybroadcast's answer was cut off ({}); the voicemail may have been dropped", root_cause(&e)),
        })?;
        let text = String::from_utf8_lossy(&body);
        // Turned away before the application (rate limit, gateway, maintenance): not taken.
        if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
            return Err(SendError::Transient { message: format!("Slybroadcast answered HTTP {}", status.as_u16()), retry_after: None });
        }
        // The application failed, perhaps after taking the drop: it cannot be asked, so
        // this is never retried blindly.
        if status.is_server_error() {
            return Err(SendError::Ambiguous {
                message: format!("Slybroadcast answered HTTP {}: {}; the voicemail may have been dropped", status.as_u16(), one_line(&text)),
            });
        }
        if !status.is_success() {
            return Err(SendError::Permanent { message: format!("Slybroadcast answered HTTP {}: {}", status.as_u16(), one_line(&text)), code: None, suppress: false });
        }
        answer(&text)
    }
}

/// Reads the gateway's plain-text answer.
fn answer(text: &str) -> Result<Accepted, SendError> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        Some(first) if first.eq_ignore_ascii_case("OK") => {
            let session = lines.find_map(|l| l.strip_prefix("session_id=")).map(str::trim).filter(|s| !s.is_empty());
            match session {
                Some(id) => Ok(Accepted { provider_id: id.to_string(), status: Some("queued".into()) }),
                // Taken, but without the id its results cannot be matched: someone must look.
                None => Err(SendError::Ambiguous { message: format!("Slybroadcast answered OK without a session id: {}", one_line(text)) }),
            }
        }
        Some(first) if first.to_ascii_uppercase().starts_with("ERROR") => {
            let why: Vec<&str> = std::iter::once(first.get(5..).unwrap_or_default().trim_start_matches([':', ' '])).chain(lines).filter(|l| !l.is_empty()).collect();
            Err(SendError::Permanent { message: format!("Slybroadcast: {}", why.join("; ")), code: None, suppress: false })
        }
        _ => Err(SendError::Ambiguous { message: format!("Slybroadcast's answer was not understood: {}", one_line(text)) }),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(300).collect()
}

/// `+16175550100` → `6175550100`; `+442071838750` → `442071838750`.
fn digits(e164: &str) -> String {
    let d: String = e164.chars().filter(char::is_ascii_digit).collect();
    match d.strip_prefix('1') {
        Some(rest) if e164.starts_with("+1") && rest.len() == 10 => rest.to_string(),
        _ => d,
    }
}

/// One call's result as Slybroadcast posts it to `c_dispo_url`.
#[derive(Debug, Clone, PartialEq)]
pub struct Disposition {
    pub session_id: String,
    pub phone: String,
    /// `delivered` or `failed`, as Turnout records delivery.
    pub delivery_status: &'static str,
    pub failure_reason: Option<String>,
}

impl Disposition {
    /// The `var` field: `session_id|phone|status|failure_reason|delivery_time|carrier`.
    pub fn parse(var: &str) -> Result<Self, String> {
        let f: Vec<&str> = var.split('|').map(str::trim).collect();
        if f.len() < 3 || f[0].is_empty() {
            return Err(format!("expected session_id|phone|status|…, got '{}'", one_line(var)));
        }
        let delivery_status = match f[2].to_ascii_uppercase().as_str() {
            "OK" => "delivered",
            "FAILURE" | "FAILED" => "failed",
            other => return Err(format!("unknown call status '{other}'")),
        };
        let failure_reason = f.get(3).filter(|r| !r.is_empty()).map(|r| r.to_string());
        Ok(Self { session_id: f[0].into(), phone: f[1].into(), delivery_status, failure_reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read() {
        assert_eq!(answer("OK\nsession_id=8471234\nnumber of phone=1\n").unwrap().provider_id, "8471234");
        match answer("ERROR\nc_uid: Invalid user or password") {
            Err(SendError::Permanent { message, .. }) => assert_eq!(message, "Slybroadcast: c_uid: Invalid user or password"),
            other => panic!("{other:?}"),
        }
        match answer("ERROR: Bad Audio, can't download") {
            Err(SendError::Permanent { message, .. }) => assert_eq!(message, "Slybroadcast: Bad Audio, can't download"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(answer("OK"), Err(SendError::Ambiguous { .. })));
        assert!(matches!(answer("<html>maintenance</html>"), Err(SendError::Ambiguous { .. })));
    }

    #[test]
    fn numbers_are_sent_as_digits() {
        assert_eq!(digits("+16175550100"), "6175550100");
        assert_eq!(digits("+442071838750"), "442071838750");
    }

    #[test]
    fn dispositions_are_read() {
        let d = Disposition::parse("8471234|6175550100|OK||2026-11-26 10:00:00|Verizon").unwrap();
        assert_eq!((d.session_id.as_str(), d.delivery_status, d.failure_reason), ("8471234", "delivered", None));
        let d = Disposition::parse("8471234|6175550100|FAILURE|Landline|2026-11-26 10:00:00|").unwrap();
        assert_eq!((d.delivery_status, d.failure_reason.as_deref()), ("failed", Some("Landline")));
        assert!(Disposition::parse("garbage").is_err());
        assert!(Disposition::parse("1|2|MAYBE").is_err());
    }
}
