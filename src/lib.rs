//! Turnout: an outreach platform that fills events.
//!
//! `domain` is pure and shared with the browser, `api` holds the server functions,
//! `server` (feature `ssr`) the database, auth, HTTP routes and workers, `ui` the pages.
#![recursion_limit = "256"]

pub mod api;
pub mod domain;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(ui::App);
}
