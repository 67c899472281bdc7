//! `backend_server_monitoring`: every configured upstream is checked in the background — connect,
//! TLS when the port speaks it, and with `deep_check` the protocol greeting and a real login
//! with the test credentials (only over TLS) — one check at a time per server, each bounded by
//! `timeout`, the next one `interval` (plus up to 20% random jitter) after the previous ended, so
//! checks never pile up on a slow server. The nginx endpoint names a healthy server of the
//! request's protocol, in turn; no login ever waits on a check.
//!
//! A server is unhealthy until its first check passes. The checks stop when the monitor (the
//! pipeline of one configuration) is dropped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use nauthilus_config::{BackendServer, Config};
use rand::Rng;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::outcome::Upstream;

/// HAProxy PROXY protocol v2, command LOCAL (the check's own connection, no client address).
const PROXY_V2_LOCAL: [u8; 16] = [
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00,
];

struct Watched {
    server: BackendServer,
    healthy: AtomicBool,
}

struct Inner {
    /// Per protocol (lower case): its servers and the round-robin position.
    by_protocol: BTreeMap<String, (Vec<Arc<Watched>>, AtomicUsize)>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Why the nginx endpoint cannot name an upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no healthy backend server for this protocol")]
pub struct NoHealthyServer;

/// The health of the monitored upstreams (cheap to clone).
#[derive(Clone)]
pub struct BackendMonitor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BackendMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendMonitor")
            .field("protocols", &self.inner.by_protocol.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl BackendMonitor {
    /// Starts checking the servers of `config.backend_server_monitoring`. Must run inside a Tokio
    /// runtime.
    pub fn start(config: &Config) -> Result<Self, String> {
        let monitoring = &config.backend_server_monitoring;
        let interval = monitoring.interval.get();
        let timeout = monitoring.timeout.get();
        let mut by_protocol: BTreeMap<String, (Vec<Arc<Watched>>, AtomicUsize)> = BTreeMap::new();
        let mut tasks = Vec::new();
        for server in &monitoring.backend_servers {
            let tls = server
                .tls
                .then(|| tls_config(server.tls_skip_verify))
                .transpose()?;
            let watched = Arc::new(Watched {
                server: server.clone(),
                healthy: AtomicBool::new(false),
            });
            by_protocol
                .entry(server.protocol.to_ascii_lowercase())
                .or_insert_with(|| (Vec::new(), AtomicUsize::new(0)))
                .0
                .push(watched.clone());
            tasks.push(tokio::spawn(watch(watched, tls, interval, timeout)));
        }
        Ok(Self {
            inner: Arc::new(Inner { by_protocol, tasks }),
        })
    }

    /// The next healthy server for `protocol` (round robin); `None` when no server is
    /// configured for it (the configured upstream applies), `Err` when none is healthy.
    pub fn upstream(&self, protocol: &str) -> Option<Result<Upstream, NoHealthyServer>> {
        let (servers, next) = self.inner.by_protocol.get(protocol)?;
        let healthy: Vec<&Arc<Watched>> = servers
            .iter()
            .filter(|s| s.healthy.load(Ordering::Relaxed))
            .collect();
        if healthy.is_empty() {
            return Some(Err(NoHealthyServer));
        }
        let pick = healthy[next.fetch_add(1, Ordering::Relaxed) % healthy.len()];
        Some(Ok(Upstream {
            server: pick.server.host.clone(),
            port: pick.server.port,
        }))
    }

    /// `(protocol, host, port, healthy)` of every server, for status pages and metrics.
    pub fn status(&self) -> Vec<(String, String, u16, bool)> {
        self.inner
            .by_protocol
            .iter()
            .flat_map(|(protocol, (servers, _))| {
                servers.iter().map(move |s| {
                    (
                        protocol.clone(),
                        s.server.host.clone(),
                        s.server.port,
                        s.healthy.load(Ordering::Relaxed),
                    )
                })
            })
            .collect()
    }
}

fn tls_config(skip_verify: bool) -> Result<Arc<ClientConfig>, String> {
    let provider = nauthilus_tls::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("backend_server_monitoring: TLS: {e}"))?;
    let builder = if skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(
            nauthilus_tls::AcceptAnyServerCertificate::new(&provider),
        ))
    } else {
        let roots = nauthilus_tls::root_store("", false)
            .map_err(|e| format!("backend_server_monitoring: TLS: {e}"))?;
        builder.with_root_certificates(roots)
    };
    Ok(Arc::new(builder.with_no_client_auth()))
}

/// Checks one server forever: check, record, sleep, repeat.
async fn watch(watched: Arc<Watched>, tls: Option<Arc<ClientConfig>>, interval: Duration, timeout: Duration) {
    let s = &watched.server;
    loop {
        let result = match tokio::time::timeout(timeout, check(s, tls.clone())).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        };
        let healthy = result.is_ok();
        let was = watched.healthy.swap(healthy, Ordering::Relaxed);
        match (&result, was) {
            (Ok(()), false) => {
                tracing::info!(protocol = %s.protocol, host = %s.host, port = s.port, "backend server healthy");
            }
            (Err(e), true) => {
                tracing::warn!(protocol = %s.protocol, host = %s.host, port = s.port, error = %e, "backend server down");
            }
            (Err(e), false) => {
                tracing::debug!(protocol = %s.protocol, host = %s.host, port = s.port, error = %e, "backend server still down");
            }
            (Ok(()), true) => {}
        }
        let jitter = interval.mul_f64(rand::rng().random_range(0.0..0.2));
        tokio::time::sleep(interval + jitter).await;
    }
}

async fn check(s: &BackendServer, tls: Option<Arc<ClientConfig>>) -> Result<(), String> {
    let mut tcp = TcpStream::connect((s.host.as_str(), s.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    if s.haproxy_v2 {
        tcp.write_all(&PROXY_V2_LOCAL)
            .await
            .map_err(|e| format!("PROXY header: {e}"))?;
    }
    match tls.filter(|_| s.protocol != "sieve") {
        Some(config) => {
            let name = ServerName::try_from(s.host.clone()).map_err(|e| format!("TLS server name: {e}"))?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake: {e}"))?;
            dialogue(s, BufStream::new(stream), true).await
        }
        None => dialogue(s, BufStream::new(tcp), false).await,
    }
}

/// The protocol part of a deep check (nothing without `deep_check`).
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    s: &BackendServer,
    mut io: BufStream<S>,
    tls: bool,
) -> Result<(), String> {
    if !s.deep_check {
        return Ok(());
    }
    let login = !s.test_username.is_empty() && !s.test_password.is_empty();
    let protocol = s.protocol.as_str();
    if login && !tls && protocol != "lmtp" && protocol != "http" {
        return Err("test credentials are sent only over TLS".into());
    }
    let (user, pass) = (s.test_username.as_str(), s.test_password.as_str());
    match protocol {
        "smtp" | "lmtp" => {
            expect(&mut io, "220").await?;
            let hello = if protocol == "lmtp" { "LHLO" } else { "EHLO" };
            send(&mut io, &format!("{hello} nauthilus.monitor")).await?;
            expect_last(&mut io, "250").await?;
            if login && protocol == "smtp" {
                let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
                send(&mut io, "AUTH LOGIN").await?;
                expect(&mut io, "334").await?;
                send(&mut io, &b64(user)).await?;
                expect(&mut io, "334").await?;
                send(&mut io, &b64(pass)).await?;
                expect(&mut io, "235").await?;
            }
            let _ = send(&mut io, "QUIT").await;
        }
        "pop3" => {
            expect(&mut io, "+OK").await?;
            if login {
                send(&mut io, &format!("USER {user}")).await?;
                expect(&mut io, "+OK").await?;
                send(&mut io, &format!("PASS {pass}")).await?;
                expect(&mut io, "+OK").await?;
            }
            let _ = send(&mut io, "QUIT").await;
        }
        "imap" => {
            expect(&mut io, "* OK").await?;
            if login {
                send(&mut io, &format!("a1 LOGIN {} {}", quote(user), quote(pass))).await?;
                loop {
                    let line = read_line(&mut io).await?;
                    if line.starts_with("a1 ") {
                        if line.starts_with("a1 OK") {
                            break;
                        }
                        return Err(format!("login refused: {line}"));
                    }
                }
            }
            let _ = send(&mut io, "a2 LOGOUT").await;
        }
        "sieve" => {
            // The capability list ends with OK.
            loop {
                let line = read_line(&mut io).await?;
                if line.starts_with("OK") {
                    break;
                }
                if line.starts_with("NO") || line.starts_with("BYE") {
                    return Err(format!("greeting: {line}"));
                }
            }
        }
        "http" => {
            let uri = if s.request_uri.is_empty() {
                "/"
            } else {
                s.request_uri.as_str()
            };
            send(
                &mut io,
                &format!("GET {uri} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", s.host),
            )
            .await?;
            let line = read_line(&mut io).await?;
            let code = line.split_whitespace().nth(1).unwrap_or_default();
            if !(line.starts_with("HTTP/") && (code.starts_with('2') || code.starts_with('3'))) {
                return Err(format!("HTTP answer: {line}"));
            }
        }
        other => return Err(format!("unsupported protocol {other:?}")),
    }
    Ok(())
}

/// An IMAP quoted string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufStream<S>, line: &str) -> Result<(), String> {
    io.write_all(format!("{line}\r\n").as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    io.flush().await.map_err(|e| format!("write: {e}"))
}

async fn read_line<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufStream<S>) -> Result<String, String> {
    let mut line = String::new();
    // A line longer than this is not a greeting of any of these protocols.
    let mut limited = (&mut *io).take(4096);
    let n = limited
        .read_line(&mut line)
        .await
        .map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("connection closed".into());
    }
    Ok(line.trim_end().to_owned())
}

/// The next line must start with `prefix`.
async fn expect<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufStream<S>,
    prefix: &str,
) -> Result<(), String> {
    let line = read_line(io).await?;
    if line.starts_with(prefix) {
        Ok(())
    } else {
        Err(format!("expected {prefix:?}, got {line:?}"))
    }
}

/// SMTP multi-line replies: `250-...` lines up to the last `250 ...`.
async fn expect_last<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufStream<S>,
    code: &str,
) -> Result<(), String> {
    loop {
        let line = read_line(io).await?;
        if line.starts_with(&format!("{code}-")) {
            continue;
        }
        if line.starts_with(&format!("{code} ")) || line == code {
            return Ok(());
        }
        return Err(format!("expected {code}, got {line:?}"));
    }
}
