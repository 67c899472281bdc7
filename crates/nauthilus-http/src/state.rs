//! What every handler shares. The per-configuration part (`Current`: pipeline, flusher, HTTP
//! settings) sits behind an `ArcSwap`, so a reload swaps it atomically while requests are in
//! flight: each request loads it once and keeps that snapshot to the end. What must outlive a
//! reload (the concurrency limit, which endpoints exist) stays outside.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use nauthilus_config::{Config, DisabledEndpoints, RequestHeaders};
use nauthilus_core::{BruteForce, Pipeline, Upstream, UserFlusher};
use tokio::sync::Semaphore;

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
}

impl AppState {
    /// State for `pipeline`, with the HTTP settings of `config`, and no store to check.
    pub fn new(pipeline: Pipeline, config: &Config) -> Arc<Self> {
        Self::with_health(pipeline, config, Health::default())
    }

    /// State for `pipeline`, with the HTTP settings of `config`; `/healthz` and `/metrics`
    /// look at `health`'s services.
    pub fn with_health(pipeline: Pipeline, config: &Config, health: Health) -> Arc<Self> {
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
        })
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
