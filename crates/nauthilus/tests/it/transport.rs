//! Operations and transport: configuration reload (in process and by SIGHUP to the binary)
//! under load, a refused reload, SIGTERM draining the requests in flight, TLS 1.3 with HTTP/2
//! by ALPN (reqwest and curl), certificate reload, client certificates, h2c, PROXY protocol v2
//! as the client address of `/auth/basic` (brute force, log line), trusted proxies, and gzip
//! for account lists.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nauthilus_testkit::TestCerts;
use ppp::v2::{Builder, Command as ProxyCommand, Protocol, Version};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing_subscriber::fmt::MakeWriter;

use crate::support::TestServer;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Collects what a log subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// The server's own text format at info level, into a capture. Installed as the thread's
/// default, it sees everything a current-thread test runtime runs.
fn capture_logs() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let config = nauthilus_config::LogConfig {
        json: false,
        color: false,
        level: nauthilus_config::LogLevel::Info,
        ..Default::default()
    };
    let sub = nauthilus::logging::subscriber(
        &config,
        tracing_subscriber::EnvFilter::new("info"),
        capture.clone(),
    );
    (capture, tracing::subscriber::set_default(sub))
}

fn login(user: &str, password: &str, ip: &str) -> Value {
    json!({"username": user, "password": password, "client_ip": ip, "protocol": "imap"})
}

/// One HTTP/1.1 request on a fresh connection, after `prefix` (a PROXY header); the whole
/// answer as text ("" when the server closed the connection without one).
async fn raw_http(addr: SocketAddr, prefix: &[u8], request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(prefix).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // A reset instead of a close also means "no answer".
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn basic_request(user: &str, password: &str) -> String {
    use base64::Engine;
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!(
        "GET /api/v1/auth/basic HTTP/1.1\r\nHost: nauthilus\r\nAuthorization: Basic {credentials}\r\nConnection: close\r\n\r\n"
    )
}

fn json_request(body: &Value) -> String {
    let body = body.to_string();
    format!(
        "POST /api/v1/auth/json HTTP/1.1\r\nHost: nauthilus\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn proxy_header(source: &str, destination: SocketAddr) -> Vec<u8> {
    let source: SocketAddr = source.parse().unwrap();
    Builder::with_addresses(
        Version::Two | ProxyCommand::Proxy,
        Protocol::Stream,
        (source, destination),
    )
    .build()
    .unwrap()
}

/// The JSON body of a raw HTTP/1.1 answer (`Connection: close`, no chunking for these replies).
fn raw_body(answer: &str) -> Value {
    let (_, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

/// A reqwest client over rustls (ring) trusting only `ca`, optionally limited to TLS 1.2 and
/// with a client certificate.
fn tls_client(ca: &Path, tls12_only: bool, identity: Option<(&Path, &Path)>) -> reqwest::Client {
    crate::support::crypto();
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

fn tls_yaml(certs: &TestCerts, extra_tls: &str) -> String {
    format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [passwd_file]\n  log: {{level: warn}}\n  tls:\n    enabled: true\n    cert: '{}'\n    key: '{}'\n    min_tls_version: TLS1.3\n{extra_tls}passwd_file:\n  path: users.passwd\n",
        certs.server_cert.display(),
        certs.server_key.display(),
    )
}

async fn tls_server(extra_tls: &str) -> (TestServer, TestCerts) {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path()).unwrap();
    std::fs::write(
        dir.path().join("users.passwd"),
        "alice@example.test:{PLAIN}alice-secret\n",
    )
    .unwrap();
    let yaml = tls_yaml(&certs, extra_tls);
    (TestServer::from_yaml(dir, &yaml).await, certs)
}

// ---------------------------------------------------------------------------------------------
// Reload in process (the function SIGHUP calls)

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloading_a_changed_backend_under_hundreds_of_concurrent_logins_fails_none() {
    let s = Arc::new(TestServer::with_users("alice@example.test:{PLAIN}pw\n", "", "").await);
    std::fs::write(
        s.dir.path().join("more.passwd"),
        "alice@example.test:{PLAIN}pw\ncarol@example.test:{PLAIN}pw\n",
    )
    .unwrap();
    let path = s.dir.path().join("reloaded.yml");
    std::fs::write(
        &path,
        "server:\n  address: 127.0.0.1:0\n  backends: [passwd_file]\n  log: {level: warn}\npasswd_file:\n  path: more.passwd\n",
    )
    .unwrap();
    let carol = || login("carol@example.test", "pw", "192.0.2.200");
    assert_eq!(s.json("", carol()).await.status(), 403, "unknown before");

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for i in 0..300u32 {
        let (s, stop, failures) = (s.clone(), stop.clone(), failures.clone());
        workers.push(tokio::spawn(async move {
            let mut sent = 0u32;
            while !stop.load(Ordering::Relaxed) || sent < 3 {
                let ip = format!("10.{}.{}.1", i / 256, i % 256);
                let r = s
                    .http
                    .post(s.url("/api/v1/auth/json"))
                    .json(&login("alice@example.test", "pw", &ip))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => {}
                    Ok(r) => failures.lock().unwrap().push(format!("status {}", r.status())),
                    Err(e) => failures.lock().unwrap().push(e.to_string()),
                }
                sent += 1;
            }
            sent
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        nauthilus::reload_from_file(&s.server, &path, Vec::new(), None).await,
        "the new configuration is valid"
    );
    assert_eq!(s.json("", carol()).await.status(), 200, "the new backend answers");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} logins failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(total >= 900, "{total} logins");
}

#[tokio::test]
async fn a_broken_configuration_is_refused_with_every_error_logged_and_the_old_one_serves() {
    let s = TestServer::with_users("alice@example.test:{PLAIN}pw\n", "", "").await;
    let alice = || login("alice@example.test", "pw", "192.0.2.1");
    let path = s.dir.path().join("broken.yml");
    // Two load errors at once.
    std::fs::write(
        &path,
        "server:\n  adress: 127.0.0.1:0\n  max_concurrent_requests: lots\n  backends: [passwd_file]\npasswd_file:\n  path: users.passwd\n",
    )
    .unwrap();
    let (logs, guard) = capture_logs();
    assert!(!nauthilus::reload_from_file(&s.server, &path, Vec::new(), None).await);
    drop(guard);
    let text = logs.text();
    assert!(text.contains("server.adress: unknown key"), "{text}");
    assert!(text.contains("server.max_concurrent_requests"), "{text}");
    assert!(text.contains("reload refused"), "{text}");
    assert_eq!(s.json("", alice()).await.status(), 200, "the old one serves");

    // Valid to the loader, but its files cannot be used: a missing TLS certificate, a missing
    // passwd-file.
    std::fs::write(
        &path,
        "server:\n  address: 127.0.0.1:0\n  backends: [passwd_file]\n  tls: {enabled: true, cert: no-such.pem, key: no-such.key}\npasswd_file:\n  path: users.passwd\n",
    )
    .unwrap();
    let (logs, guard) = capture_logs();
    assert!(!nauthilus::reload_from_file(&s.server, &path, Vec::new(), None).await);
    drop(guard);
    let text = logs.text();
    assert!(
        text.contains("server.tls.cert") && text.contains("no-such.pem"),
        "{text}"
    );
    assert!(text.contains("reload refused"), "{text}");
    std::fs::write(
        &path,
        "server:\n  address: 127.0.0.1:0\n  backends: [passwd_file]\npasswd_file:\n  path: no-such.passwd\n",
    )
    .unwrap();
    let (logs, guard) = capture_logs();
    assert!(!nauthilus::reload_from_file(&s.server, &path, Vec::new(), None).await);
    drop(guard);
    let text = logs.text();
    assert!(
        text.contains("passwd_file.path") && text.contains("no-such.passwd"),
        "{text}"
    );
    assert_eq!(s.json("", alice()).await.status(), 200, "still the old one");
    // Plain HTTP is still served (the refused TLS settings did not leak in).
    assert!(s.server.url().starts_with("http://"));
}

#[tokio::test]
async fn settings_a_reload_cannot_change_are_reported_as_needing_a_restart() {
    let s = TestServer::with_users("alice@example.test:{PLAIN}pw\n", "", "").await;
    let path = s.dir.path().join("changed.yml");
    std::fs::write(
        &path,
        "server:\n  address: 127.0.0.1:1\n  backends: [passwd_file]\n  haproxy_v2: true\n  max_concurrent_requests: 7\n  disabled_endpoints: {auth_basic: true}\n  log: {level: warn}\npasswd_file:\n  path: users.passwd\n  check_interval: 100ms\n",
    )
    .unwrap();
    let (logs, guard) = capture_logs();
    assert!(nauthilus::reload_from_file(&s.server, &path, Vec::new(), None).await);
    drop(guard);
    let text = logs.text();
    for key in [
        "server.address",
        "server.haproxy_v2",
        "server.max_concurrent_requests",
        "server.disabled_endpoints",
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains("needs a restart") && l.contains(key)),
            "{key}: {text}"
        );
    }
    // The listener is unchanged: no PROXY header needed, /auth/basic still routed.
    let r = s
        .http
        .get(s.url("/api/v1/auth/basic"))
        .basic_auth("alice@example.test", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// ---------------------------------------------------------------------------------------------
// The binary: SIGHUP and SIGTERM

/// A `nauthilus` process with its stderr collected.
struct Binary {
    child: Child,
    stderr: Arc<Mutex<String>>,
    addr: SocketAddr,
}

impl Binary {
    fn start(config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nauthilus"))
            .arg("--config")
            .arg(config)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (pipe, collected) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut all = collected.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let listening = stderr.lock().unwrap().lines().find_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                (v["message"] == "nauthilus listening").then(|| v["address"].as_str().map(str::to_owned))?
            });
            if let Some(addr) = listening {
                break addr.parse().unwrap();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nauthilus exited with {status}: {}", stderr.lock().unwrap());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "nauthilus did not start: {}",
                stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self { child, stderr, addr }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal}");
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (bounded) for the process to exit.
    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "nauthilus did not exit: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn status_of(http: &reqwest::Client, addr: SocketAddr, body: &Value) -> u16 {
    http.post(format!("http://{addr}/api/v1/auth/json"))
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn write_binary_config(dir: &Path, passwd: &str, level: &str) -> PathBuf {
    let path = dir.join("nauthilus.yml");
    std::fs::write(
        &path,
        format!(
            "server:\n  address: 127.0.0.1:0\n  backends: [passwd_file]\n  log: {{json: true, level: {level}}}\npasswd_file:\n  path: {passwd}\n"
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn sighup_to_the_binary_applies_a_changed_backend_and_log_level_and_refuses_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.passwd"), "alice@example.test:{PLAIN}pw\n").unwrap();
    std::fs::write(
        dir.path().join("more.passwd"),
        "alice@example.test:{PLAIN}pw\ncarol@example.test:{PLAIN}pw\n",
    )
    .unwrap();
    let path = write_binary_config(dir.path(), "users.passwd", "info");
    let server = Binary::start(&path);
    crate::support::crypto();
    let http = reqwest::Client::new();
    let carol = login("carol@example.test", "pw", "192.0.2.7");
    assert_eq!(status_of(&http, server.addr, &carol).await, 403);
    let is_debug_access_line = |l: &str| {
        serde_json::from_str::<Value>(l)
            .is_ok_and(|v| v["message"] == "request" && v["status"] == 200 && v["level"] == "DEBUG")
    };
    let ping = || http.get(format!("http://{}/ping", server.addr)).send();
    assert_eq!(ping().await.unwrap().status(), 200);
    assert!(
        !server.log().lines().any(is_debug_access_line),
        "at info, successful requests are not logged"
    );

    write_binary_config(dir.path(), "more.passwd", "debug");
    server.signal("-HUP");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while status_of(&http, server.addr, &carol).await != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reload did not take effect: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        server.log().contains("configuration reloaded"),
        "{}",
        server.log()
    );
    assert_eq!(ping().await.unwrap().status(), 200);
    // The log is written by a background thread: give the line a moment to reach the file.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !server.log().lines().any(is_debug_access_line) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        server.log().lines().any(is_debug_access_line),
        "the log level followed the new file: {}",
        server.log()
    );

    std::fs::write(&path, "server:\n  adress: nowhere\n").unwrap();
    server.signal("-HUP");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !server.log().contains("reload refused") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refusal logged: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        server.log().contains("server.adress: unknown key"),
        "{}",
        server.log()
    );
    assert_eq!(
        status_of(&http, server.addr, &carol).await,
        200,
        "the configuration in force stays"
    );
}

#[tokio::test]
async fn sigterm_to_the_binary_drains_the_requests_in_flight_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    // One argon2id (64 MiB, t=3) user and one hashing worker: the logins queue up in the server.
    let schemes = std::fs::read_to_string(crate::support::fixtures().join("schemes.passwd")).unwrap();
    let user = schemes.lines().find(|l| l.starts_with("argon2id@")).unwrap();
    std::fs::write(dir.path().join("users.passwd"), format!("{user}\n")).unwrap();
    let path = dir.path().join("nauthilus.yml");
    std::fs::write(
        &path,
        "server:\n  address: 127.0.0.1:0\n  backends: [passwd_file]\n  password_hash_workers: 1\n  timeouts: {shutdown: 300s}\n  log: {json: true, level: info}\npasswd_file:\n  path: users.passwd\nlocal_cache_auth_ttl: 0\n",
    )
    .unwrap();
    let mut server = Binary::start(&path);
    let request = json_request(&login("argon2id@schemes.test", "pw-argon2id", "192.0.2.3"));
    // Connections are opened one after the other and the requests written before the probe
    // connects: when the probe is answered, the server has accepted all of them.
    let mut streams = Vec::new();
    for _ in 0..24 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        streams.push(stream);
    }
    let probe = raw_http(
        server.addr,
        b"",
        "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(probe.starts_with("HTTP/1.1 200"), "{probe}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.signal("-TERM");
    let mut answers = Vec::new();
    for mut stream in streams {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        answers.push(String::from_utf8_lossy(&answer).into_owned());
    }
    let failed: Vec<&String> = answers
        .iter()
        .filter(|a| !a.starts_with("HTTP/1.1 200"))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests in flight failed: {:?}\n{}",
        failed.len(),
        answers.len(),
        failed.first(),
        server.log()
    );
    let status = server.wait_exit(Duration::from_secs(120));
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(server.log().contains("shutting down"), "{}", server.log());
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "no longer listening"
    );
}

// ---------------------------------------------------------------------------------------------
// TLS and HTTP/2

#[tokio::test]
async fn tls13_with_http2_by_alpn_serves_logins_and_refuses_tls12() {
    let (s, certs) = tls_server("").await;
    assert!(s.server.url().starts_with("https://"));
    let client = tls_client(&certs.ca_cert, false, None);
    let r = client.get(s.url("/ping")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2, "h2 by ALPN");
    let r = client
        .post(s.url("/api/v1/auth/json"))
        .json(&login("alice@example.test", "alice-secret", "192.0.2.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    // min_tls_version: TLS1.3 (Nauthilus' spelling).
    let old = tls_client(&certs.ca_cert, true, None);
    assert!(
        old.get(s.url("/ping")).send().await.is_err(),
        "TLS 1.2 is refused"
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    let answer = raw_http(
        s.server.addr,
        b"",
        "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(!answer.contains("pong"), "{answer}");

    // Not std's blocking Command: the server runs on this test's runtime.
    match tokio::process::Command::new("curl")
        .arg("--version")
        .output()
        .await
    {
        Ok(out) if out.status.success() => {
            let out = tokio::process::Command::new("curl")
                .args(["--silent", "--show-error", "--http2", "--tlsv1.3", "--cacert"])
                .arg(&certs.ca_cert)
                .args(["--write-out", "\n%{http_version}"])
                .arg(s.url("/ping"))
                .output()
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "curl: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(text, "pong\n2", "curl --http2 speaks HTTP/2");
        }
        _ => eprintln!("curl is not installed: skipping the curl --http2 check"),
    }
}

#[tokio::test]
async fn a_reload_puts_a_new_certificate_in_force_for_new_connections() {
    let (s, first) = tls_server("").await;
    let old_ca = tls_client(&first.ca_cert, false, None);
    assert_eq!(old_ca.get(s.url("/ping")).send().await.unwrap().status(), 200);
    // A new CA and server certificate, written over the same files.
    let other = tempfile::tempdir().unwrap();
    let second = TestCerts::generate(other.path()).unwrap();
    std::fs::copy(&second.server_cert, &first.server_cert).unwrap();
    std::fs::copy(&second.server_key, &first.server_key).unwrap();
    let path = s.dir.path().join("nauthilus.yml");
    assert!(nauthilus::reload_from_file(&s.server, &path, Vec::new(), None).await);
    let new_ca = tls_client(&second.ca_cert, false, None);
    let r = new_ca.get(s.url("/ping")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the new certificate is served");
    assert!(
        old_ca.get(s.url("/ping")).send().await.is_err(),
        "the old certificate is gone"
    );
}

#[tokio::test]
async fn client_certificates_are_required_with_client_auth() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path()).unwrap();
    std::fs::write(dir.path().join("users.passwd"), "alice@example.test:{PLAIN}pw\n").unwrap();
    let yaml = tls_yaml(
        &certs,
        &format!(
            "    ca_file: '{}'\n    client_auth: true\n",
            certs.ca_cert.display()
        ),
    );
    let s = TestServer::from_yaml(dir, &yaml).await;
    let anonymous = tls_client(&certs.ca_cert, false, None);
    assert!(
        anonymous.get(s.url("/ping")).send().await.is_err(),
        "no client certificate, no connection"
    );
    let identified = tls_client(
        &certs.ca_cert,
        false,
        Some((&certs.client_cert, &certs.client_key)),
    );
    let r = identified.get(s.url("/ping")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A certificate from another CA is refused.
    let other = tempfile::tempdir().unwrap();
    let stranger = TestCerts::generate(other.path()).unwrap();
    let foreign = tls_client(
        &certs.ca_cert,
        false,
        Some((&stranger.client_cert, &stranger.client_key)),
    );
    assert!(foreign.get(s.url("/ping")).send().await.is_err());
}

#[tokio::test]
async fn plain_tcp_speaks_http2_with_prior_knowledge() {
    let s = TestServer::start().await;
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2c
        .post(s.url("/api/v1/auth/json"))
        .json(&login("alice@example.test", "alice-secret", "192.0.2.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
}

// ---------------------------------------------------------------------------------------------
// PROXY v2 and trusted proxies

const BUCKETS: &str = "brute_force:\n  buckets:\n    - {name: b24, period: 1h, cidr: 24, ipv4: true, failed_requests: 3, ban_time: 1h}\n";

#[tokio::test]
async fn proxy_v2_source_is_the_client_of_basic_auth_in_brute_force_and_the_log() {
    let s = TestServer::with_config("features: [brute_force]\nhaproxy_v2: true", BUCKETS).await;
    let addr = s.server.addr;
    let via_proxy = proxy_header("198.51.100.7:4711", addr);
    let (logs, guard) = capture_logs();
    for i in 0..3 {
        let answer = raw_http(
            addr,
            &via_proxy,
            &basic_request("alice@example.test", &format!("guess-{i}")),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
        assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    drop(guard);
    let text = logs.text();
    let auth_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("authentication fail"))
        .collect();
    assert_eq!(auth_lines.len(), 3, "{text}");
    assert!(
        auth_lines
            .iter()
            .all(|l| l.contains("client_ip=\"198.51.100.7\"") && l.contains("client_port=\"4711\"")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("request") && l.contains("peer=198.51.100.7")),
        "the access log shows the proxied peer: {text}"
    );

    let list = raw_http(
        addr,
        &via_proxy,
        "POST /api/v1/bruteforce/list HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        raw_body(&list)["result"][0]["ip_addresses"],
        json!({"198.51.100.0/24": "b24"}),
        "the failures counted against the proxied network: {list}"
    );
    // The right password from the banned network fails; from another proxied network it works.
    let banned = raw_http(
        addr,
        &via_proxy,
        &basic_request("alice@example.test", "alice-secret"),
    )
    .await;
    assert!(!banned.starts_with("HTTP/1.1 200"), "{banned}");
    let other = proxy_header("203.0.113.9:1000", addr);
    let fine = raw_http(addr, &other, &basic_request("alice@example.test", "alice-secret")).await;
    assert!(fine.starts_with("HTTP/1.1 200"), "{fine}");
    // A LOCAL header (the proxy's health check) keeps the TCP peer.
    let local = Builder::new(Version::Two | ProxyCommand::Local, Protocol::Unspecified as u8)
        .build()
        .unwrap();
    let ping = raw_http(
        addr,
        &local,
        "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(ping.starts_with("HTTP/1.1 200"), "{ping}");
    // Without a header, or with a v1 text header, the connection is closed unanswered.
    let bare = raw_http(
        addr,
        b"",
        "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(bare, "", "no PROXY header, no answer");
    let v1 = raw_http(
        addr,
        b"PROXY TCP4 198.51.100.8 127.0.0.1 4711 9080\r\n",
        "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(v1, "", "a v1 header is not v2");
}

#[tokio::test]
async fn proxy_v2_then_tls_serves_https_with_the_proxied_peer() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path()).unwrap();
    std::fs::write(dir.path().join("users.passwd"), "alice@example.test:{PLAIN}pw\n").unwrap();
    let yaml = tls_yaml(&certs, "").replace("  tls:\n", "  haproxy_v2: true\n  tls:\n");
    let proxied = TestServer::from_yaml(dir, &yaml).await;
    let addr = proxied.server.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&proxy_header("198.51.100.20:5555", addr))
        .await
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(&certs.ca_cert).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, stream).await.unwrap();
    tls.write_all(basic_request("alice@example.test", "pw").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_trusted_proxies() {
    let s = TestServer::with_config("features: [brute_force]\ntrusted_proxies: [127.0.0.1]", BUCKETS).await;
    for i in 0..3 {
        let r = s
            .http
            .get(s.url("/api/v1/auth/basic"))
            .basic_auth("alice@example.test", Some(format!("guess-{i}")))
            // The left part is the client's own claim; the right-most untrusted entry counts.
            .header("X-Forwarded-For", "203.0.113.1, 198.51.100.33")
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 200);
    }
    let body: Value = s
        .http
        .post(s.url("/api/v1/bruteforce/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["result"][0]["ip_addresses"],
        json!({"198.51.100.0/24": "b24"}),
        "{body}"
    );

    // Without trusted proxies the header is ignored: the TCP peer counts.
    let untrusting = TestServer::with_config("features: [brute_force]", BUCKETS).await;
    for i in 0..3 {
        untrusting
            .http
            .get(untrusting.url("/api/v1/auth/basic"))
            .basic_auth("alice@example.test", Some(format!("guess-{i}")))
            .header("X-Forwarded-For", "198.51.100.33")
            .send()
            .await
            .unwrap();
    }
    let body: Value = untrusting
        .http
        .post(untrusting.url("/api/v1/bruteforce/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["result"][0]["ip_addresses"],
        json!({"127.0.0.0/24": "b24"}),
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Compression

#[tokio::test]
async fn account_lists_are_gzipped_for_clients_that_accept_it_and_logins_never() {
    let users: String = (0..300)
        .map(|i| format!("user{i:03}@example.test:{{PLAIN}}pw\n"))
        .collect();
    let s = TestServer::with_users(&users, "", "").await;
    let list = "/api/v1/auth/json?mode=list-accounts";
    let json = ("Accept", "application/json");
    let r = s.get_with(list, &[json, ("Accept-Encoding", "gzip")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(crate::support::header(&r, "content-encoding"), "gzip");
    let compressed = r.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        compressed.len() < text.len(),
        "{} vs {}",
        compressed.len(),
        text.len()
    );
    let accounts: Vec<String> = serde_json::from_str(&text).unwrap();
    assert_eq!(accounts.len(), 300);

    let r = s.get_with(list, &[json]).await;
    assert_eq!(crate::support::header(&r, "content-encoding"), "");
    let plain: Vec<String> = r.json().await.unwrap();
    assert_eq!(plain, accounts);
    let r = s.get_with(list, &[json, ("Accept-Encoding", "br")]).await;
    assert_eq!(crate::support::header(&r, "content-encoding"), "", "gzip only");

    let r = s
        .http
        .post(s.url("/api/v1/auth/json"))
        .header("Accept-Encoding", "gzip")
        .json(&login("user001@example.test", "pw", "192.0.2.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        crate::support::header(&r, "content-encoding"),
        "",
        "logins are not compressed"
    );
}

// ---------------------------------------------------------------------------------------------
// Docs

#[test]
fn the_deployment_page_shows_the_deploy_files_as_they_are() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let page = std::fs::read_to_string(root.join("docs/deployment.md")).unwrap();
    for file in ["deploy/nauthilus.service", "deploy/Dockerfile"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(
            page.contains(&text),
            "docs/deployment.md does not show {file} as it is"
        );
    }
    let unit = std::fs::read_to_string(root.join("deploy/nauthilus.service")).unwrap();
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
}
