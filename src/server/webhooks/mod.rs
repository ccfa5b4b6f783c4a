pub mod twilio;
pub mod twilio_signature;
