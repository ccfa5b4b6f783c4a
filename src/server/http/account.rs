use crate::domain::AppError;
use crate::domain::user::{LoginRequest, LoginResponse, PasswordChange, Profile, ProfileUpdate, TwilioAccountInput, TwilioAccountView, UserView};
use crate::server::auth::{self, AuthUser, session};
use crate::server::error::ErrorBody;
use crate::server::state::AppState;
use crate::server::{providers, users};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::net::SocketAddr;

#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    operation_id = "account_login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; also sets the session cookie", body = LoginResponse),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ),
    security(()),
)]
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
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    operation_id = "account_logout",
    responses(
        (status = 204, description = "Every token of the user is revoked and the cookie cleared"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn logout(State(state): State<AppState>, user: AuthUser) -> Result<Response, AppError> {
    auth::logout_everywhere(&state, &user).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, session::clear_cookie(&state.settings))]).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ForgotPassword {
    email: String,
}

#[utoipa::path(
    post,
    path = "/api/auth/forgot-password",
    tag = "auth",
    operation_id = "account_forgot_password",
    request_body = ForgotPassword,
    responses(
        (status = 204, description = "A reset link is mailed if the address has an account"),
        (status = 422, description = "Invalid input", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ),
    security(()),
)]
pub async fn forgot_password(State(state): State<AppState>, Json(body): Json<ForgotPassword>) -> Result<StatusCode, AppError> {
    auth::request_reset(&state, &body.email).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetPassword {
    token: String,
    password: String,
}

#[utoipa::path(
    post,
    path = "/api/auth/reset-password",
    tag = "auth",
    operation_id = "account_reset_password",
    request_body = ResetPassword,
    responses(
        (status = 204, description = "Password changed"),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
    security(()),
)]
pub async fn reset_password(State(state): State<AppState>, Json(body): Json<ResetPassword>) -> Result<StatusCode, AppError> {
    auth::complete_reset(&state, &body.token, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/me",
    tag = "account",
    operation_id = "account_me",
    responses(
        (status = 200, description = "The signed-in user", body = UserView),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<UserView>, AppError> {
    let row = users::find_by_id(&state.pool, user.id).await?.ok_or_else(AppError::unauthorized)?;
    Ok(Json(row.view()))
}

#[utoipa::path(
    get,
    path = "/api/me/profile",
    tag = "account",
    operation_id = "account_profile",
    responses(
        (status = 200, description = "The signed-in user's profile", body = Profile),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn profile(State(state): State<AppState>, user: AuthUser) -> Result<Json<Profile>, AppError> {
    Ok(Json(users::profile(&state.pool, user.id).await?))
}

#[utoipa::path(
    put,
    path = "/api/me/profile",
    tag = "account",
    operation_id = "account_update_profile",
    request_body = ProfileUpdate,
    responses(
        (status = 200, description = "Saved", body = Profile),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn update_profile(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<ProfileUpdate>,
) -> Result<Json<Profile>, AppError> {
    Ok(Json(users::update_profile(&state, &user, body).await?))
}

/// Changing the password ends every other sign-in; this client gets a fresh token.
#[utoipa::path(
    post,
    path = "/api/me/password",
    tag = "account",
    operation_id = "account_change_password",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed; a fresh token (other sessions end)", body = serde_json::Value, example = json!({"token": "eyJ..."})),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/me/twilio",
    tag = "account",
    operation_id = "account_twilio",
    responses(
        (status = 200, description = "The Twilio account the user's texts go through", body = TwilioAccountView),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn twilio(State(state): State<AppState>, user: AuthUser) -> Result<Json<TwilioAccountView>, AppError> {
    Ok(Json(providers::twilio_view(&state.pool, user.id).await?))
}

#[utoipa::path(
    put,
    path = "/api/me/twilio",
    tag = "account",
    operation_id = "account_set_twilio",
    request_body = TwilioAccountInput,
    responses(
        (status = 200, description = "Saved", body = TwilioAccountView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn set_twilio(State(state): State<AppState>, user: AuthUser, Json(input): Json<TwilioAccountInput>) -> Result<Json<TwilioAccountView>, AppError> {
    Ok(Json(providers::set_twilio_account(&state.pool, &state.keys, &user, false, &input).await?))
}

/// Admins: the organisation's Twilio account, used by everyone without their own.
#[utoipa::path(
    put,
    path = "/api/org/twilio",
    tag = "account",
    operation_id = "account_set_org_twilio",
    request_body = TwilioAccountInput,
    responses(
        (status = 200, description = "Saved", body = TwilioAccountView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    ),
)]
pub async fn set_org_twilio(State(state): State<AppState>, user: AuthUser, Json(input): Json<TwilioAccountInput>) -> Result<Json<TwilioAccountView>, AppError> {
    Ok(Json(providers::set_twilio_account(&state.pool, &state.keys, &user, true, &input).await?))
}
