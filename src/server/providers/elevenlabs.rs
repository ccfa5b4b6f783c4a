//! ElevenLabs text-to-speech: a voicemail script in one voice, as MP3.
//! <https://elevenlabs.io/docs/api-reference/text-to-speech/convert>: `POST
//! /v1/text-to-speech/{voice_id}?output_format=…`, the `xi-api-key` header, a JSON body of
//! `text`, `model_id` and `voice_settings`; the answer is the audio. Errors carry a JSON
//! `detail`: an object `{status, message}` (401 `invalid_api_key`, 429
//! `too_many_concurrent_requests` / `system_busy`, 400 `voice_not_found`), or for a malformed
//! request (422) FastAPI's list of `{loc, msg, type}`.
//! <https://elevenlabs.io/docs/api-reference/voices/search>: `GET /v1/voices` lists the
//! account's voices as `{"voices": [{"voice_id", "name", …}]}`.
use super::{SendError, request_error, retry_after, root_cause};
use crate::domain::voicemail::VoiceOption;
use crate::server::settings::Settings;
use reqwest::StatusCode;
use serde::Deserialize;

pub struct ElevenLabs {
    http: reqwest::Client,
    base: String,
    key: String,
    model: String,
    output_format: String,
    stability: f64,
    similarity_boost: f64,
}

impl ElevenLabs {
    pub fn new(http: reqwest::Client, settings: &Settings, key: String) -> Self {
        Self {
            http,
            base: settings.elevenlabs_api_base.trim_end_matches('/').to_string(),
            key,
            model: settings.elevenlabs_model_id.clone(),
            output_format: settings.elevenlabs_output_format.clone(),
            stability: settings.elevenlabs_stability,
            similarity_boost: settings.elevenlabs_similarity_boost,
        }
    }

    pub fn output_format(&self) -> &str {
        &self.output_format
    }

    /// What, besides voice and text, shapes the audio: part of the cache key, so changing
    /// the model or settings renders anew.
    pub fn shape(&self) -> String {
        format!("{}|{}|{}|{}", self.model, self.output_format, self.stability, self.similarity_boost)
    }

    pub async fn speak(&self, voice_id: &str, text: &str) -> Result<Vec<u8>, SendError> {
        // Voice ids are letters and digits; anything else would change the path.
        if voice_id.is_empty() || !voice_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(SendError::Permanent { message: format!("'{voice_id}' is not an ElevenLabs voice id"), code: None, suppress: false });
        }
        let url = format!("{}/v1/text-to-speech/{voice_id}", self.base);
        let body = serde_json::json!({
            "text": text,
            "model_id": self.model,
            "voice_settings": { "stability": self.stability, "similarity_boost": self.similarity_boost },
        });
        let res = self
            .http
            .post(url)
            .query(&[("output_format", self.output_format.as_str())])
            .header("xi-api-key", &self.key)
            .header(reqwest::header::ACCEPT, "audio/mpeg")
            .json(&body)
            .send()
            .await
            // Speech is not a drop: an answer lost on the way costs a render, never a call.
            .map_err(|e| match request_error("ElevenLabs", &e) {
                SendError::Ambiguous { message } => SendError::Transient { message, retry_after: None },
                other => other,
            })?;
        let status = res.status();
        let wait = retry_after(res.headers());
        if status.is_success() {
            let audio = res.bytes().await.map_err(|e| SendError::Transient {
                message: format!("ElevenLabs' audio was cut off: {}", root_cause(&e)),
                retry_after: None,
            })?;
            if audio.is_empty() {
                return Err(SendError::Transient { message: "ElevenLabs sent no audio".into(), retry_after: None });
            }
            return Ok(audio.to_vec());
        }
        let detail = res.bytes().await.map(|b| describe(&b)).unwrap_or_default();
        Err(classify(status, wait, detail))
    }

    pub async fn voices(&self) -> Result<Vec<VoiceOption>, String> {
        let res = self
            .http
            .get(format!("{}/v1/voices", self.base))
            .header("xi-api-key", &self.key)
            .send()
            .await
            .map_err(|e| format!("ElevenLabs could not be reached: {}", root_cause(&e)))?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| format!("ElevenLabs' voice list was cut off: {}", root_cause(&e)))?;
        if !status.is_success() {
            return Err(format!("ElevenLabs (HTTP {}): {}", status.as_u16(), describe(&body)));
        }
        #[derive(Deserialize)]
        struct List {
            voices: Vec<Voice>,
        }
        #[derive(Deserialize)]
        struct Voice {
            voice_id: String,
            name: String,
        }
        let list: List = serde_json::from_slice(&body).map_err(|e| format!("ElevenLabs' voice list was not understood: {e}"))?;
        Ok(list.voices.into_iter().map(|v| VoiceOption { id: v.voice_id, name: v.name }).collect())
    }
}

/// The `detail` of an error answer as one line: `{status, message}` or FastAPI's list.
fn describe(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::from_utf8_lossy(body).chars().take(200).collect();
    };
    match v.get("detail") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| {
                let at = i.get("loc").and_then(|l| l.as_array()).map(|l| {
                    l.iter().map(|p| p.as_str().map(String::from).unwrap_or_else(|| p.to_string())).collect::<Vec<_>>().join(".")
                });
                let msg = i.get("msg").and_then(|m| m.as_str()).unwrap_or("invalid");
                match at {
                    Some(at) => format!("{at}: {msg}"),
                    None => msg.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        Some(d) => match (d.get("status").and_then(|s| s.as_str()), d.get("message").and_then(|m| m.as_str())) {
            (Some(s), Some(m)) => format!("{m} ({s})"),
            (None, Some(m)) => m.to_string(),
            (Some(s), None) => s.to_string(),
            (None, None) => d.as_str().map(String::from).unwrap_or_else(|| d.to_string()),
        },
        None => v.to_string(),
    }
}

/// What an error answer means for the voicemail.
fn classify(status: StatusCode, retry_after: Option<std::time::Duration>, detail: String) -> SendError {
    let message = format!("ElevenLabs (HTTP {}): {detail}", status.as_u16());
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return SendError::Transient { message, retry_after };
    }
    if status == StatusCode::UNAUTHORIZED {
        return SendError::Permanent {
            message: format!("ElevenLabs rejected the API key (Settings › Voicemail): {detail}"),
            code: Some("401".into()),
            suppress: false,
        };
    }
    SendError::Permanent { message, code: Some(status.as_u16().to_string()), suppress: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_read_as_one_line() {
        assert_eq!(describe(br#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#), "Invalid API key (invalid_api_key)");
        assert_eq!(
            describe(br#"{"detail":[{"type":"missing","loc":["body","text"],"msg":"Field required"}]}"#),
            "body.text: Field required"
        );
        assert_eq!(describe(b"Bad Gateway"), "Bad Gateway");
    }

    #[test]
    fn only_rate_limits_and_outages_are_retried() {
        assert!(matches!(classify(StatusCode::TOO_MANY_REQUESTS, None, String::new()), SendError::Transient { .. }));
        assert!(matches!(classify(StatusCode::BAD_GATEWAY, None, String::new()), SendError::Transient { .. }));
        assert!(matches!(classify(StatusCode::UNPROCESSABLE_ENTITY, None, String::new()), SendError::Permanent { .. }));
        match classify(StatusCode::UNAUTHORIZED, None, "Invalid API key".into()) {
            SendError::Permanent { message, .. } => assert!(message.contains("API key"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}
