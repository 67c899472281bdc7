//! `GET /metrics` in the Prometheus text format, and the middleware that records HTTP requests
//! (`http_requests_total`, `http_response_time_seconds`, `server_concurrent_requests`).
//!
//! What the pipeline records lives in the process-wide registry of
//! [`nauthilus_core::metrics`]; what other services own (brute-force counters, LDAP pools, the
//! Redis pool, dropped log lines) is read when the endpoint is scraped, from the configuration
//! in force and the state's [`Health`](crate::health::Health) services.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use nauthilus_backends::ldap::breaker::BreakerState;
use nauthilus_core::metrics::{global, http_path_index};
use nauthilus_core::{Backend, BruteForceStats};
use prometheus::proto::MetricFamily;
use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// `server.metrics.basic_auth`, when set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsCredentials {
    username: String,
    password: String,
}

impl MetricsCredentials {
    /// The credentials `config` asks for, if any.
    pub fn from_config(config: &nauthilus_config::Config) -> Option<Self> {
        let auth = &config.server.metrics.basic_auth;
        auth.is_set().then(|| Self {
            username: auth.username.clone(),
            password: auth.password.clone(),
        })
    }

    /// True when `headers` carry these credentials (`Authorization: Basic`); both parts are
    /// compared in constant time.
    fn admit(&self, headers: &HeaderMap) -> bool {
        let Some(encoded) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, encoded)| encoded.trim())
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return false;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let ok = user.ct_eq(self.username.as_bytes()) & password.ct_eq(self.password.as_bytes());
        ok.into()
    }
}

/// Decrements `server_concurrent_requests` when the request ends, also when it is cancelled.
struct InFlight(&'static IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Counts each request by path (the fixed endpoints; anything else is `other`) with its
/// duration, and the requests in flight.
pub async fn track_http(request: Request, next: Next) -> Response {
    let metrics = global();
    let started = nauthilus_core::clock::instant();
    let path = http_path_index(request.uri().path());
    metrics.concurrent_requests.inc();
    let _in_flight = InFlight(&metrics.concurrent_requests);
    let response = next.run(request).await;
    metrics.record_http(path, started.elapsed());
    response
}

/// `GET /metrics`.
pub async fn metrics(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let current = st.current();
    if let Some(credentials) = &current.http.metrics_credentials
        && !credentials.admit(&headers)
    {
        return Err(ApiError::Unauthorized(
            "metrics: valid Basic credentials required".into(),
        ));
    }
    let mut families = global().registry().gather();
    families.extend(scrape_time(&st, &current));
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let mut body = Vec::with_capacity(16 * 1024);
    TextEncoder::new()
        .encode(&families, &mut body)
        .map_err(|e| ApiError::Internal(format!("metrics could not be encoded: {e}")))?;
    if let Some(extra) = st.extra_metrics.get() {
        body.extend_from_slice(extra().as_bytes());
    }
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// Values read at scrape time, in a registry of their own.
fn scrape_time(st: &AppState, current: &crate::state::Current) -> Vec<MetricFamily> {
    let registry = Registry::new();
    let mut out = Scrape {
        registry: &registry,
        counters: HashMap::new(),
        gauges: HashMap::new(),
    };
    out.gauge_vec(
        "nauthilus_version_info",
        "Information about the version.",
        &[
            ("instance_name", &current.http.instance_name),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
        1,
    );
    out.counter(
        "log_lines_dropped_total",
        "Log lines dropped because the log writer's queue was full.",
        global().log_lines_dropped(),
    );
    if let Some(bf) = &current.brute_force {
        out.brute_force(&bf.stats());
    }
    let mut seen = std::collections::HashSet::new();
    for backend in current.pipeline.backends() {
        if let Backend::Ldap(ldap) = backend {
            let status = ldap.pool().status();
            if seen.insert(status.name.clone()) {
                out.ldap(&status);
            }
        }
    }
    if let Some(monitor) = current.pipeline.backend_monitor() {
        out.backend_servers(&monitor.status());
    }
    if let Some(store) = st.health.store() {
        let stats = store.stats();
        if stats.kind == "redis" {
            let pool = [("pool_name", "default")];
            out.gauge_vec(
                "redis_pool_total_connections",
                "The total number of connections in the pool",
                &pool,
                gauge(stats.connections),
            );
            out.gauge_vec(
                "redis_pool_size",
                "Connections the Redis pool keeps (server.redis.pool_size)",
                &pool,
                gauge(stats.pool_size),
            );
            out.counter_vec(
                "redis_connection_hits_total",
                "The total number of times a free connection was found in the pool",
                &pool,
                stats.connection_hits,
            );
            out.counter_vec(
                "redis_connection_misses_total",
                "The total number of times a free connection was NOT found in the pool",
                &pool,
                stats.connection_misses,
            );
            out.counter_vec(
                "redis_connection_timeouts_total",
                "The total number of times a wait timeout occurred",
                &pool,
                stats.timeouts,
            );
        }
    }
    registry.gather()
}

/// Writes scrape-time values into a registry; a value that cannot be registered (a bug: the
/// names are fixed here) is left out rather than failing the scrape.
struct Scrape<'r> {
    registry: &'r Registry,
    counters: HashMap<String, IntCounterVec>,
    gauges: HashMap<String, IntGaugeVec>,
}

impl Scrape<'_> {
    fn counter(&mut self, name: &str, help: &str, value: u64) {
        if let Ok(c) = IntCounter::new(name, help) {
            c.inc_by(value);
            let _ = self.registry.register(Box::new(c));
        }
    }

    /// One series of a counter family with labels (the family is created on first use).
    fn counter_vec(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) {
        let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
        if !self.counters.contains_key(name) {
            let names: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
            let Ok(vec) = IntCounterVec::new(Opts::new(name, help), &names) else {
                return;
            };
            if self.registry.register(Box::new(vec.clone())).is_err() {
                return;
            }
            self.counters.insert(name.to_owned(), vec);
        }
        if let Some(c) = self
            .counters
            .get(name)
            .and_then(|vec| vec.get_metric_with_label_values(&values).ok())
        {
            c.inc_by(value);
        }
    }

    /// One series of a gauge family with labels (the family is created on first use).
    fn gauge_vec(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: i64) {
        let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
        if !self.gauges.contains_key(name) {
            let names: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
            let Ok(vec) = IntGaugeVec::new(Opts::new(name, help), &names) else {
                return;
            };
            if self.registry.register(Box::new(vec.clone())).is_err() {
                return;
            }
            self.gauges.insert(name.to_owned(), vec);
        }
        if let Some(g) = self
            .gauges
            .get(name)
            .and_then(|vec| vec.get_metric_with_label_values(&values).ok())
        {
            g.set(value);
        }
    }

    fn brute_force(&mut self, s: &BruteForceStats) {
        for (name, help, value) in [
            (
                "bruteforce_checks_total",
                "Logins checked against brute-force bans",
                s.checks,
            ),
            (
                "bruteforce_rejected_total",
                "Logins refused because their network was banned",
                s.blocked,
            ),
            (
                "bruteforce_counted_total",
                "Failed logins counted in brute-force buckets",
                s.counted,
            ),
            (
                "bruteforce_repeated_password_total",
                "Failed logins not counted because the same wrong password was repeated",
                s.forgiven,
            ),
            (
                "bruteforce_tolerated_total",
                "Bucket overflows a toleration let pass",
                s.tolerated,
            ),
            ("bruteforce_bans_total", "Brute-force bans started", s.bans),
            (
                "bruteforce_refused_in_flight_total",
                "Logins refused before verification because failures and attempts in flight filled a bucket",
                s.refused_in_flight,
            ),
            (
                "bruteforce_no_address_total",
                "Logins judged without a usable client address (counted per user name)",
                s.no_address,
            ),
        ] {
            self.counter(name, help, value);
        }
        for (rule, bans) in &s.rule_bans {
            self.counter_vec(
                "bruteforce_hits_total",
                "Brute-force bans started, per bucket",
                &[("bucket", rule)],
                *bans,
            );
        }
    }

    /// `backend_servers_status` as Nauthilus names it: `server_status="wanted"` counts the
    /// monitored servers, `"alive"` those whose last check passed; `backend_server_up` gives
    /// each server's own state (1 healthy, 0 not).
    fn backend_servers(&mut self, servers: &[(String, String, u16, bool)]) {
        let help = "Status of monitored backend servers";
        let alive = servers.iter().filter(|s| s.3).count();
        self.gauge_vec(
            "backend_servers_status",
            help,
            &[("server_status", "wanted")],
            gauge(servers.len()),
        );
        self.gauge_vec(
            "backend_servers_status",
            help,
            &[("server_status", "alive")],
            gauge(alive),
        );
        for (protocol, host, port, healthy) in servers {
            let port = port.to_string();
            self.gauge_vec(
                "backend_server_up",
                "Whether the last check of a monitored backend server passed (1) or not (0)",
                &[
                    ("protocol", protocol.as_str()),
                    ("host", host.as_str()),
                    ("port", port.as_str()),
                ],
                i64::from(*healthy),
            );
        }
    }

    fn ldap(&mut self, status: &nauthilus_backends::ldap::pool::PoolStatus) {
        let pool = status.name.as_str();
        for (kind, role) in [("lookup", &status.lookup), ("auth", &status.auth)] {
            let labels = [("pool", pool), ("type", kind)];
            self.gauge_vec("ldap_pool_size", "Size of LDAP pool", &labels, gauge(role.size));
            self.gauge_vec(
                "ldap_pool_connections_total",
                "Number of actively used connections in the LDAP pool",
                &labels,
                gauge(role.in_use),
            );
            self.gauge_vec(
                "ldap_idle_pool_size",
                "Open idle connections in the LDAP pool",
                &labels,
                gauge(role.idle),
            );
        }
        for server in &status.servers {
            let labels = [("pool", pool), ("target", server.url.as_str())];
            let (state, healthy) = match server.breaker {
                BreakerState::Closed { .. } => (0, 1),
                BreakerState::Open { .. } => (1, 0),
                BreakerState::HalfOpen { .. } => (2, 0),
            };
            self.gauge_vec(
                "ldap_breaker_state",
                "Circuit breaker state per LDAP target (0=closed,1=open,2=half-open)",
                &labels,
                state,
            );
            self.gauge_vec(
                "ldap_target_health",
                "LDAP target health status (1=healthy,0=unhealthy)",
                &labels,
                healthy,
            );
        }
    }
}

/// A count as a gauge value (counts never come near `i64::MAX`; saturate rather than wrap).
fn gauge(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use nauthilus_backends::password::PasswordVerifier;
    use nauthilus_config::Config;
    use nauthilus_core::{Pipeline, PipelineParts};
    use tower::ServiceExt;

    use super::*;

    async fn get_metrics(config: &Config, authorization: Option<&str>) -> (StatusCode, String) {
        let pipeline = Pipeline::new(PipelineParts::new(PasswordVerifier::new(1)));
        let app = crate::router(AppState::new(pipeline, config));
        let mut request = Request::get("/metrics");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn metrics_off_means_no_endpoint() {
        let mut config = Config::default();
        assert_eq!(get_metrics(&config, None).await.0, StatusCode::OK);
        config.server.metrics.enabled = false;
        assert_eq!(get_metrics(&config, None).await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn basic_credentials_are_checked_in_full() {
        let mut config = Config::default();
        config.server.metrics.basic_auth.username = "prom".into();
        config.server.metrics.basic_auth.password = "pw:with:colons".into();
        let basic = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        for wrong in [
            "prom:pw",
            "prom:pw:with:colon",
            "Prom:pw:with:colons",
            "prom",
            ":",
        ] {
            let (status, _) = get_metrics(&config, Some(&basic(wrong))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong}");
        }
        assert_eq!(
            get_metrics(&config, Some("Bearer x")).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (status, body) = get_metrics(&config, Some(&basic("prom:pw:with:colons"))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("# TYPE logins_total counter"), "{body}");
    }
}
