//! Runtime settings: `Leptos.toml` with each key overridable by its upper-case env var.
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// What MMS media Turnout keeps: pictures, video, audio, PDFs and contact cards; never
/// anything a browser would run (HTML, SVG), since the app serves the files itself.
const MEDIA_CONTENT_TYPES: &str = "image/jpeg,image/png,image/gif,image/webp,image/heic,video/mp4,video/3gpp,\
                                   audio/mpeg,audio/mp4,audio/amr,audio/ogg,application/pdf,text/vcard,text/x-vcard";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub turnout_addr: SocketAddr,
    pub public_base_url: String,
    pub database_url: String,
    pub database_max_connections: u32,
    pub read_database_url: String,
    pub turnout_data_dir: PathBuf,
    pub leptos_site_root: String,
    pub turnout_demo: bool,
    pub admin_email: String,
    pub admin_password: String,
    pub turnout_secret_key: String,
    pub org_name: String,
    pub org_time_zone: String,
    pub default_region: String,
    pub log_format: String,
    pub metrics_token: String,
    pub system_smtp_url: String,
    pub system_from_email: String,
    pub token_ttl_hours: i64,
    pub login_attempts_per_ip_per_minute: u32,
    pub login_attempts_per_account_per_minute: u32,
    pub drain_timeout_s: u64,
    pub engine_workers: usize,
    pub engine_batch_size: i64,
    pub engine_lease_s: i64,
    pub engine_poll_ms: u64,
    pub engine_concurrency: usize,
    pub engine_max_attempts: i32,
    pub sms_per_second_per_number: f64,
    pub email_per_day_per_sender: i32,
    pub twilio_api_base: String,
    pub provider_timeout_s: u64,
    pub sms_help_text: String,
    pub sms_opt_out_confirmation: String,
    pub sandbox_reply_rate: f64,
    pub sandbox_reply_delay_ms: u64,
    pub media_store_url: String,
    pub media_s3_endpoint: String,
    pub media_s3_region: String,
    pub media_s3_access_key_id: String,
    pub media_s3_secret_access_key: String,
    pub media_max_bytes: u64,
    pub media_content_types: String,
    pub elevenlabs_api_base: String,
    pub elevenlabs_model_id: String,
    pub elevenlabs_output_format: String,
    pub elevenlabs_stability: f64,
    pub elevenlabs_similarity_boost: f64,
    pub elevenlabs_default_voice_id: String,
    pub elevenlabs_concurrency: usize,
    pub local_voice_default: String,
    pub slybroadcast_api_base: String,
    pub bonzo_api_base: String,
    pub voicemail_audio_ttl_hours: i64,
    pub voicemail_per_second_per_number: f64,
    pub google_client_id: String,
    pub google_client_secret: String,
    pub google_auth_url: String,
    pub google_token_url: String,
    pub google_revoke_url: String,
    pub gmail_api_base: String,
    pub gmail_sync_interval_s: u64,
    pub stats_compact_interval_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            turnout_addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_base_url: String::new(),
            database_url: "postgres://postgres@127.0.0.1:5432/turnout".into(),
            database_max_connections: 20,
            read_database_url: String::new(),
            turnout_data_dir: PathBuf::from("./data"),
            leptos_site_root: "target/site".into(),
            turnout_demo: false,
            admin_email: "admin@turnout.local".into(),
            admin_password: String::new(),
            turnout_secret_key: String::new(),
            org_name: "Turnout".into(),
            org_time_zone: "America/New_York".into(),
            default_region: "US".into(),
            log_format: "text".into(),
            metrics_token: String::new(),
            system_smtp_url: String::new(),
            system_from_email: "Turnout <no-reply@turnout.local>".into(),
            token_ttl_hours: 168,
            login_attempts_per_ip_per_minute: 20,
            login_attempts_per_account_per_minute: 5,
            drain_timeout_s: 30,
            engine_workers: 2,
            engine_batch_size: 500,
            engine_lease_s: 120,
            engine_poll_ms: 1000,
            engine_concurrency: 64,
            engine_max_attempts: 6,
            sms_per_second_per_number: 1.0,
            email_per_day_per_sender: 2000,
            twilio_api_base: "https://api.twilio.com".into(),
            provider_timeout_s: 30,
            sms_help_text: "Event invitations by text. Reply STOP to opt out, START to opt back in. Msg & data rates may apply.".into(),
            sms_opt_out_confirmation: "You are unsubscribed and will get no more texts from us. Reply START to opt back in.".into(),
            sandbox_reply_rate: 0.0,
            sandbox_reply_delay_ms: 5000,
            media_store_url: String::new(),
            media_s3_endpoint: String::new(),
            media_s3_region: "us-east-1".into(),
            media_s3_access_key_id: String::new(),
            media_s3_secret_access_key: String::new(),
            media_max_bytes: 5 * 1024 * 1024,
            media_content_types: MEDIA_CONTENT_TYPES.into(),
            elevenlabs_api_base: "https://api.elevenlabs.io".into(),
            elevenlabs_model_id: "eleven_multilingual_v2".into(),
            elevenlabs_output_format: "mp3_44100_128".into(),
            elevenlabs_stability: 0.5,
            elevenlabs_similarity_boost: 0.75,
            elevenlabs_default_voice_id: "21m00Tcm4TlvDq8ikWAM".into(),
            elevenlabs_concurrency: 4,
            local_voice_default: "en-us".into(),
            slybroadcast_api_base: "https://www.mobile-sphere.com".into(),
            bonzo_api_base: "https://app.getbonzo.com/api".into(),
            voicemail_audio_ttl_hours: 72,
            voicemail_per_second_per_number: 1.0,
            google_client_id: String::new(),
            google_client_secret: String::new(),
            google_auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            google_token_url: "https://oauth2.googleapis.com/token".into(),
            google_revoke_url: "https://oauth2.googleapis.com/revoke".into(),
            gmail_api_base: "https://gmail.googleapis.com".into(),
            gmail_sync_interval_s: 60,
            stats_compact_interval_ms: 2000,
        }
    }
}

impl Settings {
    /// Defaults, then `Leptos.toml` (or `$TURNOUT_CONFIG`), then the environment.
    pub fn load() -> Result<Self, String> {
        let file = std::env::var("TURNOUT_CONFIG").unwrap_or_else(|_| "Leptos.toml".into());
        let keys: Vec<String> = match serde_json::to_value(Settings::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().map(|k| k.to_uppercase()).collect(),
            _ => Vec::new(),
        };
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&file))
            .merge(Env::raw().only(&keys))
            .extract()
            .map_err(|e| format!("invalid settings: {e}"))
    }

    /// The origin users reach the app at, without a trailing slash.
    pub fn public_origin(&self) -> String {
        if self.public_base_url.is_empty() {
            format!("http://{}", self.turnout_addr)
        } else {
            self.public_base_url.trim_end_matches('/').to_string()
        }
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_base_url.starts_with("https://")
    }
}
