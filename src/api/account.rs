//! Signing in and out, password resets, one's own profile.
use crate::domain::AppError;
use crate::domain::user::{Profile, ProfileUpdate, TwilioAccountInput, TwilioAccountView, UserView};
use leptos::prelude::*;

/// Signs in and sets the session cookie.
#[server(prefix = "/api/fn", endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<UserView, AppError> {
    use crate::server::auth::{self, session};
    use axum::extract::ConnectInfo;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    super::ctx::public(|state| async move {
        let ip = super::ctx::parts()?
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let res = auth::login(&state, ip, &email, &password).await?;
        super::ctx::set_header(axum::http::header::SET_COOKIE, session::session_cookie(&res.token, &state.settings));
        Ok(res.user)
    })
    .await
}

/// Signs out everywhere: every token of this user stops working.
#[server(prefix = "/api/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::server::auth::{self, session};
    super::ctx::signed_in(|state, user| async move {
        auth::logout_everywhere(&state, &user).await?;
        super::ctx::set_header(axum::http::header::SET_COOKIE, session::clear_cookie(&state.settings));
        Ok(())
    })
    .await
}

/// The signed-in user, or `None`: pages use it to decide between the app and the sign-in form.
#[server(prefix = "/api/fn", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    use crate::server::auth::session;
    use crate::server::users;
    super::ctx::public(|state| async move {
        match session::authenticate(&state, &super::ctx::parts()?.headers).await {
            Ok(u) => Ok(users::find_by_id(&state.pool, u.id).await?.map(|r| r.view())),
            Err(e) if e.status == 401 => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    super::ctx::public(|state| async move { crate::server::auth::request_reset(&state, &email).await }).await
}

#[server(prefix = "/api/fn", endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    super::ctx::public(|state| async move { crate::server::auth::complete_reset(&state, &token, &password).await })
        .await
}

#[server(prefix = "/api/fn", endpoint = "get_profile")]
pub async fn get_profile() -> Result<Profile, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::users::profile(&state.pool, user.id).await }).await
}

#[server(prefix = "/api/fn", endpoint = "update_profile")]
pub async fn update_profile(update: ProfileUpdate) -> Result<Profile, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::users::update_profile(&state, &user, update).await })
        .await
}

/// Changes one's password; other sign-ins end, this one gets a fresh cookie.
#[server(prefix = "/api/fn", endpoint = "change_password")]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    use crate::server::auth::{self, session};
    super::ctx::signed_in(|state, user| async move {
        let token = auth::change_password(&state, &user, &current, &new).await?;
        super::ctx::set_header(axum::http::header::SET_COOKIE, session::session_cookie(&token, &state.settings));
        Ok(())
    })
    .await
}

#[server(prefix = "/api/fn", endpoint = "get_twilio_account")]
pub async fn get_twilio_account() -> Result<TwilioAccountView, AppError> {
    super::ctx::signed_in(|state, user| async move { crate::server::providers::twilio_view(&state.pool, user.id).await }).await
}

/// Sets the user's own Twilio account, or with `org` (admins) the organisation's.
#[server(prefix = "/api/fn", endpoint = "set_twilio_account")]
pub async fn set_twilio_account(input: TwilioAccountInput, org: bool) -> Result<TwilioAccountView, AppError> {
    super::ctx::signed_in(|state, user| async move {
        crate::server::providers::set_twilio_account(&state.pool, &state.keys, &user, org, &input).await
    })
    .await
}
