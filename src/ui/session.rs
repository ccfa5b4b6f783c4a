//! Who is signed in, fetched once per page load and shared through context.
use crate::api::account::current_user;
use crate::domain::user::UserView;
use crate::domain::{AppError, Role};
use leptos::prelude::*;

pub type SessionResource = Resource<Result<Option<UserView>, AppError>>;

pub fn provide_session() {
    let me: SessionResource = Resource::new(|| (), |_| current_user());
    provide_context(me);
}

pub fn use_session() -> SessionResource {
    expect_context::<SessionResource>()
}

/// The signed-in user once loaded; pages inside the shell only render when there is one.
pub fn use_user() -> Signal<Option<UserView>> {
    let me = use_session();
    Signal::derive(move || me.get().and_then(|r| r.ok()).flatten())
}

pub fn use_is_admin() -> Signal<bool> {
    let user = use_user();
    Signal::derive(move || user.get().is_some_and(|u| u.role == Role::Admin))
}

/// A full page load, so the session is read afresh after signing in or out.
pub fn reload_to(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}
