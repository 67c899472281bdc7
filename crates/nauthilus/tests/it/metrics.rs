//! `/metrics` (Prometheus text, parsed with a Prometheus text parser) and `/healthz` against
//! the real server, with the memory store and with a real Redis that is stopped and started.
//!
//! The registry is process-wide and other tests run in parallel in this process, so counters
//! recorded by the pipeline are compared as "grew by at least"; the brute-force counters belong
//! to one server's pipeline and are compared exactly.

use std::time::{Duration, Instant};

use base64::Engine;
use nauthilus_testkit::RedisServer;
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;

use crate::support::{TestServer, assert_error, header};

const RULES: &str = "brute_force:\n  buckets:\n    - {name: b24, period: 1h, cidr: 24, ipv4: true, failed_requests: 50, ban_time: 1h}\n";

pub async fn scrape(s: &TestServer) -> (String, Scrape) {
    let r = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        header(&r, "content-type").starts_with("text/plain; version=0.0.4"),
        "{}",
        header(&r, "content-type")
    );
    let text = r.text().await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (text, parsed)
}

/// The sum of the samples of `metric` whose labels include `labels` (counters, gauges,
/// untyped; for a histogram its observation count).
pub fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    if matching.is_empty() {
        return None;
    }
    Some(
        matching
            .iter()
            .map(|s| match &s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                Value::Histogram(buckets) => buckets
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map_or(0.0, |b| b.count),
                Value::Summary(_) => 0.0,
            })
            .sum(),
    )
}

pub fn get(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    value(scrape, metric, labels).unwrap_or_else(|| panic!("{metric}{labels:?} missing"))
}

async fn login(s: &TestServer, user: &str, password: &str, ip: Option<&str>) -> u16 {
    let mut body = json!({"username": user, "password": password, "protocol": "imap"});
    if let Some(ip) = ip {
        body["client_ip"] = json!(ip);
    }
    s.json("", body).await.status().as_u16()
}

#[tokio::test]
async fn metrics_counters_move_after_logins_and_failures_and_parse_as_prometheus_text() {
    let s = TestServer::with_config("features: [brute_force]", RULES).await;
    let (_, before) = scrape(&s).await;

    assert_eq!(
        login(&s, "alice@example.test", "alice-secret", Some("192.0.2.10")).await,
        200
    );
    assert_eq!(
        login(&s, "alice@example.test", "alice-secret", Some("192.0.2.10")).await,
        200
    );
    for i in 0..3 {
        let wrong = format!("wrong-{i}");
        assert_eq!(
            login(&s, "alice@example.test", &wrong, Some("192.0.2.11")).await,
            403
        );
    }
    assert_eq!(login(&s, "nobody@example.test", "x", None).await, 403);
    let (text, after) = scrape(&s).await;

    let grew = |metric: &str, labels: &[(&str, &str)]| {
        get(&after, metric, labels) - value(&before, metric, labels).unwrap_or(0.0)
    };
    assert!(grew("logins_total", &[("logins", "success")]) >= 2.0, "{text}");
    assert!(grew("logins_total", &[("logins", "failure")]) >= 4.0, "{text}");
    assert!(grew("accepted_protocols_total", &[("protocol", "imap")]) >= 2.0);
    assert!(grew("rejected_protocols_total", &[("protocol", "imap")]) >= 4.0);
    assert!(grew("http_requests_total", &[("path", "/api/v1/auth/json")]) >= 6.0);
    assert!(grew("http_response_time_seconds", &[("path", "/api/v1/auth/json")]) >= 6.0);
    let auth = |outcome| [("transport", "http"), ("outcome", outcome), ("protocol", "imap")];
    assert!(grew("authentication_response_time_seconds", &auth("ok")) >= 2.0);
    assert!(grew("authentication_response_time_seconds", &auth("fail")) >= 4.0);
    // The second right login is answered by the in-process cache; every login asked one.
    assert!(grew("cache_hits_total", &[]) >= 1.0, "{text}");
    assert!(grew("cache_misses_total", &[]) >= 1.0, "{text}");

    // This server's brute-force counters: six judged logins (the unknown user's without an
    // address), four failures counted.
    assert!(get(&after, "bruteforce_checks_total", &[]) >= 6.0, "{text}");
    assert_eq!(get(&after, "bruteforce_counted_total", &[]), 4.0, "{text}");
    assert_eq!(get(&after, "bruteforce_no_address_total", &[]), 1.0, "{text}");
    assert_eq!(get(&after, "bruteforce_refused_in_flight_total", &[]), 0.0);
    assert_eq!(get(&after, "bruteforce_rejected_total", &[]), 0.0);
    assert_eq!(get(&after, "bruteforce_hits_total", &[("bucket", "b24")]), 0.0);

    // Process, concurrency, logging and version metrics are there.
    assert!(get(&after, "process_resident_memory_bytes", &[]) > 0.0, "{text}");
    assert!(
        get(&after, "server_concurrent_requests", &[]) >= 1.0,
        "the scrape itself"
    );
    assert!(value(&after, "log_lines_dropped_total", &[]).is_some(), "{text}");
    assert_eq!(
        get(
            &after,
            "nauthilus_version_info",
            &[("instance_name", "nauthilus")]
        ),
        1.0
    );
    // Memory store: no Redis pool metrics.
    assert!(value(&after, "redis_pool_total_connections", &[]).is_none());
    // The client's protocol is a label only when it is a known one.
    assert_eq!(
        login_with_protocol(&s, "x-\"evil\"\nproto").await,
        200,
        "an odd protocol still logs in"
    );
    let (text, _) = scrape(&s).await;
    assert!(
        !text.contains("evil"),
        "client text must not become a label: {text}"
    );
}

async fn login_with_protocol(s: &TestServer, protocol: &str) -> u16 {
    s.json(
        "",
        json!({"username": "alice@example.test", "password": "alice-secret", "protocol": protocol}),
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn metrics_can_require_basic_credentials() {
    let s = TestServer::with_config(
        "metrics:\n  basic_auth: {username: prom, password: scrape-secret-1}",
        "",
    )
    .await;
    let basic = |user_pass: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    };
    let r = s.get_with("/metrics", &[]).await;
    assert!(header(&r, "www-authenticate").starts_with("Basic"));
    assert_error(r, 401).await;
    let wrong = basic("prom:wrong");
    assert_error(s.get_with("/metrics", &[("authorization", &wrong)]).await, 401).await;
    let right = basic("prom:scrape-secret-1");
    let r = s.get_with("/metrics", &[("authorization", &right)]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("logins_total"));
    // /ping and /healthz stay open.
    assert_eq!(s.get_with("/ping", &[]).await.status(), 200);
    assert_eq!(s.get_with("/healthz", &[]).await.status(), 200);
}

async fn healthz(s: &TestServer) -> (u16, serde_json::Value) {
    let r = s.get_with("/healthz", &[]).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn healthz_is_up_with_the_memory_store() {
    let s = TestServer::start().await;
    let (status, body) = healthz(&s).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "up");
    assert_eq!(body["checks"]["store"]["status"], "up", "{body}");
    assert_eq!(body["checks"]["store"]["meta"]["kind"], "memory", "{body}");
}

/// Polls `/healthz` until it answers `want` (Redis reconnects in the background).
async fn healthz_until(s: &TestServer, want: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = healthz(s).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never answered {want}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn healthz_follows_redis_down_and_up_again() {
    let redis = RedisServer::start().unwrap();
    let store = format!(
        "redis:\n  master: {{address: \"{}\"}}\n  prefix: \"it-health:\"\n  password_nonce: it-nonce-0123456789abcdef",
        redis.addr()
    );
    let s = TestServer::with_config(&store, "").await;
    let body = healthz_until(&s, 200).await;
    assert_eq!(body["checks"]["redis"]["status"], "up", "{body}");
    let (_, scraped) = scrape(&s).await;
    assert!(
        get(
            &scraped,
            "redis_pool_total_connections",
            &[("pool_name", "default")]
        ) >= 1.0
    );

    redis.stop().unwrap();
    let body = healthz_until(&s, 503).await;
    assert_eq!(body["status"], "down", "{body}");
    assert_eq!(body["checks"]["redis"]["status"], "down", "{body}");
    assert!(
        body["checks"]["redis"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );

    redis.start_again().unwrap();
    let body = healthz_until(&s, 200).await;
    assert_eq!(body["checks"]["redis"]["status"], "up", "{body}");
    let (_, scraped) = scrape(&s).await;
    assert!(
        get(
            &scraped,
            "redis_connection_misses_total",
            &[("pool_name", "default")]
        ) >= 1.0
    );
}

/// A loopback URL where nothing listens.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("ldap://127.0.0.1:{port}")
}

async fn ldap_server(servers: &[String]) -> TestServer {
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [ldap]\n  log: {{level: error}}\nlocal_cache_auth_ttl: 0\nldap:\n  config:\n{}  search:\n{}",
        crate::ldap::pool(servers, "    cb_failure_threshold: 1\n    cb_cooldown: 1h\n"),
        crate::ldap::imap_search()
    );
    TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await
}

#[tokio::test]
async fn healthz_and_metrics_show_the_ldap_pool_and_its_breakers() {
    let slapd = nauthilus_testkit::shared_slapd().unwrap();
    let dead = dead_url();
    let s = ldap_server(&[dead.clone(), slapd.url()]).await;
    // The pool may already have tried the dead server in the background (then "degraded");
    // either way the service answers 200 while one server is up.
    let (status, body) = healthz(&s).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        ["up", "degraded"].contains(&body["checks"]["ldap"]["status"].as_str().unwrap_or("")),
        "{body}"
    );

    // The dead first server fails over to slapd and its breaker opens: degraded, still 200.
    assert_eq!(login(&s, "alice", "alice-secret", Some("192.0.2.7")).await, 200);
    let (status, body) = healthz(&s).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(
        body["checks"]["ldap"]["meta"]["servers_down"],
        json!([dead]),
        "{body}"
    );
    let (text, scraped) = scrape(&s).await;
    let up = slapd.url();
    assert_eq!(
        get(
            &scraped,
            "ldap_breaker_state",
            &[("pool", "default"), ("target", &dead)]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        get(
            &scraped,
            "ldap_target_health",
            &[("pool", "default"), ("target", &up)]
        ),
        1.0
    );
    assert!(
        get(
            &scraped,
            "ldap_pool_size",
            &[("pool", "default"), ("type", "auth")]
        ) >= 1.0
    );

    // Every server down: 503.
    let s = ldap_server(&[dead_url(), dead_url()]).await;
    assert_eq!(login(&s, "alice", "alice-secret", Some("192.0.2.7")).await, 500);
    let (status, body) = healthz(&s).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["ldap"]["status"], "down", "{body}");
}

/// The metric names a PromQL expression selects (`name{...}`).
fn selected_metrics(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in expr.match_indices('{') {
        let name: String = expr[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !name.is_empty() && name != "by" {
            names.push(name);
        }
    }
    names
}

#[tokio::test]
async fn every_metric_the_grafana_dashboard_queries_is_exported() {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/grafana-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut wanted = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            wanted.extend(selected_metrics(target["expr"].as_str().unwrap()));
        }
    }
    assert!(wanted.len() > 20, "{wanted:?}");

    // A server with every kind of service: Redis store, brute force, an LDAP pool.
    let redis = nauthilus_testkit::shared_redis().unwrap();
    let slapd = nauthilus_testkit::shared_slapd().unwrap();
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [ldap]\n  features: [brute_force]\n  log: {{level: error}}\n  redis:\n    master: {{address: \"{}\"}}\n    prefix: \"it-dash:\"\n    password_nonce: it-nonce-0123456789abcdef\nldap:\n  config:\n{}  search:\n{}{RULES}",
        redis.addr(),
        crate::ldap::pool(&[slapd.url()], ""),
        crate::ldap::imap_search()
    );
    let s = TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await;
    assert_eq!(login(&s, "alice", "alice-secret", Some("192.0.2.30")).await, 200);
    let (text, _) = scrape(&s).await;
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|name| {
            !text
                .lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics /metrics lacks: {missing:?}"
    );
}
