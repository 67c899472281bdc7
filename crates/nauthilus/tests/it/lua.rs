//! The Lua host end to end: operators' scripts (written for this project against lua-api.md,
//! in fixtures/lua) run as backend, feature, filter, post action, custom hooks and init script,
//! on the shared real Redis; misbehaving scripts are temporary failures while the server keeps
//! answering.

use std::time::{Duration, Instant};

use nauthilus_testkit::{Reply, shared_redis};
use serde_json::{Value, json};

use crate::support::{TestServer, fixtures, header};

const NONCE: &str = "it-nonce-0123456789abcdef";
const ALICE: (&str, &str) = ("alice@example.test", "alice-secret");

fn script(name: &str) -> String {
    fixtures().join("lua").join(name).display().to_string()
}

/// A server with the Lua backend, feature, filter, post action, hooks and init script, keys
/// under `prefix` in the shared Redis.
async fn lua_server(prefix: &str) -> TestServer {
    let redis = shared_redis().unwrap();
    let yaml = format!(
        r#"server:
  address: 127.0.0.1:0
  backends: [lua]
  features: [lua, brute_force]
  log: {{level: warn}}
  equalize_failure_timing: false
  timeouts: {{lua_script: 2s}}
  redis:
    master: {{address: "{addr}"}}
    prefix: "{prefix}"
    password_nonce: {NONCE}
brute_force:
  buckets:
    - {{name: wide, period: 1h, cidr: 32, ipv4: true, failed_requests: 1000}}
local_cache_auth_ttl: 0
lua:
  config:
    backend_script_path: {backend}
    init_script_path: {init}
    backend_number_of_workers: 2
    hook_vm_pool_size: 1
    vm_memory_limit: 16
  features:
    - {{name: blocklist, script_path: {feature}}}
  filters:
    - {{name: protection, script_path: {filter}}}
  actions:
    - {{type: post, name: failed_login_tracker, script_path: {tracker}}}
  custom_hooks:
    - {{http_location: admin, http_method: GET, script_path: {hook}}}
    - {{http_location: /broken, http_method: get, script_path: {broken}}}
"#,
        addr = redis.addr(),
        backend = script("backend.lua"),
        init = script("init.lua"),
        feature = script("blocklist_feature.lua"),
        filter = script("protection_filter.lua"),
        tracker = script("failed_login_tracker.lua"),
        hook = script("admin_hook.lua"),
        broken = script("broken_hook.lua"),
    );
    for key in [
        "top_failed_logins",
        "failed_total",
        "last_failed_count",
        "hook_counter",
        "blocklist_url",
    ] {
        redis.command(&["DEL", &format!("{prefix}{key}")]).unwrap();
    }
    TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await
}

async fn login(s: &TestServer, user: &str, password: &str, ip: &str) -> reqwest::Response {
    s.json(
        "",
        json!({"username": user, "password": password, "protocol": "imap", "client_ip": ip}),
    )
    .await
}

/// A blocklist service on loopback: `{"found": true}` for 192.0.2.66.
async fn blocklist_service() -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/check",
        post(|axum::Json(body): axum::Json<Value>| async move {
            axum::Json(json!({"found": body["ip"] == "192.0.2.66"}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/check")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lua_backend_feature_filter_and_post_action() {
    let prefix = "lua-it-flow:";
    let s = lua_server(prefix).await;
    let redis = shared_redis().unwrap();

    // Backend: verify, attributes in the body and as X-Nauthilus-* headers; the filter added
    // one, removed one and did not overwrite the backend's own.
    let r = login(&s, ALICE.0, ALICE.1, "192.0.2.10").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), "alice");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["attributes"]["uid"], json!(["alice"]));
    assert_eq!(body["attributes"]["protection"], json!(["checked"]));
    assert!(body["attributes"].get("secret_attr").is_none(), "{body}");
    assert_eq!(body["backend"], json!(3));
    assert_eq!(
        body["attributes"]["quota"],
        json!(["1024"]),
        "integral numbers without .0"
    );
    let r = s
        .get_with(
            "/api/v1/auth/header",
            &[
                ("Auth-User", ALICE.0),
                ("Auth-Pass", ALICE.1),
                ("Auth-Protocol", "imap"),
                ("Client-IP", "192.0.2.10"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-nauthilus-protection"), "checked");
    assert_eq!(header(&r, "x-nauthilus-quota"), "1024");
    assert_eq!(header(&r, "x-nauthilus-uid"), "alice");
    assert_eq!(header(&r, "x-nauthilus-secret_attr"), "");

    // Wrong password and unknown user fail; the filter refuses bob although his password is right.
    assert_eq!(login(&s, ALICE.0, "nope", "192.0.2.10").await.status(), 403);
    let r = login(&s, "bob@example.test", "bob-secret", "192.0.2.10").await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "auth-status"), "Account locked by policy");

    // list-accounts through the script.
    let r = s
        .get_with(
            "/api/v1/auth/json?mode=list-accounts",
            &[("Accept", "application/json")],
        )
        .await;
    assert_eq!(
        r.json::<Vec<String>>().await.unwrap(),
        ["alice@example.test", "bob@example.test"]
    );

    // nginx: the filter picks the upstream.
    let r = s
        .get_with(
            "/api/v1/auth/nginx",
            &[
                ("Auth-User", ALICE.0),
                ("Auth-Pass", ALICE.1),
                ("Auth-Protocol", "imap"),
                ("Auth-Method", "plain"),
                ("Client-IP", "192.0.2.11"),
            ],
        )
        .await;
    assert_eq!(header(&r, "auth-status"), "OK");
    assert_eq!(
        (header(&r, "auth-server"), header(&r, "auth-port")),
        ("192.0.2.143", "1143")
    );

    // Feature: the blocklist service lists 192.0.2.66; the login fails with the script's
    // status message even with the right password. Loopback clients skip features.
    let url = blocklist_service().await;
    redis
        .command(&["SET", &format!("{prefix}blocklist_url"), &url])
        .unwrap();
    let r = login(&s, ALICE.0, ALICE.1, "192.0.2.66").await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "auth-status"), "IP address blocked");
    assert_eq!(login(&s, ALICE.0, ALICE.1, "192.0.2.67").await.status(), 200);
    assert_eq!(login(&s, ALICE.0, ALICE.1, "127.0.0.1").await.status(), 200);

    // Post action: an unknown account's failure lands in Redis after the answer.
    let r = login(&s, "nobody@example.test", "x", "192.0.2.12").await;
    assert_eq!(r.status(), 403);
    let deadline = Instant::now() + Duration::from_secs(10);
    let key = format!("{prefix}top_failed_logins");
    loop {
        match redis.command(&["ZSCORE", &key, "nobody@example.test"]).unwrap() {
            Reply::Bulk(b) if b == b"1" => break,
            other => assert!(Instant::now() < deadline, "post action never wrote: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Two logins were never looked up: alice's, refused by the blocklist feature before any
    // backend, and nobody's; their detached post actions may finish in either order.
    loop {
        if let Reply::Bulk(b) = redis.command(&["GET", &format!("{prefix}failed_total")]).unwrap()
            && b == b"2"
        {
            break;
        }
        assert!(Instant::now() < deadline, "counter never reached 2");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // `redis_incr`'s result was stored as an integer ("1" or "2"), not "1.0".
    loop {
        if let Reply::Bulk(b) = redis
            .command(&["GET", &format!("{prefix}last_failed_count")])
            .unwrap()
        {
            assert!(b == b"1" || b == b"2", "{:?}", String::from_utf8_lossy(&b));
            break;
        }
        assert!(Instant::now() < deadline, "last_failed_count never written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_scripts_are_temporary_failures_and_the_server_keeps_answering() {
    let s = lua_server("lua-it-bad:").await;
    for user in [
        "error@example.test",
        "loop@example.test",
        "alloc@example.test",
        "wrongtype@example.test",
    ] {
        let r = login(&s, user, "x", "192.0.2.20").await;
        assert_eq!(r.status(), 500, "{user}");
        assert_eq!(
            header(&r, "auth-status"),
            "Temporary server problem, try again later",
            "{user}"
        );
        let ok = login(&s, ALICE.0, ALICE.1, "192.0.2.21").await;
        assert_eq!(ok.status(), 200, "after {user}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_use_init_scripts_and_share_nothing_between_requests() {
    let s = lua_server("lua-it-hook:").await;
    let get = |q: &str| s.http.get(s.url(&format!("/api/v1/custom/admin{q}"))).send();
    let first: Value = get("?step=2").await.unwrap().json().await.unwrap();
    assert_eq!(first["counter"], json!(2), "{first}");
    assert_eq!(first["counter_text"], json!("2"));
    assert_eq!(first["missing_is_nil"], json!(true));
    assert_eq!(first["missing_err"], json!("redis: nil"));
    assert_eq!(first["method"], json!("GET"));
    // The hook pool has one VM: the second request runs in the same VM and sees neither the
    // first one's global nor its top-level local state.
    let second: Value = get("?step=3").await.unwrap().json().await.unwrap();
    assert_eq!(second["counter"], json!(5), "{second}");
    assert_eq!(second["saw_previous_global"], json!(false));
    assert_eq!(second["calls_this_run"], json!(1));

    // Unknown location or method: 404 with the guid; a script error: 500 {"msg"}.
    let r = s.http.get(s.url("/api/v1/custom/nothing")).send().await.unwrap();
    let msg = crate::support::assert_error(r, 404).await;
    assert_eq!(msg, "lua script for location 'nothing' not found");
    let r = s.http.post(s.url("/api/v1/custom/admin")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = s.http.get(s.url("/api/v1/custom/broken")).send().await.unwrap();
    assert_eq!(r.status(), 500);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["msg"].as_str().unwrap().contains("broken_hook.lua:3"),
        "script and line in the error: {body}"
    );
    // The hook's counter is a real metric.
    let metrics = nauthilus_lua::render_metrics();
    assert!(
        metrics.contains("lua_it_hook_calls_total{hook=\"admin\"}"),
        "{metrics}"
    );
}
