//! Opening connections: `server.redis` turned into a `Connector` (standalone server, masters
//! found through Sentinel, or a Cluster), which opens a batch of connections on request.
//!
//! Standalone and Sentinel connections are ours from the socket up: TCP bounded by
//! `dial_timeout`, our TLS, then the redis crate's handshake (AUTH, SELECT) on that stream.
//! Cluster connections are the redis crate's `ClusterConnection`, which follows the topology
//! and reconnects to nodes by itself.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use nauthilus_config::{RedisConfig, RedisMode};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline, RedisConnectionInfo,
    RedisFuture, Value,
};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::sentinel::SentinelTarget;
use super::tls;
use crate::StoreError;

/// Used when `dial_timeout` is zero (go-redis reads zero as "default" too).
const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Used when both `read_timeout` and `write_timeout` are zero.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

/// One connection of the pool: to the one server (standalone, Sentinel's master) or to the
/// cluster. Cloning it is cheap; clones share the socket(s).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A `host:port` from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(super) host: String,
    pub(super) port: u16,
}

impl Endpoint {
    /// Parses `host:port` or `[v6]:port`.
    pub(crate) fn parse(setting: &str, text: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::Config(format!("{setting}: {text:?} is not host:port"));
        let (host, port) = text.trim().rsplit_once(':').ok_or_else(bad)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 || host.contains(['/', ' ']) {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Where connections go, and how to open them.
pub(crate) struct Connector {
    target: Target,
    tls: Option<Arc<ClientConfig>>,
    dial_timeout: Duration,
    command_timeout: Duration,
}

enum Target {
    Standalone {
        server: Endpoint,
        auth: RedisConnectionInfo,
    },
    Sentinel(SentinelTarget),
    Cluster {
        client: Box<ClusterClient>,
        seeds: Vec<Endpoint>,
    },
}

impl Connector {
    /// Checks the settings and reads TLS files; opens nothing.
    pub(crate) fn from_config(config: &RedisConfig) -> Result<Self, StoreError> {
        let dial_timeout = non_zero(config.dial_timeout.get(), DEFAULT_DIAL_TIMEOUT);
        let command_timeout = non_zero(
            config.read_timeout.get().max(config.write_timeout.get()),
            DEFAULT_COMMAND_TIMEOUT,
        );
        let db = i64::from(config.database_number);
        let mode = config.mode();
        // Cluster connections get their TLS settings through the cluster client instead.
        let tls = match mode {
            RedisMode::Standalone | RedisMode::Sentinel if config.tls.enabled => {
                Some(tls::client_config(&config.tls)?)
            }
            _ => None,
        };
        let target = match mode {
            RedisMode::Embedded => {
                return Err(StoreError::Config(
                    "server.redis names no master, sentinels or cluster (embedded mode uses the in-process store)"
                        .into(),
                ));
            }
            RedisMode::Standalone => Target::Standalone {
                server: Endpoint::parse("server.redis.master.address", &config.master.address)?,
                auth: auth(&config.master.username, &config.master.password, db),
            },
            RedisMode::Sentinel => Target::Sentinel(SentinelTarget::new(
                config.sentinels.master.clone(),
                endpoints("server.redis.sentinels.addresses", &config.sentinels.addresses)?,
                auth(&config.sentinels.username, &config.sentinels.password, 0).set_skip_set_lib_name(),
                auth(&config.master.username, &config.master.password, db),
            )),
            RedisMode::Cluster => {
                let seeds = endpoints("server.redis.cluster.addresses", &config.cluster.addresses)?;
                Target::Cluster {
                    client: Box::new(cluster_client(config, &seeds, dial_timeout, command_timeout)?),
                    seeds,
                }
            }
        };
        Ok(Self {
            tls,
            target,
            dial_timeout,
            command_timeout,
        })
    }

    /// The bound on opening one connection: dial, then the handshake.
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.dial_timeout + self.command_timeout
    }

    /// The bound on one command.
    pub(crate) fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// `standalone`, `sentinel` or `cluster`.
    pub(crate) fn mode(&self) -> &'static str {
        match self.target {
            Target::Standalone { .. } => "standalone",
            Target::Sentinel(_) => "sentinel",
            Target::Cluster { .. } => "cluster",
        }
    }

    /// The Sentinel setup, in Sentinel mode.
    pub(crate) fn sentinel(&self) -> Option<&SentinelTarget> {
        match &self.target {
            Target::Sentinel(sentinel) => Some(sentinel),
            _ => None,
        }
    }

    /// True when every connection goes to the same server, so one connection seeing that
    /// server go away means they all will.
    pub(crate) fn single_server(&self) -> bool {
        !matches!(self.target, Target::Cluster { .. })
    }

    /// Opens `count` connections (resolving the Sentinel master once for all of them).
    /// Each is bounded by the dial timeout plus one command timeout for the handshake.
    pub(crate) async fn open(&self, count: usize) -> Vec<Result<Conn, String>> {
        match &self.target {
            Target::Standalone { server, auth } => {
                join_all((0..count).map(|_| async { self.open_single(server, auth).await.map(Conn::Single) }))
                    .await
            }
            Target::Sentinel(sentinel) => sentinel.open_master(self, count).await,
            Target::Cluster { client, seeds } => {
                let bound = self.connect_timeout();
                join_all((0..count).map(|_| async {
                    match timeout(bound, client.get_async_connection()).await {
                        Ok(Ok(conn)) => Ok(Conn::Cluster(conn)),
                        Ok(Err(e)) => Err(format!("cluster {}: {e}", list(seeds))),
                        Err(_) => Err(format!("cluster {}: no connection within {bound:?}", list(seeds))),
                    }
                }))
                .await
            }
        }
    }

    /// A socket to `to`: TCP and (if configured) TLS, within the dial timeout.
    pub(super) async fn open_stream(&self, to: &Endpoint) -> Result<Box<dyn Io>, String> {
        let tcp = self
            .bounded(self.dial_timeout, to, "connect", async {
                let tcp = TcpStream::connect((to.host.as_str(), to.port)).await?;
                tcp.set_nodelay(true)?;
                Ok::<_, std::io::Error>(tcp)
            })
            .await?;
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some(config) => {
                let name = ServerName::try_from(to.host.clone()).map_err(|e| format!("{to}: {e}"))?;
                let tls = TlsConnector::from(config.clone()).connect(name, tcp);
                Ok(Box::new(self.bounded(self.dial_timeout, to, "TLS", tls).await?))
            }
        }
    }

    /// A multiplexed connection to `to`, authenticated and on the configured database.
    pub(super) async fn open_single(
        &self,
        to: &Endpoint,
        auth: &RedisConnectionInfo,
    ) -> Result<MultiplexedConnection, String> {
        let stream = self.open_stream(to).await?;
        // Our own timeout bounds every command; the crate's (500 ms by default) would cut it short.
        let config = AsyncConnectionConfig::new()
            .set_response_timeout(None)
            .set_connection_timeout(None);
        let handshake = MultiplexedConnection::new_with_config(auth, stream, config);
        let (conn, driver) = self
            .bounded(self.command_timeout, to, "handshake", handshake)
            .await?;
        // The driver ends when the socket closes or the last clone of `conn` is dropped.
        tokio::spawn(driver);
        Ok(conn)
    }

    /// `work` within `limit`, its error or the timeout described with the peer and the step.
    pub(super) async fn bounded<T, E: fmt::Display>(
        &self,
        limit: Duration,
        to: &Endpoint,
        step: &str,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, String> {
        match timeout(limit, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(format!("{to}: {step}: {e}")),
            Err(_) => Err(format!("{to}: {step}: no answer within {limit:?}")),
        }
    }
}

/// A byte stream to a server: plain TCP or TLS over it.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Addresses only: the auth fields hold passwords.
        let mut d = f.debug_struct("Connector");
        d.field("mode", &self.mode());
        match &self.target {
            Target::Standalone { server, .. } => d.field("server", &server.to_string()),
            Target::Sentinel(sentinel) => d.field("sentinel", sentinel),
            Target::Cluster { seeds, .. } => d.field("seeds", &list(seeds)),
        };
        d.field("tls", &self.tls.is_some()).finish()
    }
}

fn cluster_client(
    config: &RedisConfig,
    seeds: &[Endpoint],
    dial_timeout: Duration,
    command_timeout: Duration,
) -> Result<ClusterClient, StoreError> {
    let tls = if config.tls.enabled {
        Some(tls::cluster_tls(&config.tls)?)
    } else {
        None
    };
    let nodes = seeds
        .iter()
        .map(|seed| {
            let addr = match &tls {
                None => ConnectionAddr::Tcp(seed.host.clone(), seed.port),
                Some((mode, _)) => ConnectionAddr::TcpTls {
                    host: seed.host.clone(),
                    port: seed.port,
                    insecure: matches!(mode, redis::TlsMode::Insecure),
                    tls_params: None,
                },
            };
            addr.into_connection_info()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Config(format!("server.redis.cluster.addresses: {e}")))?;
    let mut builder = ClusterClientBuilder::new(nodes)
        .connection_timeout(dial_timeout)
        .response_timeout(command_timeout)
        .overall_response_timeout(Some(command_timeout))
        // Give up quickly on an unreachable node: the caller answers a temporary failure and the
        // client keeps reconnecting on later commands.
        .retries(2)
        .min_retry_wait(10)
        .max_retry_wait(100);
    if !config.cluster.username.is_empty() {
        builder = builder.username(&config.cluster.username);
    }
    if !config.cluster.password.is_empty() {
        builder = builder.password(&config.cluster.password);
    }
    if let Some((mode, certificates)) = tls {
        builder = builder.tls(mode).certs(certificates);
    }
    builder
        .build()
        .map_err(|e| StoreError::Config(format!("server.redis.cluster: {e}")))
}

fn auth(username: &str, password: &str, db: i64) -> RedisConnectionInfo {
    let mut info = RedisConnectionInfo::default().set_db(db);
    if !username.is_empty() {
        info = info.set_username(username);
    }
    if !password.is_empty() {
        info = info.set_password(password);
    }
    info
}

fn endpoints(setting: &str, addresses: &[String]) -> Result<Vec<Endpoint>, StoreError> {
    addresses.iter().map(|a| Endpoint::parse(setting, a)).collect()
}

pub(super) fn list(endpoints: &[Endpoint]) -> String {
    endpoints
        .iter()
        .map(Endpoint::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn non_zero(value: Duration, default: Duration) -> Duration {
    if value.is_zero() { default } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_host_and_port() {
        let e = Endpoint::parse("k", "redis.example:6380").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("redis.example", 6380));
        let e = Endpoint::parse("k", "[::1]:6379").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.to_string().as_str()),
            ("::1", 6379, "[::1]:6379")
        );
        for bad in [
            "",
            "host",
            "host:",
            ":6379",
            "host:0",
            "host:99999",
            "redis://host:6379",
        ] {
            assert!(
                matches!(Endpoint::parse("k", bad), Err(StoreError::Config(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn embedded_mode_cannot_connect() {
        assert!(matches!(
            Connector::from_config(&RedisConfig::default()),
            Err(StoreError::Config(_))
        ));
    }

    #[test]
    fn debug_output_never_shows_passwords() {
        let mut config = RedisConfig::default();
        config.master.address = "127.0.0.1:6379".into();
        config.master.password = "hunter2-secret".into();
        let text = format!("{:?}", Connector::from_config(&config).unwrap());
        assert!(
            text.contains("127.0.0.1:6379") && !text.contains("hunter2"),
            "{text}"
        );
        config.sentinels.master = "mymaster".into();
        config.sentinels.addresses = vec!["127.0.0.1:26379".into()];
        config.sentinels.password = "sentinel-secret".into();
        let text = format!("{:?}", Connector::from_config(&config).unwrap());
        assert!(!text.contains("secret") && text.contains("mymaster"), "{text}");
    }

    #[test]
    fn zero_timeouts_mean_the_defaults() {
        let mut config = RedisConfig::default();
        config.master.address = "127.0.0.1:6379".into();
        config.read_timeout = nauthilus_config::ConfigDuration::from_secs(0);
        config.write_timeout = nauthilus_config::ConfigDuration::from_millis(0);
        config.dial_timeout = nauthilus_config::ConfigDuration::from_secs(0);
        let c = Connector::from_config(&config).unwrap();
        assert_eq!(
            (c.command_timeout, c.dial_timeout),
            (DEFAULT_COMMAND_TIMEOUT, DEFAULT_DIAL_TIMEOUT)
        );
        config.write_timeout = nauthilus_config::ConfigDuration::from_secs(3);
        assert_eq!(
            Connector::from_config(&config).unwrap().command_timeout,
            Duration::from_secs(3)
        );
    }
}
