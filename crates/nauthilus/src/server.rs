//! Listening and serving, with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Service;

use crate::wiring::{self, Services, StartupError};
use nauthilus_config::Config;
use nauthilus_http::AppState;

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A server running in the background (what tests and `main` hold).
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The long-lived services.
    pub services: Arc<Services>,
    /// The HTTP state (the pipeline in force).
    pub state: Arc<AppState>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Builds the pipeline `config` describes over the running services and puts it in force
    /// for every request that starts from now on; requests in flight finish on the old one.
    /// On error the old pipeline stays.
    pub fn reload(&self, config: &Config) -> Result<(), StartupError> {
        let pipeline = self.services.pipeline(config)?;
        self.state.swap(pipeline, config);
        Ok(())
    }

    /// Stops accepting, lets in-flight requests finish (bounded), and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        match tokio::time::timeout(SHUTDOWN_GRACE, self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(std::io::Error::other(join)),
            Err(_) => {
                tracing::warn!("requests still running after the shutdown grace period; stopping anyway");
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

/// Normalises `server.address`: an empty host means every interface.
fn listen_address(address: &str) -> String {
    match address.strip_prefix(':') {
        Some(port) => format!("[::]:{port}"),
        None => address.to_owned(),
    }
}

/// Wires `config` and starts serving in the background.
pub async fn start(config: &Config) -> Result<RunningServer, StartupError> {
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
    let app = nauthilus_http::router(state.clone());
    let (stop, stopped) = watch::channel(false);
    let header_read = config.server.timeouts.header_read();
    let task = tokio::spawn(serve(listener, app, header_read, stopped));
    Ok(RunningServer {
        addr,
        services,
        state,
        stop,
        task,
    })
}

/// The accept loop. Each connection is served by hyper (HTTP/1.1, or HTTP/2 with prior
/// knowledge) with:
/// - a header read timeout: an HTTP/1 request's head must arrive within `header_read` of the
///   connection's start or of the previous response, or the connection is closed; a connection
///   on which no request at all reached the router within `header_read` (one that sends nothing,
///   or stalls inside the HTTP/2 preface) is closed too;
/// - the peer address as `ConnectInfo<SocketAddr>` in every request's extensions;
/// - head limits above the router's own (`nauthilus_http::limits`), so that an oversized head
///   normally gets the router's JSON error with the session rather than hyper's bare one.
///
/// On a stop signal it stops accepting and lets open connections finish their requests.
async fn serve(
    listener: TcpListener,
    app: axum::Router,
    header_read: Duration,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read)
        .max_headers(nauthilus_http::limits::HYPER_MAX_HEADERS);
    builder
        .http2()
        .max_header_list_size(nauthilus_http::limits::HYPER_H2_MAX_HEADER_LIST_SIZE);
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
        let started = Arc::new(AtomicBool::new(false));
        let seen = started.clone();
        let router = app.clone();
        let service = service_fn(move |mut request: Request<Incoming>| {
            seen.store(true, Ordering::Relaxed);
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().call(request)
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = &mut connection => return log_connection_end(result),
                () = tokio::time::sleep(header_read) => {}
            }
            if !started.load(Ordering::Relaxed) {
                tracing::debug!(%peer, "closing a connection that sent no request in time");
                return;
            }
            log_connection_end(connection.await);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
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
