//! The HTTP edge: the router, one codec per endpoint, the mapping of errors to HTTP, and the
//! admin API. Handlers extract, decode, call one pipeline method and render.

pub mod admin;
#[cfg(feature = "bench")]
pub mod bench;
pub mod codec;
pub mod error;
pub mod handlers;
pub mod limits;
pub mod middleware;
pub mod query;
pub mod session;
pub mod state;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};

pub use state::AppState;

/// Builds the router. Middleware, outermost first:
/// 1. `assign_session` — every request gets its KSUID, every response `X-Nauthilus-Session`;
/// 2. `access_log` — one line per request, with the session;
/// 3. `check_head_limits` — 414/431 with the JSON error for an oversized URI or header section;
/// 4. `catch_panics` — a panic below becomes a 500 with the JSON error, not a dropped connection;
/// 5. `read_body_first` (only `/api/v1`) — the body is read, within `server.timeouts.body_read`,
///    before the request takes a concurrency permit;
/// 6. `limit_concurrency` (only `/api/v1`) — 429 beyond `server.max_concurrent_requests`;
///    `/ping` stays answerable under load.
///
/// With the `bench` cargo feature, `/api/v1/bench/bare` (module `bench`) is added under the same
/// middleware; a default build has no such route.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/auth/json", get(handlers::auth_json).post(handlers::auth_json))
        .route(
            "/auth/header",
            get(handlers::auth_header).post(handlers::auth_header),
        )
        .route(
            "/auth/nginx",
            get(handlers::auth_nginx).post(handlers::auth_nginx),
        )
        .route("/auth/saslauthd", post(handlers::auth_saslauthd))
        .route(
            "/auth/basic",
            get(handlers::auth_basic).post(handlers::auth_basic),
        )
        .route("/cache/flush", delete(admin::cache_flush))
        .route(
            "/bruteforce/list",
            get(admin::brute_force_list).post(admin::brute_force_list),
        )
        .route("/bruteforce/flush", delete(admin::brute_force_flush));
    // The benchmarks' HTTP ceiling: same router, same middleware, no pipeline.
    #[cfg(feature = "bench")]
    let api = api.route("/bench/bare", get(bench::bare).post(bench::bare));
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::limit_concurrency,
    ));
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        state.body_read_timeout,
        middleware::read_body_first,
    ));
    Router::new()
        .route("/ping", get(handlers::ping))
        .nest("/api/v1", api)
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::catch_panics))
        .layer(axum::middleware::from_fn(middleware::check_head_limits))
        .layer(axum::middleware::from_fn(middleware::access_log))
        .layer(axum::middleware::from_fn(session::assign_session))
        .with_state(state)
}
