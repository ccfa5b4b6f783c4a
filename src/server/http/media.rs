//! Stored files: MMS media and voicemail audio for signed-in users who may see the
//! conversation, and a drop's audio at its public link for the drop provider. Each answers
//! range requests (players seek; Slybroadcast may fetch in parts) and revalidation.
use crate::domain::AppError;
use crate::server::auth::AuthUser;
use crate::server::error::{ErrorBody, internal};
use crate::server::state::AppState;
use crate::server::{media, voicemail};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use object_store::path::Path as StorePath;
use uuid::Uuid;

#[utoipa::path(
    get,
    path = "/api/media/{id}",
    tag = "media",
    operation_id = "media_get",
    params(("id" = Uuid, Path, description = "The record's id")),
    responses(
        (status = 200, description = "The file (also 206 for a range, 304 when unchanged)", body = String, content_type = "application/octet-stream"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
)]
pub async fn get(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, headers: HeaderMap) -> Result<Response, AppError> {
    let (content_type, key) = media::locate(&state, &user, id).await?;
    serve(&state, &key, &content_type, "private, max-age=3600", &headers).await
}

/// `/media/vm/{token}.mp3`: no sign-in (the drop provider fetches it); the token is the key,
/// and it expires (410).
#[utoipa::path(
    get,
    path = "/media/vm/{file}",
    tag = "media",
    operation_id = "media_public_voicemail",
    params(("file" = String, Path, description = "`{token}.mp3`")),
    responses(
        (status = 200, description = "The drop's MP3 (also 206 for a range, 304 when unchanged)", body = String, content_type = "audio/mpeg"),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
        (status = 410, description = "The link has expired", body = ErrorBody),
    ),
    security(()),
)]
pub async fn public_voicemail(State(state): State<AppState>, Path(file): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    let hash = voicemail::public_audio(&state, mp3_token(&file)?).await?;
    // Shared caches must not keep it past the link's life.
    serve(&state, &voicemail::audio_key(&hash), voicemail::AUDIO_TYPE, "private, max-age=3600", &headers).await
}

/// `/api/voicemail/audio/{token}.mp3`: a builder preview, for the user it was made for.
#[utoipa::path(
    get,
    path = "/api/voicemail/audio/{file}",
    tag = "media",
    operation_id = "media_preview_voicemail",
    params(("file" = String, Path, description = "`{token}.mp3`")),
    responses(
        (status = 200, description = "The rendered MP3 (also 206 for a range, 304 when unchanged)", body = String, content_type = "audio/mpeg"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
)]
pub async fn preview_voicemail(State(state): State<AppState>, user: AuthUser, Path(file): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    let hash = voicemail::preview_audio(&state, &user, mp3_token(&file)?)?;
    // Rendered audio never changes: the hash names its content.
    serve(&state, &voicemail::audio_key(&hash), voicemail::AUDIO_TYPE, "private, max-age=86400, immutable", &headers).await
}

/// The token of a `{token}.mp3` path segment.
fn mp3_token(file: &str) -> Result<&str, AppError> {
    file.strip_suffix(".mp3").ok_or_else(|| AppError::not_found("Voicemail audio"))
}

/// One stored object: whole, one byte range (206), or "not modified" (304).
async fn serve(state: &AppState, key: &StorePath, content_type: &str, cache: &'static str, headers: &HeaderMap) -> Result<Response, AppError> {
    let store = state.media.store();
    let meta = store.head(key).await.map_err(|e| match e {
        object_store::Error::NotFound { .. } => AppError::not_found("Media"),
        e => internal("reading media", e),
    })?;
    let size = meta.size;
    let etag = format!("\"{}\"", meta.e_tag.as_deref().unwrap_or(key.as_ref()).trim_matches('"'));
    let common = |b: axum::http::response::Builder| {
        // The files are the contacts', served from the app's own origin: never sniffed into
        // something runnable, and sandboxed if opened directly.
        b.header(header::ETAG, &etag)
            .header(header::CACHE_CONTROL, cache)
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(header::CONTENT_SECURITY_POLICY, "sandbox")
    };
    let not_modified = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        })
    });
    if not_modified {
        return build(common(Response::builder().status(StatusCode::NOT_MODIFIED)), Body::empty());
    }
    let wanted = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|v| http_range_header::parse_range_header(v).ok());
    if let Some(ranges) = wanted {
        match ranges.validate(size) {
            // One range is what players and fetchers ask for; several are answered whole.
            Ok(ranges) if ranges.len() == 1 => {
                let (start, end) = (*ranges[0].start(), *ranges[0].end());
                let part = store.get_range(key, start..end + 1).await.map_err(|e| internal("reading media", e))?;
                let b = common(Response::builder().status(StatusCode::PARTIAL_CONTENT))
                    .header(header::CONTENT_TYPE, content_type)
                    .header(header::CONTENT_LENGTH, part.len())
                    .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
                return build(b, Body::from(part));
            }
            Ok(_) => {}
            Err(_) => {
                let b = common(Response::builder().status(StatusCode::RANGE_NOT_SATISFIABLE)).header(header::CONTENT_RANGE, format!("bytes */{size}"));
                return build(b, Body::empty());
            }
        }
    }
    let got = store.get(key).await.map_err(|e| internal("reading media", e))?;
    let bytes = got.bytes().await.map_err(|e| internal("reading media", e))?;
    let b = common(Response::builder().status(StatusCode::OK)).header(header::CONTENT_TYPE, content_type).header(header::CONTENT_LENGTH, bytes.len());
    build(b, Body::from(bytes))
}

fn build(b: axum::http::response::Builder, body: Body) -> Result<Response, AppError> {
    b.body(body).map_err(|e| internal("building a media answer", e))
}

/// Slybroadcast's result of each call, posted to the secret URL it was given with the drop.
/// It must be answered "OK"; a result for a message Turnout does not know is acknowledged
/// too (it cannot be fixed by sending it again) and logged.
#[utoipa::path(
    post,
    path = "/api/slybroadcast/dispo/{secret}",
    tag = "webhooks",
    operation_id = "media_slybroadcast_dispo",
    params(("secret" = String, Path, description = "The webhook's shared secret")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The provider's report, as it sends it"),
    responses(
        (status = 200, description = "Acknowledged", body = String, content_type = "text/plain", example = "OK"),
        (status = 404, description = "Not found (or not yours)", body = ErrorBody),
    ),
    security(()),
)]
pub async fn slybroadcast_dispo(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Result<Response, AppError> {
    let known = voicemail::disposition(&state, &secret, form.get("var").map(String::as_str)).await?;
    if !known {
        tracing::info!(var = form.get("var").map(String::as_str).unwrap_or_default(), "Slybroadcast result for a drop Turnout did not make");
    }
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))], "OK").into_response())
}
