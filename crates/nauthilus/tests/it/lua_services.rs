//! The Lua modules that reach other services or the server's policy state: `nauthilus_mail`
//! (with `template` and `nauthilus_misc.get_country_name`) against a real SMTP server
//! (mailin-embedded on loopback), `nauthilus_soft_whitelist` and `nauthilus_brute_force` on the
//! pipeline's own allowlists and brute-force state, and named Redis pools over TLS against a
//! TLS redis-server.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use nauthilus_testkit::{RedisServer, TestCerts, shared_redis};
use serde_json::{Value, json};

use crate::support::{TestServer, fixtures};

fn script(name: &str) -> String {
    fixtures().join("lua").join(name).display().to_string()
}

/// One message as the SMTP server received it.
#[derive(Clone, Debug, Default)]
struct Received {
    helo: String,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

/// Records every message into the shared list.
#[derive(Clone, Default)]
struct Recorder {
    current: Received,
    done: Arc<Mutex<Vec<Received>>>,
}

impl mailin_embedded::Handler for Recorder {
    fn helo(&mut self, _ip: std::net::IpAddr, domain: &str) -> mailin_embedded::Response {
        self.current.helo = domain.to_owned();
        mailin_embedded::response::OK
    }

    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, from: &str) -> mailin_embedded::Response {
        self.current.from = from.to_owned();
        mailin_embedded::response::OK
    }

    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        self.current.to.push(to.to_owned());
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let message = std::mem::take(&mut self.current);
        self.done.lock().unwrap().push(message);
        mailin_embedded::response::OK
    }
}

/// A real SMTP server on a free loopback port (threads of its own for the test's lifetime).
fn smtp_server() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let recorder = Recorder::default();
    let done = recorder.done.clone();
    let mut server = mailin_embedded::Server::new(recorder);
    server
        .with_name("smtp.lua.test")
        .with_ssl(mailin_embedded::SslConfig::None)
        .unwrap()
        .with_num_threads(2)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (port, done)
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server with the modules hook, the table backend and `yaml_extra` (top level).
async fn hook_server(server_extra: &str, top_extra: &str) -> TestServer {
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [lua]\n  log: {{level: warn}}\n  equalize_failure_timing: false\n{server_extra}local_cache_auth_ttl: 0\nlua:\n  config:\n    backend_script_path: '{backend}'\n  custom_hooks:\n    - {{http_location: modules, http_method: GET, script_path: '{hook}'}}\n{top_extra}",
        backend = script("backend.lua"),
        hook = script("modules_hook.lua"),
    );
    TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await
}

async fn hook(s: &TestServer, query: &str) -> Value {
    let r = s.get_with(&format!("/api/v1/custom/modules?{query}"), &[]).await;
    assert_eq!(r.status(), 200, "{query}");
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_renders_a_template_and_sends_it_over_smtp() {
    let (port, received) = smtp_server();
    let s = hook_server("", "").await;
    let body = hook(&s, &format!("action=mail&port={port}&closed={}", closed_port())).await;
    let text = "Hello Alice &amp; Bob, a login from Germany. [imap] [smtp]";
    assert_eq!(body["body"], json!(text), "{body}");
    assert_eq!(body["sent"], json!(true), "{body}");
    assert_eq!(body["unknown_country"], json!("Unknown"));
    assert_eq!(body["us"], json!("United States of America"));
    assert_eq!(body["unknown_engine"], json!(true));
    assert_eq!(body["lmtp_refused"], json!(true));
    assert_eq!(body["closed_port_refused"], json!(true));
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let m = &received[0];
    assert_eq!(m.helo, "lua.test");
    assert_eq!(m.from, "nauthilus@example.test");
    assert_eq!(m.to, ["alice@example.test", "bob@example.test"]);
    let data = String::from_utf8_lossy(&m.data);
    assert!(data.contains("Subject: Login alert"), "{data}");
    assert!(data.contains(text), "{data}");
}

async fn login(s: &TestServer, user: &str, password: &str, ip: &str) -> reqwest::Response {
    s.json(
        "",
        json!({"username": user, "password": password, "protocol": "imap", "client_ip": ip}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_steer_soft_allowlists_tolerations_and_read_bans() {
    let redis = shared_redis().unwrap();
    let prefix = format!("lua-it-soft-{}:", std::process::id());
    let server_extra = format!(
        "  features: [relay_domains, brute_force]\n  redis:\n    master: {{address: \"{}\"}}\n    prefix: \"{prefix}\"\n    password_nonce: lua-it-nonce-0123456789\n",
        redis.addr()
    );
    let top_extra = "brute_force:\n  buckets:\n    - {name: soft_tight, period: 1h, cidr: 32, ipv4: true, failed_requests: 2}\nrelay_domains: {static: [example.org]}\n";
    let s = hook_server(&server_extra, top_extra).await;
    let (alice, secret, ip) = ("alice@example.test", "alice-secret", "192.0.2.51");

    // relay_domains refuses alice's domain until a script soft-allowlists her network.
    assert_eq!(login(&s, alice, secret, ip).await.status(), 403);
    let q = format!("action=soft&op=set&user={alice}&net=192.0.2.51&feature=relay_domains");
    let r = hook(&s, &q).await;
    assert_eq!(r["result"], json!("OK"), "{r}");
    assert_eq!(r["nets"], json!("192.0.2.51/32"));
    assert_eq!(login(&s, alice, secret, ip).await.status(), 200);
    // Only from that network.
    assert_eq!(login(&s, alice, secret, "192.0.2.52").await.status(), 403);
    let r = hook(
        &s,
        &format!("action=soft&op=set&user={alice}&net=10.0.0.0/8&feature=lua"),
    )
    .await;
    assert_eq!(r["result"], json!("invalid feature category"), "{r}");

    // Wrong passwords ban the network; the brute-force module sees the ban and its rule.
    for i in 0..3 {
        assert_eq!(login(&s, alice, &format!("wrong-{i}"), ip).await.status(), 403);
    }
    assert_eq!(login(&s, alice, secret, ip).await.status(), 403, "banned");
    let r = hook(&s, "action=bf&ip=192.0.2.51").await;
    assert_eq!(r["blocked"], json!(true), "{r}");
    assert_eq!(r["rule"], json!("soft_tight"));
    let r = hook(&s, "action=bf&ip=192.0.2.99").await;
    assert_eq!(r["blocked"], json!(false), "{r}");

    // A brute_force soft allowlist entry exempts alice from that network, and only her.
    let q = format!("action=soft&op=set&user={alice}&net=192.0.2.0/24&feature=brute_force");
    assert_eq!(hook(&s, &q).await["result"], json!("OK"));
    assert_eq!(login(&s, alice, secret, ip).await.status(), 200);
    let q = "action=soft&op=set&user=bob@example.test&net=192.0.2.51&feature=relay_domains";
    assert_eq!(hook(&s, q).await["result"], json!("OK"));
    assert_eq!(
        login(&s, "bob@example.test", "bob-secret", ip).await.status(),
        403,
        "bob (right password, relay allowed) is still banned"
    );
    let q = format!("action=soft&op=delete&user={alice}&net=192.0.2.0/24&feature=brute_force");
    let r = hook(&s, &q).await;
    assert_eq!(r["nets"], json!(""), "{r}");
    assert_eq!(login(&s, alice, secret, ip).await.status(), 403, "banned again");

    // Run-time tolerations are listed with their settings and can be removed.
    let r = hook(&s, "action=bf&op=tolerate&ip=198.51.100.77").await;
    assert!(
        r["tolerations"]
            .as_str()
            .unwrap()
            .contains("198.51.100.77/32=50%/10m"),
        "{r}"
    );
    assert_eq!(r["positive"], json!(0));
    let r = hook(&s, "action=bf&op=untolerate&ip=198.51.100.77").await;
    assert!(
        !r["tolerations"].as_str().unwrap().contains("198.51.100.77"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_redis_pool_connects_over_tls() {
    crate::support::crypto();
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path()).unwrap();
    let tls_port = closed_port();
    let tls_redis = RedisServer::builder()
        .config_line(format!("tls-port {tls_port}"))
        .config_line(format!("tls-cert-file {}", certs.server_cert.display()))
        .config_line(format!("tls-key-file {}", certs.server_key.display()))
        .config_line(format!("tls-ca-cert-file {}", certs.ca_cert.display()))
        .config_line("tls-auth-clients optional")
        .start()
        .unwrap();
    let other = tempfile::tempdir().unwrap();
    let wrong = TestCerts::generate(other.path()).unwrap();
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [lua]\n  log: {{level: warn}}\nlocal_cache_auth_ttl: 0\nlua:\n  config:\n    backend_script_path: '{}'\n  custom_hooks:\n    - {{http_location: tlspool, http_method: GET, script_path: '{}'}}\n",
        script("backend.lua"),
        script("redis_tls_hook.lua"),
    );
    let s = TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await;
    let call = |name: &str, ca: &std::path::Path, client: bool| {
        let mut q = format!(
            "/api/v1/custom/tlspool?name={name}-{}&address=127.0.0.1:{tls_port}&ca={}",
            std::process::id(),
            ca.display()
        );
        if client {
            q.push_str(&format!(
                "&cert={}&key={}",
                certs.client_cert.display(),
                certs.client_key.display()
            ));
        }
        q
    };
    // Verified against the CA, with a client certificate: the value round-trips over TLS and
    // is there on the server.
    let r = s.get_with(&call("tls-ok", &certs.ca_cert, true), &[]).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["value"], json!("over tls"), "{body}");
    assert_eq!(
        tls_redis.command(&["GET", "lua-tls-key"]).unwrap(),
        nauthilus_testkit::Reply::Bulk(b"over tls".to_vec())
    );
    // A server certificate from another CA is refused: no pool, an error for the script.
    let r = s
        .get_with(&call("tls-wrong-ca", &wrong.ca_cert, false), &[])
        .await;
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    assert!(body.get("value").is_none(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_passwords_kept_by_a_lua_backend_script_work_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(script("mfa_credentials.lua"))
        .unwrap()
        .replace("@DB_PATH@", &dir.path().join("lua-mfa.db").display().to_string());
    let store_script = dir.path().join("mfa_credentials.lua");
    std::fs::write(&store_script, source).unwrap();
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [lua]\n  log: {{level: warn}}\nlocal_cache_auth_ttl: 0\nlua:\n  config:\n    backend_script_path: '{backend}'\n  optional_lua_backends:\n    mfa: {{backend_script_path: '{store}'}}\nmfa:\n  enabled: true\n  store: lua\n  lua: {{backend_name: mfa}}\n  encryption_key_file: '{key}'\n",
        backend = script("backend.lua"),
        store = store_script.display(),
        key = dir.path().join("mfa.key").display(),
    );
    let s = TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await;
    let mfa = s.server.services.mfa().unwrap().clone();
    // The backend answers alice@example.test with the account "alice": enrolments are the
    // account's.
    let (alice, account) = ("alice@example.test", "alice");
    let (info, password) = mfa
        .create_app_password(account, &["imap"], "phone", std::time::SystemTime::now())
        .await
        .unwrap();
    assert_eq!(login(&s, alice, &password, "192.0.2.70").await.status(), 200);
    let smtp = s
        .json(
            "",
            json!({"username": alice, "password": password.as_str(), "protocol": "smtp", "client_ip": "192.0.2.70"}),
        )
        .await;
    assert_eq!(smtp.status(), 403, "scoped to imap");
    // The record is in the script's own database.
    let pool = nauthilus_backends::sql::SqlPool::new(&nauthilus_config::SqlPoolConfig {
        url: format!("sqlite://{}", dir.path().join("lua-mfa.db").display()),
        ..nauthilus_config::SqlPoolConfig::default()
    })
    .unwrap();
    let rows = pool
        .fetch_typed(
            "SELECT kind FROM mfa_credentials WHERE account = ?",
            &[nauthilus_backends::sql::SqlValue::Text(account.into())],
        )
        .await
        .unwrap();
    assert_eq!(rows.rows.len(), 1, "{:?}", rows.rows);
    assert!(mfa.revoke_app_password(account, &info.id).await.unwrap());
    assert_eq!(
        login(&s, alice, &password, "192.0.2.70").await.status(),
        403,
        "revoked"
    );
}
