//! The server with Redis as its store: the positive cache and account mapping land where
//! Nauthilus puts them, instances share them, and Redis faults give temporary failures (never
//! OK) until Redis is back. Standalone, Cluster and Sentinel, all real (`nauthilus-testkit`).

use std::time::{Duration, Instant};

use nauthilus_testkit::{RedisServer, Reply, shared_redis, shared_redis_cluster, shared_redis_sentinel};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::{TestServer, fixtures, header};

const NONCE: &str = "it-nonce-0123456789abcdef";
const ALICE: &str = "alice@example.test";

fn users() -> String {
    std::fs::read_to_string(fixtures().join("users.passwd")).unwrap()
}

/// `server:` keys for a Redis store under `prefix`, with the in-process cache off so every
/// login reaches Redis.
fn redis_yaml(store: &str, prefix: &str) -> String {
    format!("redis:\n{store}\n  prefix: \"{prefix}\"\n  password_nonce: {NONCE}\n  positive_cache_ttl: 1h")
}

fn standalone(addr: &str) -> String {
    format!("  master: {{address: \"{addr}\"}}")
}

async fn login(s: &TestServer, password: &str) -> reqwest::Response {
    s.json(
        "",
        json!({"username": ALICE, "password": password, "protocol": "imap"}),
    )
    .await
}

fn digest(password: &str) -> String {
    let mut h = Sha256::new();
    h.update(NONCE.as_bytes());
    h.update([0u8]);
    h.update(password.as_bytes());
    hex::encode(h.finalize())[..8].to_owned()
}

fn hgetall(redis: &RedisServer, key: &str) -> Vec<(String, String)> {
    let Reply::Array(items) = redis.command(&["HGETALL", key]).unwrap() else {
        panic!("HGETALL {key}")
    };
    let text = |r: &Reply| match r {
        Reply::Bulk(b) => String::from_utf8(b.clone()).unwrap(),
        other => panic!("{other:?}"),
    };
    items.chunks(2).map(|p| (text(&p[0]), text(&p[1]))).collect()
}

fn field<'a>(hash: &'a [(String, String)], name: &str) -> &'a str {
    hash.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn integer(r: Reply) -> i64 {
    match r {
        Reply::Integer(n) => n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

async fn server_with(users: &str, redis: &str) -> TestServer {
    TestServer::with_users(users, redis, "local_cache_auth_ttl: 0").await
}

#[tokio::test]
async fn the_positive_cache_and_mapping_live_in_redis_in_the_nauthilus_layout() {
    let redis = shared_redis().unwrap();
    let prefix = "it-layout:";
    let s = server_with(&users(), &redis_yaml(&standalone(&redis.addr()), prefix)).await;
    assert_eq!(login(&s, "alice-secret").await.status(), 200);

    let key = format!("{prefix}ucp:__default__:{ALICE}");
    let hash = hgetall(redis, &key);
    assert_eq!(field(&hash, "backend"), "5");
    assert_eq!(field(&hash, "password"), digest("alice-secret"));
    assert_eq!(field(&hash, "account_field"), "user");
    assert_eq!(field(&hash, "display_name_field"), "gecos");
    let attributes: serde_json::Value = serde_json::from_str(field(&hash, "attributes")).unwrap();
    assert_eq!(attributes["mail"], json!([ALICE]));
    assert!(
        !hash.iter().any(|(_, v)| v.contains("alice-secret")),
        "the password is never stored"
    );
    let ttl = integer(redis.command(&["TTL", &key]).unwrap());
    assert!((3500..=3600).contains(&ttl), "TTL is positive_cache_ttl: {ttl}");

    let shard = format!("{prefix}user:{{{:02x}}}", crc32fast::hash(ALICE.as_bytes()) % 256);
    let mapped = redis
        .command(&["HGET", &shard, &format!("{ALICE}|imap|")])
        .unwrap();
    assert_eq!(mapped, Reply::Bulk(ALICE.as_bytes().to_vec()));
}

#[tokio::test]
async fn a_second_instance_answers_from_the_shared_cache() {
    let redis = shared_redis().unwrap();
    let yaml = redis_yaml(&standalone(&redis.addr()), "it-shared:");
    let a = server_with(&users(), &yaml).await;
    // Instance B's own passwd-file does not know alice: only the shared cache can answer.
    let b = server_with("someone@example.test:{PLAIN}x\n", &yaml).await;
    assert_eq!(login(&b, "alice-secret").await.status(), 403, "not cached yet");
    assert_eq!(login(&a, "alice-secret").await.status(), 200);
    let r = login(&b, "alice-secret").await;
    assert_eq!(r.status(), 200, "answered from Redis");
    assert_eq!(header(&r, "auth-user"), ALICE);
    assert_eq!(header(&r, "x-nauthilus-memory-cache"), "Miss");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["backend"], 5, "reports the backend that filled the cache");
    assert_eq!(
        login(&b, "wrong").await.status(),
        403,
        "a different password falls through to B's backend"
    );
    let r = b
        .json(
            "?cache=0",
            json!({"username": ALICE, "password": "alice-secret", "protocol": "imap"}),
        )
        .await;
    assert_eq!(r.status(), 403, "cache=0 skips the shared cache");
}

#[tokio::test]
async fn cache_flush_removes_the_users_keys_from_redis() {
    let redis = shared_redis().unwrap();
    let prefix = "it-flush:";
    let s = server_with(&users(), &redis_yaml(&standalone(&redis.addr()), prefix)).await;
    assert_eq!(login(&s, "alice-secret").await.status(), 200);
    let key = format!("{prefix}ucp:__default__:{ALICE}");
    assert_eq!(integer(redis.command(&["EXISTS", &key]).unwrap()), 1);
    let r = s
        .http
        .delete(s.url("/api/v1/cache/flush"))
        .json(&json!({"user": ALICE}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    let shard = format!("{prefix}user:{{{:02x}}}", crc32fast::hash(ALICE.as_bytes()) % 256);
    assert_eq!(body["result"]["removed_keys"], json!([key, shard]));
    assert_eq!(body["result"]["status"], "flushed");
    assert_eq!(integer(redis.command(&["EXISTS", &key]).unwrap()), 0);
    assert_eq!(
        redis
            .command(&["HGET", &shard, &format!("{ALICE}|imap|")])
            .unwrap(),
        Reply::Nil
    );
}

#[tokio::test]
async fn a_redis_cluster_holds_each_key_on_the_node_owning_its_slot() {
    let cluster = shared_redis_cluster().unwrap();
    let seeds = cluster
        .seed_addrs()
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let yaml = redis_yaml(&format!("  cluster: {{addresses: [{seeds}]}}"), "it-cluster:");
    let a = server_with(&users(), &yaml).await;
    let b = server_with("someone@example.test:{PLAIN}x\n", &yaml).await;
    assert_eq!(login(&a, "alice-secret").await.status(), 200);
    assert_eq!(
        login(&b, "alice-secret").await.status(),
        200,
        "B answers from the cluster"
    );
    let shard = format!(
        "it-cluster:user:{{{:02x}}}",
        crc32fast::hash(ALICE.as_bytes()) % 256
    );
    for key in [format!("it-cluster:ucp:__default__:{ALICE}"), shard] {
        // The owner answers EXISTS; every other node answers MOVED (an error).
        let holders: Vec<_> = cluster
            .nodes()
            .iter()
            .filter(|n| matches!(n.command(&["EXISTS", &key]), Ok(Reply::Integer(1))))
            .collect();
        assert_eq!(holders.len(), 1, "{key} on exactly one node");
        let slot = integer(holders[0].command(&["CLUSTER", "KEYSLOT", &key]).unwrap());
        let mine = integer(
            holders[0]
                .command(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()])
                .unwrap(),
        );
        assert!(mine >= 1, "the holder owns slot {slot}");
    }
}

#[tokio::test]
async fn sentinel_mode_finds_the_master_and_writes_there() {
    let set = shared_redis_sentinel().unwrap();
    let sentinels = set
        .sentinel_addrs()
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let yaml = redis_yaml(
        &format!(
            "  sentinels: {{master: {}, addresses: [{sentinels}]}}",
            set.master_name()
        ),
        "it-sentinel:",
    );
    let s = server_with(&users(), &yaml).await;
    assert_eq!(login(&s, "alice-secret").await.status(), 200);
    let key = format!("it-sentinel:ucp:__default__:{ALICE}");
    assert_eq!(integer(set.master().command(&["EXISTS", &key]).unwrap()), 1);
}

async fn eventually_ok(s: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if login(s, "alice-secret").await.status() == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_temporary_failure(s: &TestServer, password: &str) {
    let r = login(s, password).await;
    assert_eq!(r.status(), 500, "json: temporary failure");
    assert_eq!(
        header(&r, "auth-status"),
        "Temporary server problem, try again later"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Temporary server problem, try again later");
}

#[tokio::test]
async fn killing_redis_gives_only_temporary_failures_then_recovery() {
    let redis = RedisServer::start().unwrap();
    let s = server_with(&users(), &redis_yaml(&standalone(&redis.addr()), "it-kill:")).await;
    assert_eq!(login(&s, "alice-secret").await.status(), 200);

    // Kill Redis while requests are in flight.
    let load = {
        let http = s.http.clone();
        let url = s.url("/api/v1/auth/json");
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..200 {
                let body = json!({"username": ALICE, "password": "alice-secret", "protocol": "imap"});
                statuses.push(
                    http.post(&url)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16()),
                );
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    redis.stop().unwrap();
    let statuses = load.await.unwrap();
    assert!(
        statuses.iter().all(|s| matches!(s, Ok(200) | Ok(500))),
        "only OK (before) or temporary failures: {statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| matches!(s, Ok(500))),
        "some requests saw Redis gone"
    );

    // While Redis is down: temporary failures only, whatever the password, on every endpoint.
    for _ in 0..5 {
        assert_temporary_failure(&s, "alice-secret").await;
        assert_temporary_failure(&s, "wrong").await;
    }
    let smtp = [
        ("Auth-User", ALICE),
        ("Auth-Pass", "alice-secret"),
        ("Auth-Protocol", "smtp"),
    ];
    let r = s.get_with("/api/v1/auth/nginx", &smtp).await;
    assert_eq!(r.status(), 200, "nginx stays 200");
    assert_eq!(
        header(&r, "auth-status"),
        "Temporary server problem, try again later"
    );
    assert_eq!(header(&r, "auth-error-code"), "451 4.3.0");
    let r = s.get_with("/api/v1/auth/header", &smtp).await;
    assert_eq!(r.status(), 500);
    assert_eq!(
        s.http.get(s.url("/ping")).send().await.unwrap().status(),
        200,
        "the server itself stays up"
    );

    redis.start_again().unwrap();
    eventually_ok(&s).await;
}

#[tokio::test]
async fn the_server_starts_while_redis_is_down_and_recovers_when_it_comes() {
    let redis = RedisServer::start().unwrap();
    redis.stop().unwrap();
    let s = server_with(&users(), &redis_yaml(&standalone(&redis.addr()), "it-late:")).await;
    assert_temporary_failure(&s, "alice-secret").await;
    redis.start_again().unwrap();
    eventually_ok(&s).await;
}
