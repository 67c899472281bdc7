//! `GET /oidc/jwks`: the public signing keys (RFC 7517), active and retired.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::IdpService;

/// The handler.
pub async fn handler(State(svc): State<Arc<IdpService>>) -> Response {
    let mut r = axum::Json(svc.current().keys.jwks()).into_response();
    // Relying parties may cache it briefly; they re-fetch on an unknown kid.
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}
