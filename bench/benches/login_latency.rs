//! Login latency, measured two ways in one run:
//!
//! * `server`: the pipeline called directly (no HTTP, no client) — the server-side cost of an
//!   in-process cache hit, a positive-cache hit in a real Redis, a positive-cache hit in the
//!   embedded store, and a passwd-file check;
//! * `http`: the same logins through a real socket, against `GET /ping` of the same server as
//!   the bare-endpoint baseline.
//!
//! Run: `cargo bench -p nauthilus-bench` (needs `redis-server`; a private one is started).
#![allow(clippy::disallowed_methods)]
// A benchmark harness, like a test: a setup that fails should stop the run loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::SystemTime;

use criterion::Criterion;
use nauthilus::RunningServer;
use nauthilus_bench::{Row, criterion_dir, print_summary};
use nauthilus_core::{AuthRequest, Password, Protocol, Service, SessionId};
use nauthilus_testkit::RedisServer;

// alice@example.test / alice-secret ({SSHA256}, made by doveadm pw).
const USERS: &str = "alice@example.test:{SSHA256}R5jGdFZfOruhMlcRnrzDes1/d929GI05XMMyRDVVthjCR8w9:1000:1000::/home/alice::mail=alice@example.test\n";

async fn server(dir: &std::path::Path, extra: &str) -> RunningServer {
    std::fs::write(dir.join("users"), USERS).expect("write users");
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [cache, passwd_file]\n  log: {{level: error}}\n{extra}\npasswd_file: {{path: users}}\n"
    );
    let path = dir.join("nauthilus.yml");
    std::fs::write(&path, yaml).expect("write config");
    let loaded = nauthilus_config::load_file(&path, Vec::new()).expect("config");
    nauthilus::start(&loaded.config).await.expect("server starts")
}

fn request(memory: bool) -> AuthRequest {
    let mut r = AuthRequest::new(
        SessionId::new(SystemTime::now()),
        Service::Json,
        "alice@example.test".into(),
        Password::from("alice-secret"),
    );
    r.protocol = Protocol::new("imap");
    r.cache_policy.use_memory_cache = memory;
    r
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let redis = RedisServer::start().expect("redis-server (apt-get install redis-server)");
    let dirs = [
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    ];
    let redis_conf = format!(
        "  redis:\n    master: {{address: \"{}\"}}\n    password_nonce: bench-nonce-0123456789",
        redis.addr()
    );
    let (embedded, with_redis) = rt.block_on(async {
        (
            server(dirs[0].path(), "").await,
            server(dirs[1].path(), &redis_conf).await,
        )
    });
    let http = reqwest::Client::new();
    let body =
        serde_json::json!({"username": "alice@example.test", "password": "alice-secret", "protocol": "imap"});
    // Warm both caches (in-process and Redis).
    rt.block_on(async {
        for s in [&embedded, &with_redis] {
            let r = http
                .post(format!("{}/api/v1/auth/json", s.url()))
                .json(&body)
                .send()
                .await
                .expect("warm");
            assert_eq!(r.status(), 200, "warm-up login");
        }
    });

    let dir = criterion_dir();
    let mut c = Criterion::default().output_directory(&dir).configure_from_args();
    {
        let mut g = c.benchmark_group("server");
        let (mem_config, redis_config) = (embedded.state.current(), with_redis.state.current());
        let p_mem = &mem_config.pipeline;
        let p_redis = &redis_config.pipeline;
        g.bench_function("memory_hit", |b| {
            b.to_async(&rt).iter(|| async {
                assert!(
                    p_mem
                        .authenticate(&request(true), SystemTime::now())
                        .await
                        .memory_cache_hit
                )
            })
        });
        g.bench_function("redis_positive_cache_hit", |b| {
            b.to_async(&rt).iter(|| async {
                assert!(
                    p_redis
                        .authenticate(&request(false), SystemTime::now())
                        .await
                        .is_ok()
                )
            })
        });
        g.bench_function("embedded_positive_cache_hit", |b| {
            b.to_async(&rt).iter(|| async {
                assert!(
                    p_mem
                        .authenticate(&request(false), SystemTime::now())
                        .await
                        .is_ok()
                )
            })
        });
        g.bench_function("passwd_file_ssha256", |b| {
            b.to_async(&rt).iter(|| async {
                let mut r = request(false);
                r.cache_policy.use_positive_cache = false;
                assert!(p_mem.authenticate(&r, SystemTime::now()).await.is_ok())
            })
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("http");
        let ping = format!("{}/ping", embedded.url());
        let json_mem = format!("{}/api/v1/auth/json", embedded.url());
        let json_redis = format!("{}/api/v1/auth/json?in-memory=0", with_redis.url());
        g.bench_function("ping", |b| {
            b.to_async(&rt)
                .iter(|| async { assert_eq!(http.get(&ping).send().await.expect("ping").status(), 200) })
        });
        g.bench_function("json_memory_hit", |b| {
            b.to_async(&rt).iter(|| async {
                assert_eq!(
                    http.post(&json_mem)
                        .json(&body)
                        .send()
                        .await
                        .expect("login")
                        .status(),
                    200
                )
            })
        });
        g.bench_function("json_redis_positive_cache_hit", |b| {
            b.to_async(&rt).iter(|| async {
                assert_eq!(
                    http.post(&json_redis)
                        .json(&body)
                        .send()
                        .await
                        .expect("login")
                        .status(),
                    200
                )
            })
        });
        g.finish();
    }
    c.final_summary();

    let server_rows = [
        Row {
            group: "server",
            id: "redis_positive_cache_hit",
            label: "positive-cache hit in Redis",
        },
        Row {
            group: "server",
            id: "embedded_positive_cache_hit",
            label: "positive-cache hit in the embedded store",
        },
        Row {
            group: "server",
            id: "passwd_file_ssha256",
            label: "passwd-file, {SSHA256}",
        },
    ];
    print_summary(
        &dir,
        "server-side latency (pipeline only), baseline = in-process cache hit",
        &Row {
            group: "server",
            id: "memory_hit",
            label: "in-process cache hit",
        },
        &server_rows,
    );
    let http_rows = [
        Row {
            group: "http",
            id: "json_memory_hit",
            label: "POST /auth/json, in-process cache hit",
        },
        Row {
            group: "http",
            id: "json_redis_positive_cache_hit",
            label: "POST /auth/json?in-memory=0, Redis cache hit",
        },
    ];
    print_summary(
        &dir,
        "over HTTP (loopback), baseline = GET /ping of the same server",
        &Row {
            group: "http",
            id: "ping",
            label: "GET /ping",
        },
        &http_rows,
    );
    drop(redis);
}
