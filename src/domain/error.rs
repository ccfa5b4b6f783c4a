use serde::{Deserialize, Serialize};
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use std::fmt;

/// The one error type of the API: an HTTP status and a message safe to show a user.
/// REST routes send it as `{"error": "..."}`; server functions as JSON with the status too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    pub status: u16,
    pub error: String,
}

impl AppError {
    fn new(status: u16, error: impl Into<String>) -> Self {
        Self { status, error: error.into() }
    }
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(400, msg)
    }
    pub fn unauthorized() -> Self {
        Self::new(401, "Please sign in")
    }
    pub fn forbidden() -> Self {
        Self::new(403, "You do not have permission to do that")
    }
    /// Also used for records that exist but belong to someone else, so existence is not revealed.
    pub fn not_found(what: &str) -> Self {
        Self::new(404, format!("{what} not found"))
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::new(409, msg)
    }
    pub fn unprocessable(msg: impl Into<String>) -> Self {
        Self::new(422, msg)
    }
    pub fn too_many_requests(msg: impl Into<String>) -> Self {
        Self::new(429, msg)
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self::new(503, msg)
    }
    /// Internals stay in the log; the user sees a generic message.
    pub fn internal() -> Self {
        Self::new(500, "Something went wrong on our side; please try again")
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(e) => {
                Self::new(0, format!("Could not reach the server: {e}"))
            }
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::MissingArg(e) => {
                Self::bad_request(format!("Invalid request: {e}"))
            }
            other => Self::new(500, other.to_string()),
        }
    }
}
