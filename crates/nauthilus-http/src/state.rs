//! What every handler shares. The per-configuration part (`Current`: pipeline, flusher, HTTP
//! settings) sits behind an `ArcSwap`, so a reload swaps it atomically while requests are in
//! flight: each request loads it once and keeps that snapshot to the end. What must outlive a
//! reload (the concurrency limit, which endpoints exist) stays outside.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use nauthilus_config::{Config, DisabledEndpoints, RequestHeaders};
use nauthilus_core::{BruteForce, Pipeline, Upstream, UserFlusher};
use nauthilus_store::{KeyLayout, MemoryStore, Store};
use tokio::sync::Semaphore;

use crate::backchannel::Backchannel;
use crate::backchannel::jwt::RefreshTokens;
use crate::health::Health;
use crate::metrics::MetricsCredentials;

/// HTTP-side settings of one configuration.
#[derive(Debug)]
pub struct HttpSettings {
    /// Header names the header and nginx endpoints read.
    pub headers: RequestHeaders,
    upstreams: HashMap<String, Upstream>,
    /// `server.instance_name` (a label of `nauthilus_version_info`).
    pub instance_name: String,
    /// `server.metrics.basic_auth`, when `/metrics` asks for credentials.
    pub metrics_credentials: Option<MetricsCredentials>,
}

impl HttpSettings {
    /// The settings `config` asks for.
    pub fn from_config(config: &Config) -> Self {
        let mut upstreams = HashMap::new();
        for protocol in ["imap", "pop3", "smtp"]
            .into_iter()
            .chain(config.server.nginx_backends.keys().map(String::as_str))
        {
            if let Some((server, port)) = config.nginx_backend(protocol) {
                upstreams.insert(
                    protocol.to_owned(),
                    Upstream {
                        server: server.to_owned(),
                        port,
                    },
                );
            }
        }
        Self {
            headers: config.server.default_http_request_header.clone(),
            upstreams,
            instance_name: config.server.instance_name.clone(),
            metrics_credentials: MetricsCredentials::from_config(config),
        }
    }

    /// The `Auth-Server`/`Auth-Port` the nginx endpoint names for `protocol`.
    pub fn upstream(&self, protocol: &str) -> Option<&Upstream> {
        self.upstreams.get(protocol)
    }
}

/// One configuration's services, as the handlers see them.
#[derive(Debug)]
pub struct Current {
    pub pipeline: Pipeline,
    /// Flushes a user from the same caches the pipeline uses.
    pub flusher: UserFlusher,
    /// The pipeline's brute-force state, for the list and flush endpoints.
    pub brute_force: Option<BruteForce>,
    pub http: HttpSettings,
    /// Who may call the auth and admin endpoints (`server.basic_auth`, `server.jwt_auth`).
    pub backchannel: Backchannel,
}

impl Current {
    /// `pipeline` with the HTTP settings of `config`.
    pub fn new(pipeline: Pipeline, config: &Config) -> Self {
        let flusher = pipeline.flusher();
        Self {
            brute_force: flusher.brute_force.clone(),
            flusher,
            pipeline,
            http: HttpSettings::from_config(config),
            backchannel: Backchannel::from_config(config),
        }
    }
}

/// Shared state of the HTTP edge.
#[derive(Debug)]
pub struct AppState {
    current: ArcSwap<Current>,
    /// Endpoints left out of the router (fixed when the router is built).
    pub disabled: DisabledEndpoints,
    /// `server.timeouts.body_read` (fixed when the router is built).
    pub body_read_timeout: std::time::Duration,
    pub(crate) in_flight: Arc<Semaphore>,
    /// `server.metrics.enabled` (fixed when the router is built): `/metrics` and the HTTP
    /// request metrics.
    pub metrics_enabled: bool,
    /// The store `/healthz` pings and `/metrics` reads pool counters from.
    pub health: Health,
    /// Series rendered elsewhere in the text format and appended to `/metrics` (the Lua
    /// scripts' `nauthilus_prometheus` metrics), set once by the binary.
    pub extra_metrics: std::sync::OnceLock<fn() -> String>,
    /// Refresh tokens when `server.jwt_auth.store_in_redis` is on: the shared store.
    shared_refresh_tokens: RefreshTokens,
    /// Refresh tokens otherwise: this process only (outlives reloads).
    local_refresh_tokens: RefreshTokens,
}

impl AppState {
    /// State for `pipeline`, with the HTTP settings of `config`, no store to check, and refresh
    /// tokens in this process even with `store_in_redis`.
    pub fn new(pipeline: Pipeline, config: &Config) -> Arc<Self> {
        let local = Store::memory(
            MemoryStore::default(),
            KeyLayout::new(config.server.redis.prefix.clone()),
        );
        Self::with_services(pipeline, config, local, Health::default())
    }

    /// State for `pipeline`, with the HTTP settings of `config`; `store` (the server's shared
    /// store, Redis when configured) keeps refresh tokens when `store_in_redis` is on, and
    /// `/healthz` and `/metrics` look at `health`'s services.
    pub fn with_services(pipeline: Pipeline, config: &Config, store: Store, health: Health) -> Arc<Self> {
        let permits = config
            .server
            .max_concurrent_requests
            .get()
            .min(Semaphore::MAX_PERMITS);
        Arc::new(Self {
            current: ArcSwap::from_pointee(Current::new(pipeline, config)),
            disabled: config.server.disabled_endpoints,
            body_read_timeout: config.server.timeouts.body_read(),
            in_flight: Arc::new(Semaphore::new(permits)),
            metrics_enabled: config.server.metrics.enabled,
            health,
            extra_metrics: std::sync::OnceLock::new(),
            local_refresh_tokens: RefreshTokens::new(Store::memory(
                MemoryStore::default(),
                store.keys().clone(),
            )),
            shared_refresh_tokens: RefreshTokens::new(store),
        })
    }

    /// Where refresh tokens live: the shared store when `store_in_redis`, else this process.
    pub fn refresh_tokens(&self, store_in_redis: bool) -> &RefreshTokens {
        if store_in_redis {
            &self.shared_refresh_tokens
        } else {
            &self.local_refresh_tokens
        }
    }

    /// The configuration in force now; a request keeps the snapshot it loaded.
    pub fn current(&self) -> Arc<Current> {
        self.current.load_full()
    }

    /// Puts `pipeline` with `config`'s HTTP settings in force for every request that starts
    /// from now on; requests in flight finish on the snapshot they hold.
    pub fn swap(&self, pipeline: Pipeline, config: &Config) {
        self.current.store(Arc::new(Current::new(pipeline, config)));
    }
}
