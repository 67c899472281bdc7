//! Cross-cutting middleware: panic containment, head limits, reading the body before the
//! concurrency limit, the concurrency limit and the access log.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use nauthilus_core::SessionId;

use crate::codec::common::read_body;
use crate::error::ApiError;
use crate::limits;
use crate::state::AppState;

fn session_of(request: &Request) -> SessionId {
    request
        .extensions()
        .get::<SessionId>()
        .copied()
        .unwrap_or_else(|| SessionId::new(nauthilus_core::clock::now()))
}

/// Refuses a request whose target or header section exceeds [`limits`] with 414 or 431 and the
/// usual JSON error (hyper's own limits are set higher, see `limits`).
pub async fn check_head_limits(request: Request, next: Next) -> Response {
    let uri_len = request.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    let refusal = if uri_len > limits::MAX_URI_BYTES {
        Some(ApiError::UriTooLong(limits::MAX_URI_BYTES))
    } else if request.headers().len() > limits::MAX_HEADERS {
        Some(ApiError::HeaderFieldsTooLarge(format!(
            "more than {} header fields",
            limits::MAX_HEADERS
        )))
    } else if limits::header_bytes(request.headers()) > limits::MAX_HEADER_BYTES {
        Some(ApiError::HeaderFieldsTooLarge(format!(
            "header fields larger than {} bytes",
            limits::MAX_HEADER_BYTES
        )))
    } else {
        None
    };
    match refusal {
        Some(error) => error.into_response_for(session_of(&request)),
        None => next.run(request).await,
    }
}

/// Reads the whole request body (bounded in size, and in time by `server.timeouts.body_read`)
/// before the request goes on, so that a client sending its body slowly holds no
/// `server.max_concurrent_requests` permit. Too slow: 408, and the connection is closed.
pub async fn read_body_first(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let session = session_of(&request);
    let (parts, body) = request.into_parts();
    let body = match tokio::time::timeout(timeout, read_body(body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => return error.into_response_for(session),
        Err(_elapsed) => {
            tracing::info!(target: "nauthilus::http", session = %session, "request body not received in time; closing the connection");
            let mut response = ApiError::RequestTimeout.into_response_for(session);
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Turns a panic anywhere below (a handler, a backend library) into a 500 with the usual JSON
/// error and the request's session, instead of a dropped connection. The server never panics on
/// purpose; this is the net under third-party code.
pub async fn catch_panics(request: Request, next: Next) -> Response {
    use futures::FutureExt;

    let session = request
        .extensions()
        .get::<SessionId>()
        .copied()
        .unwrap_or_else(|| SessionId::new(nauthilus_core::clock::now()));
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(session = %session, panic = %what, "request handler panicked");
            ApiError::Internal("Temporary server problem, try again later".into()).into_response_for(session)
        }
    }
}

/// Answers 429 when `server.max_concurrent_requests` requests are already in flight (rather
/// than queueing: a mail server retries, and a queue only adds latency under overload).
pub async fn limit_concurrency(State(st): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Ok(_permit) = st.in_flight.clone().try_acquire_owned() else {
        let session = request.extensions().get::<SessionId>().copied();
        return match session {
            Some(s) => ApiError::TooManyRequests.into_response_for(s),
            None => ApiError::TooManyRequests.into_response_for(SessionId::new(nauthilus_core::clock::now())),
        };
    };
    next.run(request).await
}

/// One line per request: errors at info, the rest at debug (auth decisions have their own line).
pub async fn access_log(request: Request, next: Next) -> Response {
    let started = nauthilus_core::clock::instant();
    let method = request.method().clone();
    // A cheap clone (shared bytes); the path is read only for a line that is written.
    let uri = request.uri().clone();
    // Copied, not formatted: only a line that is written needs its text.
    let session = request.extensions().get::<SessionId>().copied();
    let session = || session.map(|s| s.to_string()).unwrap_or_default();
    // The peer as the server saw it: the PROXY v2 source, or a trusted proxy's client. Only
    // formatted when the line is written.
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_canonical());
    let peer = || peer.map(|p| p.to_string()).unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    if status >= 400 {
        tracing::info!(target: "nauthilus::http", session = session(), peer = %peer(), %method, path = uri.path(), status, latency_us = micros, "request");
    } else {
        tracing::debug!(target: "nauthilus::http", session = session(), peer = %peer(), %method, path = uri.path(), status, latency_us = micros, "request");
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use nauthilus_backends::password::PasswordVerifier;
    use nauthilus_config::Config;
    use nauthilus_core::{Pipeline, PipelineParts};
    use tokio::sync::Notify;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn requests_beyond_the_limit_get_429_while_others_run() {
        let mut config = Config::default();
        let pipeline = Pipeline::new(PipelineParts::new(PasswordVerifier::new(1)));
        config.server.max_concurrent_requests = std::num::NonZeroUsize::MIN;
        let state = AppState::new(pipeline, &config);
        let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (e, r) = (entered.clone(), release.clone());
        let app = Router::new()
            .route(
                "/slow",
                get(move || async move {
                    e.notify_one();
                    r.notified().await;
                    "done"
                }),
            )
            .route("/fast", get(|| async { "fast" }))
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                limit_concurrency,
            ))
            .layer(axum::middleware::from_fn(crate::session::assign_session))
            .with_state(state);
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let slow = tokio::spawn(app.clone().oneshot(get("/slow")));
        entered.notified().await;
        let refused = app.clone().oneshot(get("/fast")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let session = refused.headers()["x-nauthilus-session"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(refused.into_body(), 4096).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["guid"], session);
        release.notify_one();
        assert_eq!(slow.await.unwrap().unwrap().status(), StatusCode::OK);
        assert_eq!(
            app.oneshot(get("/fast")).await.unwrap().status(),
            StatusCode::OK,
            "the permit came back"
        );
    }

    #[tokio::test]
    async fn a_panicking_handler_gives_a_500_with_the_session_not_a_dropped_connection() {
        #[allow(clippy::panic)]
        async fn boom() -> &'static str {
            panic!("library bug")
        }
        let app: Router = Router::new()
            .route("/boom", get(boom))
            .layer(axum::middleware::from_fn(catch_panics))
            .layer(axum::middleware::from_fn(crate::session::assign_session));
        let response = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let session = response.headers()["x-nauthilus-session"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["guid"], session);
        assert_eq!(json["error"], "Temporary server problem, try again later");
    }
}
