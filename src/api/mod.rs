//! Server functions, served under `/api/fn/`, one file per feature. Each is thin: it finds
//! the signed-in user and calls the service in `crate::server` that the REST routes use too.
pub mod account;
pub mod admin;
pub mod bonzo;
pub mod campaigns;
pub mod content;
pub mod google;
pub mod inbox;
pub mod leads;
pub mod stats;
pub mod suppressions;
pub mod templates;
pub mod voicemail;

#[cfg(feature = "ssr")]
pub(crate) mod ctx {
    use crate::domain::AppError;
    use crate::server::auth::{AuthUser, session};
    use crate::server::state::AppState;
    use axum::http::StatusCode;
    use axum::http::request::Parts;
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;
    use std::future::Future;

    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(AppError::internal)
    }

    pub fn parts() -> Result<Parts, AppError> {
        use_context::<Parts>().ok_or_else(AppError::internal)
    }

    /// Gives a failed server function the HTTP status of its error.
    pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let (Err(e), Some(opts)) = (&result, use_context::<ResponseOptions>()) {
            opts.set_status(StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        }
        result
    }

    /// Runs `f` without a signed-in user (sign-in, password reset).
    pub async fn public<T, F, Fut>(f: F) -> Result<T, AppError>
    where
        F: FnOnce(AppState) -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let result = async { f(state()?).await }.await;
        respond(result)
    }

    /// Runs `f` for the signed-in user; 401 without one.
    pub async fn signed_in<T, F, Fut>(f: F) -> Result<T, AppError>
    where
        F: FnOnce(AppState, AuthUser) -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let result = async {
            let state = state()?;
            let user = session::authenticate(&state, &parts()?.headers).await?;
            f(state, user).await
        }
        .await;
        respond(result)
    }

    pub fn set_header(name: axum::http::HeaderName, value: axum::http::HeaderValue) {
        if let Some(opts) = use_context::<ResponseOptions>() {
            opts.insert_header(name, value);
        }
    }
}
