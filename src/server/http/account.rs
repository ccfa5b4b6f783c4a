use crate::domain::AppError;
use crate::domain::user::{LoginRequest, LoginResponse, PasswordChange, Profile, ProfileUpdate, TwilioAccountInput, TwilioAccountView, UserView};
use crate::server::auth::{self, AuthUser, session};
use crate::server::state::AppState;
use crate::server::{providers, users};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::net::SocketAddr;

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<LoginRequest>,
) -> Result<Response, AppError> {
    let res: LoginResponse = auth::login(&state, peer.ip(), &body.email, &body.password).await?;
    let cookie = session::session_cookie(&res.token, &state.settings);
    Ok(([(header::SET_COOKIE, cookie)], Json(res)).into_response())
}

/// Signs the user out on every device: all their tokens stop working.
pub async fn logout(State(state): State<AppState>, user: AuthUser) -> Result<Response, AppError> {
    auth::logout_everywhere(&state, &user).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, session::clear_cookie(&state.settings))]).into_response())
}

#[derive(Deserialize)]
pub struct ForgotPassword {
    email: String,
}

pub async fn forgot_password(State(state): State<AppState>, Json(body): Json<ForgotPassword>) -> Result<StatusCode, AppError> {
    auth::request_reset(&state, &body.email).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ResetPassword {
    token: String,
    password: String,
}

pub async fn reset_password(State(state): State<AppState>, Json(body): Json<ResetPassword>) -> Result<StatusCode, AppError> {
    auth::complete_reset(&state, &body.token, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<UserView>, AppError> {
    let row = users::find_by_id(&state.pool, user.id).await?.ok_or_else(AppError::unauthorized)?;
    Ok(Json(row.view()))
}

pub async fn profile(State(state): State<AppState>, user: AuthUser) -> Result<Json<Profile>, AppError> {
    Ok(Json(users::profile(&state.pool, user.id).await?))
}

pub async fn update_profile(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<ProfileUpdate>,
) -> Result<Json<Profile>, AppError> {
    Ok(Json(users::update_profile(&state, &user, body).await?))
}

/// Changing the password ends every other sign-in; this client gets a fresh token.
pub async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<PasswordChange>,
) -> Result<Response, AppError> {
    let token = auth::change_password(&state, &user, &body.current, &body.new).await?;
    let cookie = session::session_cookie(&token, &state.settings);
    Ok(([(header::SET_COOKIE, cookie)], Json(serde_json::json!({ "token": token }))).into_response())
}

/// The Twilio account the user's SMS go through (own, else the organisation's).
pub async fn twilio(State(state): State<AppState>, user: AuthUser) -> Result<Json<TwilioAccountView>, AppError> {
    Ok(Json(providers::twilio_view(&state.pool, user.id).await?))
}

pub async fn set_twilio(State(state): State<AppState>, user: AuthUser, Json(input): Json<TwilioAccountInput>) -> Result<Json<TwilioAccountView>, AppError> {
    Ok(Json(providers::set_twilio_account(&state.pool, &state.keys, &user, false, &input).await?))
}

/// Admins: the organisation's Twilio account, used by everyone without their own.
pub async fn set_org_twilio(State(state): State<AppState>, user: AuthUser, Json(input): Json<TwilioAccountInput>) -> Result<Json<TwilioAccountView>, AppError> {
    Ok(Json(providers::set_twilio_account(&state.pool, &state.keys, &user, true, &input).await?))
}
