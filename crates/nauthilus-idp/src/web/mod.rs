//! The pages (login, consent, logout, notify, device): owned by the `idpweb` work. Until those
//! land, this module only renders `ShownError` as a minimal page and serves no routes.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::IdpService;
use crate::oauth::error::ShownError;

/// The page routes.
pub fn router() -> Router<Arc<IdpService>> {
    Router::new()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A `ShownError` as an HTML page with its status.
pub fn error_page(error: &ShownError) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head><body><main><h1>{t}</h1><p>{d}</p></main></body></html>",
        t = escape(&error.title),
        d = escape(&error.detail)
    );
    let mut r = (error.status, axum::response::Html(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
