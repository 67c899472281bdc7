//! The process' Prometheus metrics, under the names Nauthilus uses where it has them
//! (`logins_total`, `authentication_response_time_seconds`, `cache_hits_total`, ...).
//!
//! One registry for the whole process (counters outlive reloads). Recording is a few relaxed
//! atomic operations on handles resolved once here, for every label set the code can produce
//! (the outcomes, a fixed list of protocols, the fixed endpoints): nothing on a request's path
//! allocates, hashes label values or takes a lock. Values that other parts of the process own
//! (brute-force counters, LDAP pools, the Redis pool) are read when `/metrics` is scraped, not
//! recorded here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

use crate::outcome::{AuthOutcome, Decision};
use crate::request::AuthRequest;

/// Buckets of the authentication histogram (seconds): fine below 50 ms, where logins from
/// caches land, coarse up to 5 s.
const AUTH_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5,
    5.0,
];

/// Protocols with their own label value; any other is `other`.
pub const PROTOCOLS: &[&str] = &[
    "default",
    "imap",
    "pop3",
    "smtp",
    "submission",
    "lmtp",
    "sieve",
    "managesieve",
    "http",
    "https",
    "ftp",
    "other",
];

/// The `outcome` label values, in [`Outcome`] order.
const OUTCOMES: [&str; 3] = ["ok", "fail", "tempfail"];

/// The endpoints `http_requests_total` and `http_response_time_seconds` name by path; any
/// other path (a 404) is `other`.
pub const HTTP_PATHS: &[&str] = &[
    "/api/v1/auth/json",
    "/api/v1/auth/header",
    "/api/v1/auth/nginx",
    "/api/v1/auth/saslauthd",
    "/api/v1/auth/basic",
    "/api/v1/cache/flush",
    "/api/v1/bruteforce/list",
    "/api/v1/bruteforce/flush",
    "/api/v1/jwt/token",
    "/api/v1/jwt/refresh",
    "/ping",
    "/metrics",
    "/healthz",
    "other",
];

/// How a login ended, as metrics count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok = 0,
    Fail = 1,
    TempFail = 2,
}

/// The process' metrics.
pub struct Metrics {
    registry: Registry,
    enabled: AtomicBool,
    /// `logins_total{logins="success"}` and `{logins="failure"}`.
    logins: [IntCounter; 2],
    /// `accepted_protocols_total` / `rejected_protocols_total`, per [`PROTOCOLS`] entry.
    accepted: Vec<IntCounter>,
    rejected: Vec<IntCounter>,
    /// `authentication_response_time_seconds{transport="http",outcome,protocol}`, indexed
    /// `[outcome][protocol]`.
    auth_time: [Vec<Histogram>; 3],
    cache_hits: IntCounter,
    cache_misses: IntCounter,
    /// `server_concurrent_requests`.
    pub concurrent_requests: IntGauge,
    /// Per [`HTTP_PATHS`] entry.
    http_requests: Vec<IntCounter>,
    http_time: Vec<Histogram>,
    log_drops: OnceLock<Arc<dyn Fn() -> u64 + Send + Sync>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process' metrics.
pub fn global() -> &'static Metrics {
    &METRICS
}

/// Registers `collector` in `registry`; the names are fixed here, so a clash is a bug that a
/// test catches, and a failed registration only leaves that metric out.
fn register<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, collector: &C) {
    register_boxed(registry, Box::new(collector.clone()));
}

fn register_boxed(registry: &Registry, collector: Box<dyn prometheus::core::Collector>) {
    if let Err(e) = registry.register(collector) {
        tracing::error!(error = %e, "metric not registered");
    }
}

fn counter_vec(registry: &Registry, name: &str, help: &str, label: &str) -> Option<IntCounterVec> {
    let vec = IntCounterVec::new(Opts::new(name, help), &[label]).ok()?;
    register(registry, &vec);
    Some(vec)
}

/// One counter per value of `values` (an unregistered one when the family could not be built).
fn resolve_counters(vec: Option<&IntCounterVec>, values: &[&str]) -> Vec<IntCounter> {
    values
        .iter()
        .map(|v| {
            vec.and_then(|vec| vec.get_metric_with_label_values(&[v]).ok())
                .unwrap_or_else(orphan_counter)
        })
        .collect()
}

#[allow(clippy::expect_used)]
fn orphan_counter() -> IntCounter {
    // A constant, valid name: cannot fail.
    IntCounter::new("orphan", "unregistered").expect("valid metric name")
}

#[allow(clippy::expect_used)]
fn orphan_histogram() -> Histogram {
    Histogram::with_opts(HistogramOpts::new("orphan", "unregistered")).expect("valid metric name")
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        register_boxed(
            &registry,
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        );
        let logins = counter_vec(
            &registry,
            "logins_total",
            "Number of failed and successful login attempts.",
            "logins",
        );
        let [success, failure]: [IntCounter; 2] = resolve_counters(logins.as_ref(), &["success", "failure"])
            .try_into()
            .unwrap_or_else(|_| [orphan_counter(), orphan_counter()]);
        let accepted = counter_vec(
            &registry,
            "accepted_protocols_total",
            "The total number of acceptances per protocol",
            "protocol",
        );
        let rejected = counter_vec(
            &registry,
            "rejected_protocols_total",
            "The total number of rejects per protocol",
            "protocol",
        );
        let auth_time = HistogramVec::new(
            HistogramOpts::new(
                "authentication_response_time_seconds",
                "Duration of authentication requests at the transport response boundary.",
            )
            .buckets(AUTH_BUCKETS.to_vec()),
            &["transport", "outcome", "protocol"],
        )
        .ok();
        if let Some(h) = &auth_time {
            register(&registry, h);
        }
        let auth_time = OUTCOMES.map(|outcome| {
            PROTOCOLS
                .iter()
                .map(|p| {
                    auth_time
                        .as_ref()
                        .and_then(|h| h.get_metric_with_label_values(&["http", outcome, p]).ok())
                        .unwrap_or_else(orphan_histogram)
                })
                .collect()
        });
        let simple = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).unwrap_or_else(|_| orphan_counter());
            register(&registry, &c);
            c
        };
        let cache_hits = simple("cache_hits_total", "The total number of cache hits");
        let cache_misses = simple("cache_misses_total", "The total number of cache misses");
        let concurrent_requests = IntGauge::new("server_concurrent_requests", "Number of current requests.")
            .unwrap_or_else(|_| orphan_gauge());
        register(&registry, &concurrent_requests);
        let http_requests = counter_vec(
            &registry,
            "http_requests_total",
            "Number of HTTP requests.",
            "path",
        );
        let http_time = HistogramVec::new(
            HistogramOpts::new("http_response_time_seconds", "Duration of HTTP requests."),
            &["path"],
        )
        .ok();
        if let Some(h) = &http_time {
            register(&registry, h);
        }
        let http_time = HTTP_PATHS
            .iter()
            .map(|p| {
                http_time
                    .as_ref()
                    .and_then(|h| h.get_metric_with_label_values(&[p]).ok())
                    .unwrap_or_else(orphan_histogram)
            })
            .collect();
        Self {
            logins: [success, failure],
            accepted: resolve_counters(accepted.as_ref(), PROTOCOLS),
            rejected: resolve_counters(rejected.as_ref(), PROTOCOLS),
            auth_time,
            cache_hits,
            cache_misses,
            concurrent_requests,
            http_requests: resolve_counters(http_requests.as_ref(), HTTP_PATHS),
            http_time,
            registry,
            enabled: AtomicBool::new(true),
            log_drops: OnceLock::new(),
        }
    }

    /// Turns recording on or off (`server.metrics.enabled`); on by default.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// True when recording is on.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The registry with every metric recorded here (scrape-time values are added by the
    /// exporter).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Names where the count of log lines the background writer dropped is read (the first
    /// call wins).
    pub fn set_log_drop_source(&self, source: Arc<dyn Fn() -> u64 + Send + Sync>) {
        let _ = self.log_drops.set(source);
    }

    /// Log lines dropped so far because the log writer's queue was full.
    pub fn log_lines_dropped(&self) -> u64 {
        self.log_drops.get().map_or(0, |f| f())
    }

    /// Counts one finished login (or `no-auth` lookup) of `req` that took `elapsed`.
    pub fn record_auth(&self, req: &AuthRequest, outcome: &AuthOutcome, elapsed: Duration) {
        if !self.enabled() {
            return;
        }
        let result = match outcome.decision {
            Decision::Ok(_) => Outcome::Ok,
            Decision::Fail(_) => Outcome::Fail,
            Decision::TempFail(_) => Outcome::TempFail,
        };
        let protocol = protocol_index(req.protocol.as_str());
        match result {
            Outcome::Ok => {
                self.logins[0].inc();
                if let Some(c) = self.accepted.get(protocol) {
                    c.inc();
                }
            }
            Outcome::Fail => {
                self.logins[1].inc();
                if let Some(c) = self.rejected.get(protocol) {
                    c.inc();
                }
            }
            Outcome::TempFail => {}
        }
        if let Some(h) = self.auth_time[result as usize].get(protocol) {
            h.observe(elapsed.as_secs_f64());
        }
    }

    /// Counts whether a cache answered a login that asked one.
    pub fn record_cache(&self, hit: bool) {
        if !self.enabled() {
            return;
        }
        if hit {
            self.cache_hits.inc();
        } else {
            self.cache_misses.inc();
        }
    }

    /// Counts one HTTP request to `path` that took `elapsed`.
    pub fn record_http(&self, path: usize, elapsed: Duration) {
        if let Some(c) = self.http_requests.get(path) {
            c.inc();
        }
        if let Some(h) = self.http_time.get(path) {
            h.observe(elapsed.as_secs_f64());
        }
    }
}

#[allow(clippy::expect_used)]
fn orphan_gauge() -> IntGauge {
    IntGauge::new("orphan", "unregistered").expect("valid metric name")
}

/// The [`PROTOCOLS`] index of `protocol` (already lower-cased), `other` when not listed.
fn protocol_index(protocol: &str) -> usize {
    PROTOCOLS
        .iter()
        .position(|p| *p == protocol)
        .unwrap_or(PROTOCOLS.len() - 1)
}

/// The [`HTTP_PATHS`] index of a request path, `other` when not listed.
pub fn http_path_index(path: &str) -> usize {
    HTTP_PATHS
        .iter()
        .position(|p| *p == path)
        .unwrap_or(HTTP_PATHS.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixed_label_set_is_resolved_and_registered() {
        let m = global();
        assert_eq!(m.accepted.len(), PROTOCOLS.len());
        assert_eq!(m.http_requests.len(), HTTP_PATHS.len());
        let names: Vec<String> = m
            .registry()
            .gather()
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        for name in [
            "logins_total",
            "accepted_protocols_total",
            "rejected_protocols_total",
            "authentication_response_time_seconds",
            "cache_hits_total",
            "cache_misses_total",
            "server_concurrent_requests",
            "http_requests_total",
            "http_response_time_seconds",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n == "orphan"), "{names:?}");
    }

    #[test]
    fn unknown_protocols_and_paths_fall_into_other() {
        assert_eq!(PROTOCOLS[protocol_index("x-evil\nproto")], "other");
        assert_eq!(PROTOCOLS[protocol_index("imap")], "imap");
        assert_eq!(
            HTTP_PATHS[http_path_index("/api/v1/auth/json")],
            "/api/v1/auth/json"
        );
        assert_eq!(HTTP_PATHS[http_path_index("/nope")], "other");
    }
}
