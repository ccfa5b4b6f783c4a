//! Cross-cutting request handling: the same-origin check and JSON error bodies.
use crate::domain::AppError;
use crate::server::auth::session;
use crate::server::state::AppState;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Refuses cookie-authenticated requests that change state unless they come from the app's
/// own pages (CSRF). Bearer-token clients and anonymous requests are not cookie-driven.
pub async fn same_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let headers = req.headers();
    let cookie_driven = session::bearer_token(headers).is_none() && session::cookie_token(headers).is_some();
    if !safe && cookie_driven && !origin_is_own(headers, &state.settings.public_origin()) {
        tracing::warn!(path = %req.uri().path(), "cross-origin request refused");
        return AppError { status: 403, error: "Cross-origin request refused".into() }.into_response();
    }
    next.run(req).await
}

fn origin_is_own(headers: &HeaderMap, public_origin: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if origin == public_origin {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

/// Axum's own rejections (bad JSON, a malformed id, a wrong method) are plain text; API
/// clients always get `{"error": "..."}`.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/api/") && !path.starts_with("/api/fn/");
    let res = next.run(req).await;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !api || is_json || !(res.status().is_client_error() || res.status().is_server_error()) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = to_bytes(body, 16 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = if text.trim().is_empty() {
        parts.status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text.trim().to_string()
    };
    let mut res = AppError { status: parts.status.as_u16(), error: message }.into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        res.headers_mut().insert(header::ALLOW, allow.clone());
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn origin_matches_public_base_url_or_host() {
        let mut h = HeaderMap::new();
        assert!(!origin_is_own(&h, "http://127.0.0.1:3000"));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:3000"));
        assert!(origin_is_own(&h, "http://127.0.0.1:3000"));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert!(!origin_is_own(&h, "http://127.0.0.1:3000"));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://turnout.lan:8080"));
        h.insert(header::HOST, HeaderValue::from_static("turnout.lan:8080"));
        assert!(origin_is_own(&h, "http://127.0.0.1:3000"));
    }
}
