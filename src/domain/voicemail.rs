//! Ringless voicemail: the voices a script can be spoken in, the builder's preview, and the
//! accounts that speak (ElevenLabs) and drop (Slybroadcast) it.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A voice the builder offers: ElevenLabs' voices when an API key is set, else the local
/// speech engine's (espeak-ng).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceOption {
    pub id: String,
    pub name: String,
}

/// The voices and who speaks them ("elevenlabs" or "local").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voices {
    pub engine: String,
    /// The voice a step without one is spoken in.
    pub default_voice: String,
    pub voices: Vec<VoiceOption>,
}

/// What the builder asks to hear: a script in a voice, filled in for one contact of one
/// campaign (or for sample values).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VoicemailPreviewInput {
    pub script: String,
    #[serde(default)]
    pub voice_id: Option<String>,
    #[serde(default)]
    pub campaign_id: Option<Uuid>,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
}

/// The rendered script and where to play it (a signed-in route); `problem` says why it could
/// not be rendered (a missing merge value, or the speech service refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoicemailPreview {
    pub text: Option<String>,
    pub audio_url: Option<String>,
    pub problem: Option<String>,
}

/// Which voicemail accounts apply to the signed-in user, without their secrets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VoicemailAccountsView {
    /// The organisation's ElevenLabs key is set (else the local speech engine speaks).
    pub elevenlabs: bool,
    /// The Slybroadcast login that applies (else drops go to the sandbox), and whether it is
    /// the user's own rather than the organisation's.
    pub slybroadcast_uid: Option<String>,
    pub slybroadcast_own: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlybroadcastAccountInput {
    /// The login email; empty removes the account.
    pub uid: String,
    pub password: String,
}
