use crate::domain::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user as others see them: never a password hash or a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/auth/login`'s answer, as in the seed: `{token, user}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub token: String,
    pub user: UserView,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// An admin creating a user. Without a password the user gets an emailed invitation
/// (or the admin a one-time link to pass on when no system mail sender is set up).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password: Option<String>,
}

/// An admin's change to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserUpdate {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// What creating a user or resetting a password produced. `link` is set only when no
/// system mail sender is configured, so the admin can hand it over.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InviteOutcome {
    pub user: UserView,
    pub emailed: bool,
    pub link: Option<String>,
}

string_enum! {
    /// How to reach a user's SMTP server.
    SmtpTls { Starttls => "starttls", Tls => "tls", None => "none" }
}

impl SmtpTls {
    pub fn label(self) -> &'static str {
        match self {
            SmtpTls::None => "None (plain text)",
            SmtpTls::Starttls => "STARTTLS",
            SmtpTls::Tls => "TLS (implicit)",
        }
    }
}

/// A user's own profile and sending identities. The SMTP password is write-only:
/// the browser only learns whether one is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Profile {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The user's own phone, for test sends to themselves.
    pub mobile_phone: Option<String>,
    pub sms_from_number: Option<String>,
    pub vm_caller_id: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_username: Option<String>,
    pub smtp_tls: SmtpTls,
    pub smtp_from_email: Option<String>,
    pub smtp_password_set: bool,
}

/// A change to one's own profile. Empty strings clear a field; `smtp_password` of `None`
/// keeps the stored secret, `Some("")` removes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProfileUpdate {
    pub name: String,
    #[serde(default)]
    pub mobile_phone: String,
    pub sms_from_number: String,
    pub vm_caller_id: String,
    pub smtp_host: String,
    pub smtp_port: String,
    pub smtp_username: String,
    pub smtp_tls: String,
    pub smtp_from_email: String,
    pub smtp_password: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// Passwords: long enough to resist guessing, short enough for argon2 to hash quickly.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 10 {
        Err("Passwords need at least 10 characters".into())
    } else if n > 256 {
        Err("Passwords can have at most 256 characters".into())
    } else {
        Ok(())
    }
}

/// A Twilio account to send SMS through; an empty sid removes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TwilioAccountInput {
    pub account_sid: String,
    #[serde(default)]
    pub auth_token: String,
}

/// Which Twilio account applies, never with its token. None: the sandbox sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TwilioAccountView {
    pub account_sid: Option<String>,
    /// The user's own account rather than the organisation's.
    pub own: bool,
}
