//! Listening and serving, with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

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
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        services,
        state,
        stop,
        task,
    })
}
