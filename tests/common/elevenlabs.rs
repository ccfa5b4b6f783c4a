//! A fake of ElevenLabs' text-to-speech API on loopback, for the voicemail tests.
//!
//! Documented, and spoken as documented:
//! - `POST /v1/text-to-speech/{voice_id}?output_format=mp3_44100_128`, the key in the
//!   `xi-api-key` header, a JSON body `{"text", "model_id", "voice_settings": {"stability",
//!   "similarity_boost"}}`, answered with the audio itself (`audio/mpeg` for the mp3 formats):
//!   <https://elevenlabs.io/docs/api-reference/text-to-speech/convert>;
//! - `GET /v1/voices` → `{"voices": [{"voice_id", "name", "category", ...}]}`:
//!   <https://elevenlabs.io/docs/api-reference/voices/search> (the `/v1/voices` listing);
//! - validation errors are FastAPI's 422 `{"detail": [{"type", "loc", "msg"}]}` (the API
//!   reference lists 422 with that shape for every endpoint).
//!
//! Guessed (from memory of ElevenLabs' answers, not from the stored documentation): the exact
//! wording and `status` codes of the 401 (`invalid_api_key`), 400 (`voice_not_found`) and 429
//! (`too_many_concurrent_requests`) bodies, whether 429 carries `Retry-After`, the order the
//! checks are made in, the 422 for an empty text (`string_too_short`), and the premade voices'
//! ids and names (well-known ones, but ElevenLabs may change them).
//!
//! The audio is MP3 frames (MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: `FF FB 90 ..`, 417 bytes
//! each) with empty side information, so a decoder plays them as silence; what follows the
//! side information is drawn from a hash of (voice, text), so every (voice, text) has its own
//! bytes and the same bytes every time. The length follows the text (about 15 characters a
//! second of speech), so a script of a sentence or two is several seconds and tens of KB.
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// Premade voices every account has: (voice_id, name).
pub const VOICES: [(&str, &str); 4] = [
    ("21m00Tcm4TlvDq8ikWAM", "Rachel"),
    ("pNInz6obpgDQGcFmaJgB", "Adam"),
    ("EXAVITQu4vr4xnSDxMaL", "Sarah"),
    ("ErXwobaYiN019PkySvjV", "Antoni"),
];
pub const RACHEL: &str = "21m00Tcm4TlvDq8ikWAM";
pub const ADAM: &str = "pNInz6obpgDQGcFmaJgB";

/// The output formats the convert endpoint takes (the documented `output_format` values).
const FORMATS: [&str; 9] = [
    "mp3_22050_32", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96", "mp3_44100_128", "mp3_44100_192",
    "pcm_16000", "pcm_22050", "pcm_44100",
];

/// One text-to-speech request, as received (including the refused ones).
#[derive(Debug, Clone, PartialEq)]
pub struct TtsRequest {
    pub voice_id: String,
    pub output_format: Option<String>,
    /// The `xi-api-key` header.
    pub api_key: Option<String>,
    pub text: Option<String>,
    pub model_id: Option<String>,
    pub stability: Option<f64>,
    pub similarity_boost: Option<f64>,
    /// The JSON body as sent (Null when it was not JSON).
    pub body: Value,
}

pub struct FakeElevenLabs {
    /// E.g. `http://127.0.0.1:41234`: the app's `elevenlabs_api_base`.
    pub base_url: String,
    /// The only key the fake accepts.
    pub api_key: String,
    shared: Arc<Shared>,
}

struct Shared {
    api_key: String,
    state: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: Vec<TtsRequest>,
    /// Requests received per (voice, text), answered or not.
    received: HashMap<(String, String), usize>,
    /// Audio answered (200) per (voice, text): renders that happened.
    rendered: HashMap<(String, String), usize>,
    voice_listings: usize,
    throttle_next: usize,
    throttle_retry_after: bool,
    reject_next: usize,
    error_next: usize,
    hang_next: usize,
}

impl FakeElevenLabs {
    pub async fn start() -> FakeElevenLabs {
        let api_key = format!("sk_{:048x}", rand::random::<u128>());
        let shared = Arc::new(Shared { api_key: api_key.clone(), state: Mutex::new(Inner::default()) });
        let app = Router::new()
            .route("/v1/text-to-speech/{voice_id}", post(convert))
            .route("/v1/voices", get(voices))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake ElevenLabs");
        let base_url = format!("http://{}", listener.local_addr().expect("fake ElevenLabs address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake ElevenLabs server") });
        FakeElevenLabs { base_url, api_key, shared }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.state.lock().expect("fake ElevenLabs state")
    }

    /// The next `n` requests get 429 `too_many_concurrent_requests`, with `Retry-After: 1`
    /// when `retry_after`.
    pub fn throttle_next(&self, n: usize, retry_after: bool) {
        let mut s = self.state();
        s.throttle_next = n;
        s.throttle_retry_after = retry_after;
    }

    /// The next `n` requests get a 422 validation error on the text, as ElevenLabs answers a
    /// body it cannot take.
    pub fn reject_next(&self, n: usize) {
        self.state().reject_next = n;
    }

    /// The next `n` requests get 500.
    pub fn fail_next(&self, n: usize) {
        self.state().error_next = n;
    }

    /// The next `n` requests are received and never answered.
    pub fn hang_next(&self, n: usize) {
        self.state().hang_next = n;
    }

    /// Every text-to-speech request received, in order.
    pub fn requests(&self) -> Vec<TtsRequest> {
        self.state().requests.clone()
    }

    /// Text-to-speech requests received, of any outcome.
    pub fn total_calls(&self) -> usize {
        self.state().requests.len()
    }

    /// Requests received for (voice, text), answered or not.
    pub fn calls_for(&self, voice: &str, text: &str) -> usize {
        self.state().received.get(&(voice.to_string(), text.to_string())).copied().unwrap_or(0)
    }

    /// Audio answered for (voice, text).
    pub fn renders_for(&self, voice: &str, text: &str) -> usize {
        self.state().rendered.get(&(voice.to_string(), text.to_string())).copied().unwrap_or(0)
    }

    /// Audio answered, in all.
    pub fn total_renders(&self) -> usize {
        self.state().rendered.values().sum()
    }

    /// `GET /v1/voices` calls received.
    pub fn voice_listings(&self) -> usize {
        self.state().voice_listings
    }
}

/// The MP3 the fake answers for (voice, text): the same bytes every time.
pub fn mp3_for(voice: &str, text: &str) -> Vec<u8> {
    const FRAME: usize = 417; // 144 * 128000 / 44100, no padding
    const SIDE_INFO: usize = 32; // MPEG-1, two channels
    let seconds = (text.chars().count() as f64 / 15.0).max(1.0);
    let frames = (seconds * 44100.0 / 1152.0).ceil() as usize;
    let mut out = Vec::with_capacity(frames * FRAME);
    let mut seed = Sha256::new().chain_update(voice).chain_update([0]).chain_update(text).finalize();
    for _ in 0..frames {
        // Sync, MPEG-1, Layer III, no CRC; 128 kbit/s, 44.1 kHz, no padding; joint stereo.
        out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        out.extend(std::iter::repeat_n(0u8, SIDE_INFO));
        let mut filler = Vec::with_capacity(FRAME - 4 - SIDE_INFO);
        while filler.len() < FRAME - 4 - SIDE_INFO {
            seed = Sha256::digest(seed);
            filler.extend_from_slice(&seed);
        }
        filler.truncate(FRAME - 4 - SIDE_INFO);
        out.extend(filler);
    }
    out
}

/// ElevenLabs' error body for a refused request: `{"detail": {"status", "message"}}`.
fn detail(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "detail": { "status": code, "message": message } }))).into_response()
}

/// FastAPI's validation error for one field.
fn invalid(loc: [&str; 2], kind: &str, msg: &str, input: Option<Value>) -> Response {
    let mut item = json!({ "type": kind, "loc": loc, "msg": msg });
    if let Some(i) = input {
        item["input"] = i;
    }
    (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "detail": [item] }))).into_response()
}

/// The refusal unless `xi-api-key` is this account's key.
fn refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let key = headers.get("xi-api-key").and_then(|v| v.to_str().ok());
    (key != Some(shared.api_key.as_str())).then(|| detail(StatusCode::UNAUTHORIZED, "invalid_api_key", "Invalid API key"))
}

async fn convert(
    State(shared): State<Arc<Shared>>,
    Path(voice_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = body.get("text").and_then(Value::as_str).map(str::to_string);
    let settings = body.get("voice_settings");
    let request = TtsRequest {
        voice_id: voice_id.clone(),
        output_format: q.get("output_format").cloned(),
        api_key: headers.get("xi-api-key").and_then(|v| v.to_str().ok()).map(str::to_string),
        text: text.clone(),
        model_id: body.get("model_id").and_then(Value::as_str).map(str::to_string),
        stability: settings.and_then(|s| s.get("stability")).and_then(Value::as_f64),
        similarity_boost: settings.and_then(|s| s.get("similarity_boost")).and_then(Value::as_f64),
        body: body.clone(),
    };
    let hang = {
        let mut state = shared.state.lock().expect("fake ElevenLabs state");
        let pair = (voice_id.clone(), text.clone().unwrap_or_default());
        state.requests.push(request);
        *state.received.entry(pair).or_default() += 1;
        if let Some(res) = refusal(&shared, &headers) {
            return res;
        }
        if state.throttle_next > 0 {
            state.throttle_next -= 1;
            let mut res = detail(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_concurrent_requests",
                "Too many concurrent requests. Your current subscription is associated with a maximum of 2 concurrent requests.",
            );
            if state.throttle_retry_after {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            return res;
        }
        if state.error_next > 0 {
            state.error_next -= 1;
            return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "detail": "Internal Server Error" }))).into_response();
        }
        if state.reject_next > 0 {
            state.reject_next -= 1;
            return invalid(["body", "text"], "missing", "Field required", None);
        }
        if state.hang_next > 0 {
            state.hang_next -= 1;
            true
        } else {
            false
        }
    };
    if hang {
        // Received, never answered: the caller's timeout (or its death) ends the request.
        std::future::pending::<()>().await;
    }
    if body.is_null() {
        return invalid(["body", ""], "json_invalid", "JSON decode error", None);
    }
    let Some(text) = text else {
        return invalid(["body", "text"], "missing", "Field required", None);
    };
    if text.is_empty() {
        return invalid(["body", "text"], "string_too_short", "String should have at least 1 character", Some(json!("")));
    }
    let format = q.get("output_format").map(String::as_str).unwrap_or("mp3_44100_128");
    if !FORMATS.contains(&format) {
        return invalid(["query", "output_format"], "enum", "Input should be a valid output format", Some(json!(format)));
    }
    if !VOICES.iter().any(|(id, _)| *id == voice_id) {
        return detail(StatusCode::BAD_REQUEST, "voice_not_found", &format!("A voice with voice_id {voice_id} was not found."));
    }
    let audio = mp3_for(&voice_id, &text);
    *shared.state.lock().expect("fake ElevenLabs state").rendered.entry((voice_id, text)).or_default() += 1;
    let content_type = if format.starts_with("mp3") { "audio/mpeg" } else { "audio/pcm" };
    ([(header::CONTENT_TYPE, content_type)], audio).into_response()
}

async fn voices(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.state.lock().expect("fake ElevenLabs state").voice_listings += 1;
    if let Some(res) = refusal(&shared, &headers) {
        return res;
    }
    let voices: Vec<Value> = VOICES
        .iter()
        .map(|(id, name)| {
            json!({
                "voice_id": id,
                "name": name,
                "category": "premade",
                "labels": { "accent": "american" },
                "preview_url": format!("https://storage.googleapis.com/eleven-public-prod/premade/voices/{id}/preview.mp3"),
            })
        })
        .collect();
    (StatusCode::OK, Json(json!({ "voices": voices }))).into_response()
}
