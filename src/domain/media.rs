//! Files that came with a message (MMS), as the conversation view lists them.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

string_enum! {
    /// A file's fetch: still to do (or being retried), in Turnout's store, or given up.
    MediaState { Pending => "pending", Stored => "stored", Failed => "failed" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MediaView {
    pub id: Uuid,
    pub content_type: String,
    /// Where the app serves it (`/api/media/{id}`), to those who may see the conversation.
    pub url: String,
    pub state: MediaState,
    /// Why a fetch failed.
    pub error: Option<String>,
}

impl MediaView {
    pub fn is_image(&self) -> bool {
        self.content_type.starts_with("image/")
    }

    pub fn is_audio(&self) -> bool {
        self.content_type.starts_with("audio/")
    }
}
