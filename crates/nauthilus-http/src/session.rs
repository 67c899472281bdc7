//! Gives every request its session id (a KSUID) before anything else runs, and stamps it on every
//! response as `X-Nauthilus-Session`, whatever produced the response.

use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use nauthilus_core::SessionId;

/// Response header carrying the session id.
pub const SESSION_HEADER: &str = "x-nauthilus-session";

/// Middleware: creates the session id, renders a handler's `ApiError` with it as `guid`, and
/// adds the response header.
pub async fn assign_session(mut request: Request, next: Next) -> Response {
    let session = SessionId::new(nauthilus_core::clock::now());
    request.extensions_mut().insert(session);
    let mut response = crate::error::render_pending(next.run(request).await, session);
    if let Ok(value) = HeaderValue::from_str(session.as_str()) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

/// Extractor for the current request's session id.
#[derive(Clone, Copy, Debug)]
pub struct Session(pub SessionId);

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The middleware always runs first; a fresh id keeps a misrouted request answerable.
        Ok(Self(
            parts
                .extensions
                .get::<SessionId>()
                .copied()
                .unwrap_or_else(|| SessionId::new(nauthilus_core::clock::now())),
        ))
    }
}
