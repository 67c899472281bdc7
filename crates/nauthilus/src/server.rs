//! Listening and serving: TLS, PROXY v2 and trusted proxies in front of HTTP/1.1 and HTTP/2,
//! configuration reload, graceful shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::Service;

use crate::transport::{Transport, read_proxy_header};
use crate::wiring::{self, Services, StartupError};
use nauthilus_config::Config;
use nauthilus_http::AppState;

/// A server running in the background (what tests and `main` hold).
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The long-lived services.
    pub services: Arc<Services>,
    /// The HTTP state (the pipeline in force).
    pub state: Arc<AppState>,
    /// The identity provider in force, when `idp.enabled` (at start).
    pub idp: Option<Arc<nauthilus_idp::IdpService>>,
    /// TLS acceptor and trusted proxies for connections accepted from now on.
    transport: Arc<ArcSwap<Transport>>,
    /// The configuration the server started with: what a reload cannot change is compared
    /// against it.
    started: Config,
    /// `server.timeouts.shutdown` of the configuration in force.
    shutdown_grace: Mutex<Duration>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// What a successful reload did not apply.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Keys whose new value takes effect only after a restart (the old one stays in force).
    pub needs_restart: Vec<&'static str>,
}

impl RunningServer {
    /// `http://addr`, or `https://addr` when the server speaks TLS.
    pub fn url(&self) -> String {
        let scheme = if self.started.server.tls.enabled {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Puts `config` in force for every request and connection that starts from now on:
    /// builds its pipeline over the running services (reusing passwd-files and LDAP pools whose
    /// settings did not change) and its transport (the TLS certificate files are read again,
    /// the trusted proxies parsed); requests in flight finish on the old pipeline, open
    /// connections keep their TLS session. On error nothing changes. Settings that only a
    /// restart can change are listed in the report and stay as they were. The new
    /// configuration's Lua init scripts finish before it serves (as at startup).
    pub async fn reload(&self, config: &Config) -> Result<ReloadReport, StartupError> {
        let transport = Transport::from_config(config)?;
        let pipeline = self.services.pipeline(config)?;
        self.services.lua_init_done().await;
        // The provider is rebuilt over the new pipeline before anything is swapped, so a bad
        // `idp` section leaves the running configuration alone.
        let idp = match &self.idp {
            Some(_) => wiring::build_idp(config, &self.services, pipeline.clone())?,
            None => None,
        };
        self.state.swap(pipeline, config);
        if let (Some(service), Some(idp)) = (&self.idp, idp) {
            service.swap(idp);
        }
        self.transport.store(Arc::new(transport));
        *self.shutdown_grace.lock().unwrap_or_else(|e| e.into_inner()) = config.server.timeouts.shutdown();
        Ok(ReloadReport {
            needs_restart: needs_restart(&self.started, config),
        })
    }

    /// Stops accepting, lets in-flight requests finish (bounded by `server.timeouts.shutdown`),
    /// and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let grace = *self.shutdown_grace.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.stop.send(true);
        match tokio::time::timeout(grace, self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(std::io::Error::other(join)),
            Err(_) => {
                tracing::warn!(
                    grace = ?grace,
                    "requests still running after server.timeouts.shutdown; stopping anyway"
                );
                Ok(())
            }
        }
    }

    /// Waits until the server stops by itself (it does not, unless it fails).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(join) => Err(std::io::Error::other(join)),
        }
    }
}

/// The keys whose change between `old` and `new` a reload cannot apply: the listener, the
/// Redis connection, the router's shape and limits, the log format, the hashing pool.
pub fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let (o, n) = (&old.server, &new.server);
    // The digest nonce and the cache TTL belong to the pipeline; the connection does not.
    let mut redis = n.redis.clone();
    redis.password_nonce.clone_from(&o.redis.password_nonce);
    redis.positive_cache_ttl = o.redis.positive_cache_ttl;
    let differs = [
        ("server.address", o.address != n.address),
        ("server.tls.enabled", o.tls.enabled != n.tls.enabled),
        ("server.haproxy_v2", o.haproxy_v2 != n.haproxy_v2),
        ("server.redis", o.redis != redis),
        (
            "server.disabled_endpoints",
            o.disabled_endpoints != n.disabled_endpoints,
        ),
        (
            "server.max_concurrent_requests",
            o.max_concurrent_requests != n.max_concurrent_requests,
        ),
        (
            "server.timeouts.header_read",
            o.timeouts.header_read() != n.timeouts.header_read(),
        ),
        (
            "server.timeouts.body_read",
            o.timeouts.body_read() != n.timeouts.body_read(),
        ),
        (
            "server.password_hash_workers",
            o.password_hash_workers != n.password_hash_workers,
        ),
        (
            "server.password_hash_memory",
            o.password_hash_memory != n.password_hash_memory,
        ),
        ("server.log.json", o.log.json != n.log.json),
        ("idp.enabled", old.idp.enabled != new.idp.enabled),
        ("server.log.color", o.log.color != n.log.color),
        (
            "passwd_file.check_interval",
            old.passwd_file.check_interval != new.passwd_file.check_interval,
        ),
        ("mfa", old.mfa != new.mfa),
    ];
    differs
        .into_iter()
        .filter_map(|(key, differs)| differs.then_some(key))
        .collect()
}

/// Loads `path` with the loader and environment of startup and puts it in force (what SIGHUP
/// does): every configuration error is logged and the running configuration stays; on success
/// the pipeline, transport and (with `log`) the log level follow the new file, and keys
/// that need a restart are logged. Returns whether the new configuration is in force.
pub async fn reload_from_file(
    server: &RunningServer,
    path: &Path,
    env: Vec<(String, String)>,
    log: Option<&crate::logging::LogGuard>,
) -> bool {
    let loaded = match nauthilus_config::load_file(path, env) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for w in &errors.warnings {
                tracing::warn!(config = %path.display(), "{w}");
            }
            for e in &errors.errors {
                tracing::error!(config = %path.display(), "{e}");
            }
            tracing::error!(
                config = %path.display(),
                errors = errors.errors.len(),
                "reload refused: the configuration has errors; the running one stays in force"
            );
            return false;
        }
    };
    for w in &loaded.warnings {
        tracing::warn!(config = %path.display(), "{w}");
    }
    match server.reload(&loaded.config).await {
        Ok(report) => {
            if let Some(log) = log {
                log.apply(&loaded.config.server.log);
            }
            for key in &report.needs_restart {
                tracing::warn!(
                    key,
                    "changed, but needs a restart to take effect; the old value stays in force"
                );
            }
            tracing::info!(
                config = %path.display(),
                backends = ?loaded.config.server.backends.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "configuration reloaded"
            );
            true
        }
        Err(e) => {
            for line in e.to_string().lines() {
                tracing::error!(config = %path.display(), "{line}");
            }
            tracing::error!(
                config = %path.display(),
                "reload refused: the configuration cannot be put in force; the running one stays"
            );
            false
        }
    }
}

/// Reads the files the listener needs (`server.tls` certificate, key and CA) and parses
/// `server.trusted_proxies`, without listening; for `--config-check`.
pub fn check_transport(config: &Config) -> Result<(), StartupError> {
    Transport::from_config(config)?;
    Ok(())
}

/// Normalises `server.address`: an empty host means every interface.
fn listen_address(address: &str) -> String {
    match address.strip_prefix(':') {
        Some(port) => format!("[::]:{port}"),
        None => address.to_owned(),
    }
}

/// Wires `config` and starts serving in the background.
pub async fn start(config: &Config) -> Result<RunningServer, StartupError> {
    let transport = Arc::new(ArcSwap::from_pointee(Transport::from_config(config)?));
    let address = listen_address(&config.server.address);
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartupError::Bind {
        address: address.clone(),
        source,
    })?;
    let (services, state) = wiring::build(config).await?;
    let idp = wiring::build_idp(config, &services, state.current().pipeline.clone())?
        .map(nauthilus_idp::IdpService::new);
    let app = match &idp {
        Some(service) => nauthilus_http::router_with(state.clone(), nauthilus_idp::router(service.clone())),
        None => nauthilus_http::router(state.clone()),
    };
    let (stop, stopped) = watch::channel(false);
    if let Some(service) = &idp {
        // Signing keys rotate on a schedule (first check now), until the server stops.
        tokio::spawn(nauthilus_idp::keys::run_key_rotation(
            service.clone(),
            stop.subscribe(),
        ));
    }
    let listen = Listen {
        header_read: config.server.timeouts.header_read(),
        haproxy_v2: config.server.haproxy_v2,
        transport: transport.clone(),
    };
    if config.server.tls.enabled {
        tracing::info!(
            min_version = %config.server.tls.min_tls_version,
            client_certificates = if config.server.tls.client_auth {
                "required"
            } else if config.server.tls.ca_file.is_empty() {
                "not asked for"
            } else {
                "checked when presented"
            },
            "TLS on: HTTP/1.1 and HTTP/2 by ALPN"
        );
    }
    let task = tokio::spawn(serve(listener, app, listen, stopped));
    Ok(RunningServer {
        addr,
        services,
        state,
        idp,
        transport,
        started: config.clone(),
        shutdown_grace: Mutex::new(config.server.timeouts.shutdown()),
        stop,
        task,
    })
}

/// What the accept loop needs besides the router.
struct Listen {
    header_read: Duration,
    haproxy_v2: bool,
    transport: Arc<ArcSwap<Transport>>,
}

/// The accept loop. Each connection is served by hyper (HTTP/1.1, or HTTP/2: by ALPN over TLS,
/// with prior knowledge over plain TCP) with:
/// - with `server.haproxy_v2`, a PROXY protocol v2 header first, whose source address becomes
///   the peer; a connection without a valid one is closed;
/// - with `server.tls.enabled`, the TLS handshake, with the acceptor in force when the
///   connection was accepted;
/// - a header read timeout: the PROXY header and the TLS handshake must be done, and an HTTP/1
///   request's head must arrive, within `header_read` of the connection's start (later: of the
///   previous response), or the connection is closed; a connection on which no request at all
///   reached the router within `header_read` (one that sends nothing, or stalls inside the
///   HTTP/2 preface) is closed too;
/// - the peer address as `ConnectInfo<SocketAddr>` in every request's extensions (the PROXY
///   source, or from a trusted proxy the client `X-Forwarded-For` names);
/// - head limits above the router's own (`nauthilus_http::limits`), so that an oversized head
///   normally gets the router's JSON error with the session rather than hyper's bare one.
///
/// On a stop signal it stops accepting and lets open connections finish their requests.
async fn serve(
    listener: TcpListener,
    app: axum::Router,
    listen: Listen,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(listen.header_read)
        .max_headers(nauthilus_http::limits::HYPER_MAX_HEADERS);
    builder
        .http2()
        .max_header_list_size(nauthilus_http::limits::HYPER_H2_MAX_HEADER_LIST_SIZE);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let mut stop_signal = std::pin::pin!(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut stop_signal => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = Conn {
            builder: builder.clone(),
            app: app.clone(),
            transport: listen.transport.load_full(),
            watcher: graceful.watcher(),
            deadline: nauthilus_core::clock::monotonic() + listen.header_read,
        };
        tokio::spawn(conn.run(stream, peer, listen.haproxy_v2));
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One accepted connection, before its handshakes.
struct Conn {
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: axum::Router,
    transport: Arc<Transport>,
    /// Shutdown waits for this connection (from its accept on, handshakes included).
    watcher: Watcher,
    /// The end of the header read timeout of the connection's first request.
    deadline: Instant,
}

impl Conn {
    async fn run(self, mut stream: TcpStream, mut peer: SocketAddr, haproxy_v2: bool) {
        if haproxy_v2 {
            match tokio::time::timeout_at(self.deadline, read_proxy_header(&mut stream)).await {
                Ok(Ok(Some(source))) => peer = source,
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "closing a connection without a valid PROXY v2 header");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "closing a connection that sent no PROXY header in time");
                    return;
                }
            }
        }
        match self.transport.tls.clone() {
            None => self.http(stream, peer).await,
            Some(acceptor) => match tokio::time::timeout_at(self.deadline, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => self.http(tls, peer).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => {
                    tracing::debug!(%peer, "closing a connection whose TLS handshake did not finish in time")
                }
            },
        }
    }

    async fn http<I>(self, io: I, peer: SocketAddr)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let started = Arc::new(AtomicBool::new(false));
        let seen = started.clone();
        let router = self.app;
        let transport = self.transport;
        let service = service_fn(move |mut request: Request<Incoming>| {
            seen.store(true, Ordering::Relaxed);
            let peer = if transport.trusted_proxies.is_empty() {
                peer
            } else {
                crate::transport::forwarded_peer(peer, request.headers(), &transport.trusted_proxies)
            };
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().call(request)
        });
        let connection = self
            .builder
            .serve_connection(TokioIo::new(io), service)
            .into_owned();
        let connection = self.watcher.watch(connection);
        let mut connection = std::pin::pin!(connection);
        tokio::select! {
            result = &mut connection => return log_connection_end(result),
            () = tokio::time::sleep_until(self.deadline) => {}
        }
        if !started.load(Ordering::Relaxed) {
            tracing::debug!(%peer, "closing a connection that sent no request in time");
            return;
        }
        log_connection_end(connection.await);
    }
}

fn log_connection_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Accept errors that concern only the one connection (the next accept may well succeed).
fn is_per_connection(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
