//! The HTTP edge: routers by function, one codec per endpoint, the mapping of errors to HTTP,
//! and the admin API. Handlers extract, decode, call one pipeline method and render.

// Tests may read the clock directly; the code under test takes it as an argument.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod admin;
pub mod backchannel;
#[cfg(feature = "bench")]
pub mod bench;
pub mod codec;
pub mod compression;
pub mod custom;
pub mod error;
pub mod handlers;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod query;
pub mod session;
pub mod state;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::{MethodRouter, delete, get, post};
use nauthilus_core::Service;

use backchannel::Need;
use backchannel::roles::Permission;
pub use state::{AppState, Current, HttpSettings};

type Api = Router<Arc<AppState>>;

/// A GET and POST route for the header-driven endpoints (`header`, `nginx`): one handler body,
/// rendered for `service`.
fn by_headers(service: Service) -> MethodRouter<Arc<AppState>> {
    let handler = move |State(st): State<Arc<AppState>>,
                        session: session::Session,
                        uri: axum::http::Uri,
                        headers: axum::http::HeaderMap| {
        handlers::auth_by_headers(service, st, session, uri, headers)
    };
    get(handler).post(handler)
}

/// The auth endpoints (`/api/v1/auth/*`); those in `server.disabled_endpoints` are left out.
/// Guarded by backchannel auth: the role needed follows `mode` (`authenticate`, `user_info`,
/// `list_accounts`); `/auth/basic` logins are exempt from `basic_auth` (their `Authorization`
/// header is the login being checked).
pub fn auth_router(state: &Arc<AppState>) -> Api {
    let off = state.disabled;
    let mut api = Router::new();
    if !off.auth_json {
        api = api.route("/auth/json", get(handlers::auth_json).post(handlers::auth_json));
    }
    if !off.auth_header {
        api = api.route("/auth/header", by_headers(Service::Header));
    }
    if !off.auth_nginx {
        api = api.route("/auth/nginx", by_headers(Service::Nginx));
    }
    if !off.auth_saslauthd {
        api = api.route("/auth/saslauthd", post(handlers::auth_saslauthd));
    }
    // Routes so far get the mode guard; `/auth/basic`, added after, its own.
    api = api.route_layer(axum::middleware::from_fn_with_state(
        (state.clone(), Need::ByMode),
        backchannel::guard,
    ));
    if !off.auth_basic {
        api = api.route(
            "/auth/basic",
            get(handlers::auth_basic).post(handlers::auth_basic).route_layer(
                axum::middleware::from_fn_with_state(
                    (state.clone(), Need::BasicEndpoint),
                    backchannel::guard,
                ),
            ),
        );
    }
    api
}

/// The admin endpoints: cache and brute-force flush and list. Guarded by backchannel auth:
/// role `security` (or `admin`).
pub fn admin_router(state: &Arc<AppState>) -> Api {
    Router::new()
        .route("/cache/flush", delete(admin::cache_flush))
        .route(
            "/bruteforce/list",
            get(admin::brute_force_list).post(admin::brute_force_list),
        )
        .route("/bruteforce/flush", delete(admin::brute_force_flush))
        .route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), Need::Fixed(Permission::Security)),
            backchannel::guard,
        ))
}

/// The token endpoints of the backchannel JWT auth (`/api/v1/jwt/token`, `/api/v1/jwt/refresh`),
/// open to everyone (they check passwords and refresh tokens themselves); 404 while
/// `server.jwt_auth` is off, absent with `server.disabled_endpoints.auth_jwt`.
pub fn jwt_router(state: &AppState) -> Api {
    if state.disabled.auth_jwt {
        return Router::new();
    }
    Router::new()
        .route("/jwt/token", post(admin::jwt_token))
        .route("/jwt/refresh", post(admin::jwt_refresh))
}

/// The custom hooks (`ANY /api/v1/custom/{*hook}`, `lua.custom_hooks`); gone with
/// `server.disabled_endpoints.custom_hooks`.
pub fn custom_router() -> Api {
    Router::new().route("/custom/{*hook}", axum::routing::any(custom::custom_hook))
}

/// Builds the whole router. Middleware, outermost first:
/// 1. `assign_session` — every request gets its KSUID, every response `X-Nauthilus-Session`,
///    and an `ApiError` a handler returned is rendered as `{"error","guid"}`;
///    then `metrics::track_http` (unless `server.metrics.enabled` is off) — request counts,
///    durations and requests in flight;
/// 2. `access_log` — one line per request, with the session;
/// 3. `check_head_limits` — 414/431 with the JSON error for an oversized URI or header section;
/// 4. `catch_panics` — a panic below becomes a 500 with the JSON error, not a dropped connection;
/// 5. `read_body_first` (only `/api/v1`) — the body is read, within `server.timeouts.body_read`,
///    before the request takes a concurrency permit;
/// 6. `limit_concurrency` (only `/api/v1`) — 429 beyond `server.max_concurrent_requests`;
///    `/ping` stays answerable under load;
/// 7. `backchannel::guard` (auth and admin routes, not `/jwt/*`) — 401/403 unless the
///    `server.basic_auth` / `server.jwt_auth` credentials allow the request.
///
/// Around all of them, `compression::layer` gzips the replies handlers mark as worth it
/// (account lists) for clients that accept gzip.
///
/// The auth and admin routers are separate so that each can get its own layers (backchannel
/// authentication wraps them). With the `bench` cargo feature, `/api/v1/bench/bare` (module
/// `bench`) is added under the same middleware; a default build has no such route.
pub fn router(state: Arc<AppState>) -> Router {
    router_with(state, Router::new())
}

/// [`router`] with `extra` routes (the identity provider's) merged at top level, under the same
/// middleware as `/ping` (session id, access log, head limits, panic guard, metrics).
pub fn router_with(state: Arc<AppState>, extra: Api) -> Router {
    let mut api = auth_router(&state)
        .merge(admin_router(&state))
        .merge(jwt_router(&state));
    if !state.disabled.custom_hooks {
        api = api.merge(custom_router());
    }
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
    let top = Router::new().route("/ping", get(handlers::ping)).merge(extra);
    let top = operations_routes(top, &state);
    let metrics_enabled = state.metrics_enabled;
    let routes = top
        .nest("/api/v1", api)
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .with_state(state);
    // The common middleware wraps the finished router once, as one tower stack, instead of
    // through `Router::layer`, which wraps every route in every layer: there each layer boxed
    // the rest of the stack again and cloned it on every request (most of a cached login's
    // instructions went to those clones, their allocations and the moves of the request).
    let stack = tower::ServiceBuilder::new()
        .layer(compression::layer())
        .layer(axum::middleware::from_fn(session::assign_session))
        .option_layer(metrics_enabled.then(|| axum::middleware::from_fn(metrics::track_http)))
        .layer(axum::middleware::from_fn(middleware::access_log))
        .layer(axum::middleware::from_fn(middleware::check_head_limits))
        .layer(axum::middleware::from_fn(middleware::catch_panics))
        .service(routes);
    Router::new().fallback_service(stack)
}

// ---- Operations endpoints (metrics, health) --------------------------------------------------

/// `/healthz` and (unless `server.metrics.enabled` is off) `/metrics`: top level next to
/// `/ping`, outside `/api/v1` and its backchannel authentication (`/metrics` has its own
/// optional Basic credentials, `server.metrics.basic_auth`).
fn operations_routes(router: Api, state: &AppState) -> Api {
    let router = router.route("/healthz", get(health::healthz));
    if state.metrics_enabled {
        router.route("/metrics", get(metrics::metrics))
    } else {
        router
    }
}
