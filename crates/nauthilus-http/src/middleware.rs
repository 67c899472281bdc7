//! Cross-cutting middleware: the concurrency limit and the access log.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use nauthilus_core::SessionId;

use crate::error::ApiError;
use crate::state::AppState;

/// Answers 429 when `server.max_concurrent_requests` requests are already in flight (rather
/// than queueing: a mail server retries, and a queue only adds latency under overload).
pub async fn limit_concurrency(State(st): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Ok(_permit) = st.in_flight.clone().try_acquire_owned() else {
        let session = request.extensions().get::<SessionId>().copied();
        return match session {
            Some(s) => ApiError::TooManyRequests.into_response_for(s),
            None => ApiError::TooManyRequests.into_response_for(SessionId::new(std::time::SystemTime::now())),
        };
    };
    next.run(request).await
}

/// One line per request: errors at info, the rest at debug (auth decisions have their own line).
pub async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let session = request
        .extensions()
        .get::<SessionId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    if status >= 400 {
        tracing::info!(target: "nauthilus::http", session, %method, path, status, latency_us = micros, "request");
    } else {
        tracing::debug!(target: "nauthilus::http", session, %method, path, status, latency_us = micros, "request");
    }
    response
}
