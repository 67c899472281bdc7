//! The stylesheet (with the brand colours), the logo and the WebAuthn script, served from memory.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};

use crate::IdpService;

/// Assets may be cached briefly; a reload with new colours shows within five minutes.
const ASSET_CACHE: &str = "public, max-age=300";

/// `GET /idp/static/style.css`.
pub async fn stylesheet(State(service): State<Arc<IdpService>>) -> Response {
    let idp = service.current();
    let mut response = idp.pages.stylesheet().to_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(ASSET_CACHE));
    response
}

/// `GET /idp/static/logo`: the configured logo, 404 without one.
pub async fn logo(State(service): State<Arc<IdpService>>) -> Response {
    let idp = service.current();
    let Some(logo) = idp.pages.logo() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = logo.bytes.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(logo.content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(ASSET_CACHE));
    response
}

/// `GET /idp/static/webauthn.js`: the WebAuthn ceremonies' script.
pub async fn webauthn_script() -> Response {
    let mut response = super::pages::WEBAUTHN_SCRIPT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(ASSET_CACHE));
    response
}
