//! Callbacks providers post to Turnout.
pub mod twilio_signature;
