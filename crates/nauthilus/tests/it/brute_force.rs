//! Brute-force protection over HTTP, with state in process and in a real Redis: bursts ban,
//! repeated stale passwords do not, the list and flush APIs show and lift bans with the real
//! keys, and a Redis outage fails closed.

use nauthilus_testkit::{RedisServer, Reply, shared_redis, shared_redis_cluster};
use serde_json::{Value, json};

use crate::support::{TestServer, assert_error, header};

const NONCE: &str = "it-nonce-0123456789abcdef";
const ALICE: &str = "alice@example.test";
const SECRET: &str = "alice-secret";

const RULES: &str = "brute_force:\n  buckets:\n    - {name: b24, period: 1h, cidr: 24, ipv4: true, failed_requests: 5, ban_time: 1h}\n    - {name: imap64, period: 1h, cidr: 64, ipv6: true, failed_requests: 3, filter_by_protocol: [imap]}\n";

/// Where the state lives: in process, or in the shared Redis (or Redis Cluster) under a prefix
/// of the test's own.
#[derive(Clone, Copy, Debug)]
enum State {
    Memory,
    Redis(&'static str),
    Cluster(&'static str),
}

async fn server(state: State, rules: &str) -> TestServer {
    let store = match state {
        State::Memory => String::new(),
        State::Redis(prefix) => {
            let redis = shared_redis().unwrap();
            format!(
                "redis:\n  master: {{address: \"{}\"}}\n  prefix: \"{prefix}\"\n  password_nonce: {NONCE}\n",
                redis.addr()
            )
        }
        State::Cluster(prefix) => {
            let seeds: Vec<String> = shared_redis_cluster()
                .unwrap()
                .seed_addrs()
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect();
            format!(
                "redis:\n  cluster: {{addresses: [{}]}}\n  prefix: \"{prefix}\"\n  password_nonce: {NONCE}\n",
                seeds.join(", ")
            )
        }
    };
    // The in-process cache stays on: a ban must win over a cached login too.
    TestServer::with_config(&format!("features: [brute_force]\n{store}"), rules).await
}

fn prefix(state: State) -> &'static str {
    match state {
        State::Memory => "nauthilus:",
        State::Redis(p) | State::Cluster(p) => p,
    }
}

async fn login(s: &TestServer, ip: &str, password: &str, protocol: &str) -> reqwest::Response {
    s.json(
        "",
        json!({"username": ALICE, "password": password, "client_ip": ip, "protocol": protocol}),
    )
    .await
}

async fn status(s: &TestServer, ip: &str, password: &str) -> u16 {
    login(s, ip, password, "imap").await.status().as_u16()
}

async fn list(s: &TestServer, filter: Option<Value>) -> Value {
    let mut req = s.http.post(s.url("/api/v1/bruteforce/list"));
    if let Some(f) = filter {
        req = req.json(&f);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "bruteforce");
    assert_eq!(body["operation"], "list");
    body["result"].clone()
}

async fn flush(s: &TestServer, body: Value) -> reqwest::Response {
    s.http
        .delete(s.url("/api/v1/bruteforce/flush"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn redis_exists(key: &str) -> bool {
    matches!(
        shared_redis().unwrap().command(&["EXISTS", key]).unwrap(),
        Reply::Integer(1)
    )
}

async fn burst_bans_the_network(state: State) {
    let s = server(state, RULES).await;
    assert_eq!(
        status(&s, "192.0.2.10", SECRET).await,
        200,
        "a good login first (now cached)"
    );
    for i in 0..5 {
        assert_eq!(status(&s, "192.0.2.10", &format!("guess-{i}")).await, 403);
    }
    let r = login(&s, "192.0.2.10", SECRET, "imap").await;
    assert_eq!(
        r.status(),
        403,
        "{state:?}: the right password fails from a banned network"
    );
    assert_eq!(header(&r, "auth-status"), "Invalid login or password");
    assert_eq!(
        status(&s, "192.0.2.77", SECRET).await,
        403,
        "the whole /24 is banned"
    );
    assert_eq!(
        status(&s, "198.51.100.1", SECRET).await,
        200,
        "other networks are not"
    );

    let nginx = s
        .get_with(
            "/api/v1/auth/nginx",
            &[
                ("Auth-User", ALICE),
                ("Auth-Pass", SECRET),
                ("Auth-Protocol", "imap"),
                ("Auth-Login-Attempt", "20"),
                ("Client-IP", "192.0.2.10"),
            ],
        )
        .await;
    assert_eq!(nginx.status(), 200, "nginx always gets 200");
    assert_eq!(header(&nginx, "auth-status"), "Invalid login or password");
    assert_eq!(header(&nginx, "auth-wait"), "4", "floor(10 · tanh(0.03 · 15))");

    let result = list(&s, None).await;
    assert_eq!(
        result[0]["ip_addresses"],
        json!({"192.0.2.0/24": "b24"}),
        "{state:?}"
    );
    assert_eq!(result[0]["error"], "none");
    assert_eq!(
        result[1]["accounts"][ALICE],
        json!(["192.0.2.10"]),
        "{state:?}: {result}"
    );
    let filtered = list(&s, Some(json!({"ip_addresses": ["203.0.113.1"], "accounts": []}))).await;
    assert_eq!(filtered[0]["ip_addresses"], json!({}));

    let p = prefix(state);
    let bucket = format!("{p}bf:3600:24:5:4:192.0.2.0/24");
    let ban = format!("{p}bf:ban:192.0.2.0/24");
    if let State::Redis(_) = state {
        assert!(redis_exists(&bucket), "bucket key in Redis");
        assert!(redis_exists(&ban), "ban key in Redis");
    }
    let r = flush(&s, json!({"ip_address": "192.0.2.10", "rule_name": "*"})).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "bruteforce");
    assert_eq!(body["operation"], "flush");
    assert_eq!(body["result"]["status"], "flushed");
    let removed: Vec<String> = serde_json::from_value(body["result"]["removed_keys"].clone()).unwrap();
    assert!(removed.contains(&bucket) && removed.contains(&ban), "{removed:?}");
    if let State::Redis(_) = state {
        assert!(!redis_exists(&ban), "the ban is gone from Redis");
    }
    assert_eq!(
        status(&s, "192.0.2.10", SECRET).await,
        200,
        "{state:?}: flushed, the login works again"
    );
    assert_eq!(list(&s, None).await[0]["ip_addresses"], json!({}));
}

#[tokio::test]
async fn a_burst_of_wrong_passwords_bans_the_network_until_flushed_in_memory() {
    burst_bans_the_network(State::Memory).await;
}

#[tokio::test]
async fn a_burst_of_wrong_passwords_bans_the_network_until_flushed_in_redis() {
    burst_bans_the_network(State::Redis("itbf1:")).await;
}

#[tokio::test]
async fn brute_force_works_in_a_redis_cluster_one_key_per_command() {
    // Any multi-key command across slots would fail with CROSSSLOT and turn logins into 500s.
    burst_bans_the_network(State::Cluster("itbf5:")).await;
    stale_password_never_bans(State::Cluster("itbf6:")).await;
}

async fn stale_password_never_bans(state: State) {
    let s = server(state, RULES).await;
    for _ in 0..50 {
        assert_eq!(status(&s, "192.0.2.20", "last-months-password").await, 403);
    }
    assert_eq!(
        status(&s, "192.0.2.20", SECRET).await,
        200,
        "{state:?}: the same wrong password 50 times bans nobody"
    );
    assert_eq!(list(&s, None).await[0]["ip_addresses"], json!({}));
    if let State::Redis(p) = state {
        let Reply::Array(fields) = shared_redis()
            .unwrap()
            .command(&["HKEYS", &format!("{p}bf:rwp:192.0.2.20:{ALICE}")])
            .unwrap()
        else {
            panic!("HKEYS")
        };
        assert_eq!(fields.len(), 1, "one remembered digest, never the password");
    }
}

#[tokio::test]
async fn the_same_wrong_password_repeated_does_not_ban_in_memory() {
    stale_password_never_bans(State::Memory).await;
}

#[tokio::test]
async fn the_same_wrong_password_repeated_does_not_ban_in_redis() {
    stale_password_never_bans(State::Redis("itbf2:")).await;
}

async fn protocol_ban_flush(state: State) {
    let s = server(state, RULES).await;
    let ip = "2001:db8:1:2::5";
    for i in 0..3 {
        login(&s, ip, &format!("g{i}"), "imap").await;
    }
    assert_eq!(
        login(&s, "2001:db8:1:2::99", SECRET, "imap").await.status(),
        403,
        "the /64 is banned for imap"
    );
    assert_eq!(
        login(&s, ip, SECRET, "pop3").await.status(),
        200,
        "but not for pop3"
    );
    let r = flush(
        &s,
        json!({"ip_address": ip, "rule_name": "imap64", "protocol": "imap"}),
    )
    .await;
    let body: Value = r.json().await.unwrap();
    let p = prefix(state);
    assert_eq!(
        body["result"]["removed_keys"],
        json!([
            format!("{p}bf:3600:64:3:6:2001:db8:1:2::/64:imap"),
            format!("{p}bf:ban:2001:db8:1:2::/64:imap")
        ]),
        "{state:?}"
    );
    assert_eq!(body["result"]["protocol"], "imap");
    assert_eq!(login(&s, ip, SECRET, "imap").await.status(), 200);
}

#[tokio::test]
async fn protocol_scoped_bans_are_flushed_by_protocol_in_memory() {
    protocol_ban_flush(State::Memory).await;
}

#[tokio::test]
async fn protocol_scoped_bans_are_flushed_by_protocol_in_redis() {
    protocol_ban_flush(State::Redis("itbf3:")).await;
}

#[tokio::test]
async fn cache_flush_forgets_the_users_brute_force_history_and_bans() {
    let state = State::Redis("itbf4:");
    let s = server(state, RULES).await;
    for i in 0..5 {
        status(&s, "192.0.2.30", &format!("x{i}")).await;
    }
    assert_eq!(status(&s, "192.0.2.30", SECRET).await, 403);
    let r = s
        .http
        .delete(s.url("/api/v1/cache/flush"))
        .json(&json!({"user": ALICE}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let removed = body["result"]["removed_keys"].to_string();
    for key in [
        "itbf4:bf:ban:192.0.2.0/24",
        "itbf4:bf:rwp:192.0.2.30:alice@example.test",
    ] {
        assert!(removed.contains(key), "{key} not in {removed}");
        assert!(!redis_exists(key));
    }
    assert_eq!(status(&s, "192.0.2.30", SECRET).await, 200);
}

#[tokio::test]
async fn allowlisted_clients_are_never_banned() {
    let rules = format!("{RULES}  ip_whitelist: [192.0.2.0/24]\n");
    let s = server(State::Memory, &rules).await;
    for i in 0..20 {
        status(&s, "192.0.2.40", &format!("y{i}")).await;
    }
    assert_eq!(status(&s, "192.0.2.40", SECRET).await, 200);
}

#[tokio::test]
async fn admin_requests_with_bad_input_get_400_with_the_guid() {
    let s = server(State::Memory, RULES).await;
    let e = assert_error(flush(&s, json!({"rule_name": "*"})).await, 400).await;
    assert!(e.contains("ip_address"), "{e}");
    let e = assert_error(flush(&s, json!({"ip_address": "192.0.2.1"})).await, 400).await;
    assert!(e.contains("rule_name"), "{e}");
    let e = assert_error(
        flush(&s, json!({"ip_address": "nope", "rule_name": "*"})).await,
        400,
    )
    .await;
    assert!(e.contains("not an IP address"), "{e}");
    let e = assert_error(
        flush(&s, json!({"ip_address": "192.0.2.1", "rule_name": "b99"})).await,
        400,
    )
    .await;
    assert!(e.contains("b99"), "{e}");
    let r = s
        .http
        .post(s.url("/api/v1/bruteforce/list"))
        .header("content-type", "application/json")
        .body("{\"accounts\": 7}")
        .send()
        .await
        .unwrap();
    assert_error(r, 400).await;
    let r = s.http.get(s.url("/api/v1/bruteforce/list")).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET without a body lists everything");
}

#[tokio::test]
async fn without_the_feature_the_admin_endpoints_say_so() {
    let s = TestServer::start().await;
    let e = assert_error(
        s.http.get(s.url("/api/v1/bruteforce/list")).send().await.unwrap(),
        404,
    )
    .await;
    assert!(e.contains("not enabled"), "{e}");
}

#[tokio::test]
async fn a_redis_outage_fails_logins_closed() {
    let redis = RedisServer::start().unwrap();
    let server_yaml = format!(
        "features: [brute_force]\nredis:\n  master: {{address: \"{}\"}}\n  password_nonce: {NONCE}\n",
        redis.addr()
    );
    let s = TestServer::with_config(&server_yaml, RULES).await;
    assert_eq!(status(&s, "192.0.2.50", SECRET).await, 200);
    redis.stop().unwrap();
    for _ in 0..3 {
        let r = login(&s, "192.0.2.50", SECRET, "imap").await;
        assert_eq!(
            r.status(),
            500,
            "without ban state no login is decided, not even a cached one"
        );
        assert_eq!(
            header(&r, "auth-status"),
            "Temporary server problem, try again later"
        );
    }
    redis.start_again().unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if status(&s, "192.0.2.50", SECRET).await == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ok, "logins work again once Redis is back");
}

/// `slow@example.test` / `slow-secret` as argon2id with m=16 MiB, t=2: a real verification,
/// deliberately slow (the reported attack used m=64 MiB).
const SLOW_USERS: &str = "slow@example.test:{ARGON2ID}$argon2id$v=19$m=16384,t=2,p=1$YmYtYnVyc3Qtc2FsdC0xNg$PocIBHY2oBtLX54GWxc9JoBWXNNpfZsARvcckx937ko\n";

async fn slow_server(state: State, rules: &str) -> TestServer {
    let store = match state {
        State::Memory => String::new(),
        State::Redis(prefix) => format!(
            "redis:\n  master: {{address: \"{}\"}}\n  prefix: \"{prefix}\"\n  password_nonce: {NONCE}\n",
            shared_redis().unwrap().addr()
        ),
        State::Cluster(prefix) => {
            let seeds: Vec<String> = shared_redis_cluster()
                .unwrap()
                .seed_addrs()
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect();
            format!(
                "redis:\n  cluster: {{addresses: [{}]}}\n  prefix: \"{prefix}\"\n  password_nonce: {NONCE}\n",
                seeds.join(", ")
            )
        }
    };
    TestServer::with_users(SLOW_USERS, &format!("features: [brute_force]\n{store}"), rules).await
}

/// A string key's value, from Redis or from whichever Cluster node holds it.
fn stored_value(state: State, key: &str) -> Option<String> {
    let nodes: Vec<&RedisServer> = match state {
        State::Memory => return None,
        State::Redis(_) => vec![shared_redis().unwrap()],
        State::Cluster(_) => shared_redis_cluster().unwrap().nodes().iter().collect(),
    };
    // Nodes that do not hold the key's slot answer MOVED.
    nodes.iter().find_map(|n| match n.command(&["GET", key]) {
        Ok(Reply::Bulk(v)) => Some(String::from_utf8(v).unwrap()),
        _ => None,
    })
}

fn slow_login(s: &TestServer, ip: &'static str, password: String) -> tokio::task::JoinHandle<u16> {
    let (http, url) = (s.http.clone(), s.url("/api/v1/auth/json"));
    tokio::spawn(async move {
        http.post(url)
            .json(&json!({"username": "slow@example.test", "password": password, "client_ip": ip, "protocol": "imap"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

/// Issue 10: 60 parallel wrong passwords for a slow-hash account, then the right one from the
/// same address while they are still queued for verification. Before attempts in flight were
/// counted, every guess was verified and the right password got a 200.
async fn a_parallel_burst_cannot_outrun_the_bucket(state: State) {
    let s = slow_server(state, RULES).await;
    let burst: Vec<_> = (0..60)
        .map(|i| slow_login(&s, "192.0.2.60", format!("guess-{i}")))
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let right = slow_login(&s, "192.0.2.60", "slow-secret".into()).await.unwrap();
    assert_eq!(right, 403, "{state:?}: the right password after the burst");
    for t in burst {
        assert_eq!(t.await.unwrap(), 403);
    }
    assert_eq!(
        list(&s, None).await[0]["ip_addresses"],
        json!({"192.0.2.0/24": "b24"}),
        "{state:?}"
    );
    if !matches!(state, State::Memory) {
        assert_eq!(
            stored_value(state, &format!("{}bf:3600:24:5:4:192.0.2.0/24", prefix(state))).as_deref(),
            Some("5"),
            "{state:?}: only the verified guesses stay counted"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_burst_on_a_slow_hash_is_cut_at_the_bucket_in_memory() {
    a_parallel_burst_cannot_outrun_the_bucket(State::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_burst_on_a_slow_hash_is_cut_at_the_bucket_in_redis() {
    a_parallel_burst_cannot_outrun_the_bucket(State::Redis("itbf7:")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_burst_on_a_slow_hash_is_cut_at_the_bucket_in_a_cluster() {
    a_parallel_burst_cannot_outrun_the_bucket(State::Cluster("itbf8:")).await;
}

/// N failures at once leave exactly N in the bucket (atomic counting on every store).
async fn concurrent_failures_are_counted_exactly(state: State) {
    const N: usize = 40;
    let rules = "brute_force:\n  buckets:\n    - {name: wide, period: 1h, cidr: 32, ipv4: true, failed_requests: 1000}\n";
    let s = server(state, rules).await;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let (http, url) = (s.http.clone(), s.url("/api/v1/auth/json"));
            tokio::spawn(async move {
                http.post(url)
                    .json(&json!({"username": ALICE, "password": format!("wrong-{i}"), "client_ip": "192.0.2.70", "protocol": "imap"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 403);
    }
    let key = format!("{}bf:3600:32:1000:4:192.0.2.70/32", prefix(state));
    assert_eq!(stored_value(state, &key).as_deref(), Some("40"), "{state:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failures_are_counted_exactly_in_redis() {
    concurrent_failures_are_counted_exactly(State::Redis("itbf9:")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failures_are_counted_exactly_in_a_cluster() {
    concurrent_failures_are_counted_exactly(State::Cluster("itbf10:")).await;
}

/// Issue 10: logins without a usable client address were never counted. They are now counted
/// per user name, and a ban refuses only address-less logins of that name.
async fn logins_without_an_address_are_counted_per_user(state: State) {
    let s = server(state, RULES).await;
    // Every rule counts address-less logins whatever its address family: the strictest one
    // here is imap64 (3 failures, imap only).
    for (i, ip) in ["", "IP%eth0", "010.1.2.3"].iter().enumerate() {
        assert_eq!(status(&s, ip, &format!("nope-{i}")).await, 403);
    }
    assert_eq!(
        status(&s, "unknown", SECRET).await,
        403,
        "{state:?}: the right password without an address, after 3 guesses"
    );
    assert_eq!(
        s.json(
            "",
            json!({"username": ALICE, "password": SECRET, "protocol": "imap"})
        )
        .await
        .status(),
        403,
        "no client_ip at all"
    );
    assert_eq!(
        status(&s, "192.0.2.80", SECRET).await,
        200,
        "logins that carry an address are not locked out"
    );
    let scope = format!("account:{ALICE}");
    assert_eq!(
        list(&s, None).await[0]["ip_addresses"],
        json!({ format!("{scope}:imap"): "imap64" }),
        "{state:?}"
    );
    if !matches!(state, State::Memory) {
        let p = prefix(state);
        for bucket in [
            format!("{p}bf:3600:3:{scope}:imap"),
            format!("{p}bf:3600:5:{scope}"),
        ] {
            assert_eq!(
                stored_value(state, &bucket).as_deref(),
                Some("3"),
                "{state:?} {bucket}"
            );
        }
    }
    let r = flush(&s, json!({"ip_address": scope, "rule_name": "*"})).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["result"]["status"], "flushed");
    assert_eq!(status(&s, "", SECRET).await, 200, "{state:?}: flushed");
}

#[tokio::test]
async fn logins_without_an_address_are_counted_per_user_in_memory() {
    logins_without_an_address_are_counted_per_user(State::Memory).await;
}

#[tokio::test]
async fn logins_without_an_address_are_counted_per_user_in_redis() {
    logins_without_an_address_are_counted_per_user(State::Redis("itbf11:")).await;
}
