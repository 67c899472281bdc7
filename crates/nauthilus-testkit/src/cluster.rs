//! A private Redis Cluster: N masters joined with `redis-cli --cluster create`.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::TestkitError;
use crate::binary::find_binary;
use crate::resp::info_field;
use crate::server::{Mode, RedisServer, RedisServerBuilder};
use crate::wait::{POLL_INTERVAL, converge};

/// `redis-cli --cluster create` refuses fewer masters.
const MIN_MASTERS: usize = 3;
/// Default time for `redis-cli` plus the nodes agreeing on `cluster_state:ok`.
const DEFAULT_FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// Options for a [`RedisCluster`]; `RedisCluster::builder().masters(3).start()`.
#[derive(Debug, Clone)]
pub struct RedisClusterBuilder {
    masters: usize,
    password: Option<String>,
    config_lines: Vec<String>,
    node_timeout: Duration,
    form_timeout: Duration,
}

impl Default for RedisClusterBuilder {
    fn default() -> Self {
        Self {
            masters: MIN_MASTERS,
            password: None,
            config_lines: Vec::new(),
            node_timeout: Duration::from_secs(5),
            form_timeout: DEFAULT_FORM_TIMEOUT,
        }
    }
}

impl RedisClusterBuilder {
    /// Number of masters (at least 3; default 3). There are no replicas.
    pub fn masters(mut self, masters: usize) -> Self {
        self.masters = masters;
        self
    }

    /// Sets `requirepass` and `masterauth` on every node.
    pub fn requirepass(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Appends one raw line to every node's redis.conf.
    pub fn config_line(mut self, line: impl Into<String>) -> Self {
        self.config_lines.push(line.into());
        self
    }

    /// `cluster-node-timeout` (default 5 s).
    pub fn node_timeout(mut self, timeout: Duration) -> Self {
        self.node_timeout = timeout;
        self
    }

    /// How long `redis-cli` and the convergence to `cluster_state:ok` may take (default 30 s).
    pub fn form_timeout(mut self, timeout: Duration) -> Self {
        self.form_timeout = timeout;
        self
    }

    /// Starts the nodes, creates the cluster and waits until every node reports
    /// `cluster_state:ok` and knows all the others.
    pub fn start(&self) -> Result<RedisCluster, TestkitError> {
        if self.masters < MIN_MASTERS {
            return Err(TestkitError::InvalidSetup(format!(
                "a Redis Cluster needs at least {MIN_MASTERS} masters, {} requested",
                self.masters
            )));
        }
        let cli = find_binary("redis-cli")?;
        let node = self.node_builder();
        let nodes = (0..self.masters)
            .map(|_| node.start())
            .collect::<Result<Vec<_>, _>>()?;
        let cluster = RedisCluster { nodes };
        self.create(&cli, &cluster)?;
        for node in &cluster.nodes {
            converge(
                || {
                    format!(
                        "cluster_state:ok with {} known nodes on {}",
                        self.masters,
                        node.addr()
                    )
                },
                self.form_timeout,
                || {
                    let info = node.text(&["CLUSTER", "INFO"]).map_err(|err| err.to_string())?;
                    let state_ok = info_field(&info, "cluster_state") == Some("ok");
                    let known = info_field(&info, "cluster_known_nodes") == Some(&self.masters.to_string());
                    if state_ok && known { Ok(()) } else { Err(info) }
                },
            )?;
        }
        Ok(cluster)
    }

    fn node_builder(&self) -> RedisServerBuilder {
        let mut node = RedisServerBuilder::with_mode(Mode::ClusterNode)
            .config_line("cluster-enabled yes")
            .config_line("cluster-config-file nodes.conf")
            .config_line(format!("cluster-node-timeout {}", self.node_timeout.as_millis()));
        if let Some(password) = &self.password {
            node = node
                .requirepass(password.clone())
                .config_line(format!("masterauth {}", crate::server::quote(password)));
        }
        self.config_lines
            .iter()
            .fold(node, |node, line| node.config_line(line.clone()))
    }

    /// Runs `redis-cli --cluster create <addrs> --cluster-replicas 0 --cluster-yes`.
    fn create(&self, cli: &Path, cluster: &RedisCluster) -> Result<(), TestkitError> {
        // Output goes to an anonymous file rather than a pipe so that polling for the exit cannot
        // deadlock on a full pipe.
        let output = tempfile::tempfile().map_err(|err| TestkitError::io("creating a temp file", err))?;
        let stderr = output
            .try_clone()
            .map_err(|err| TestkitError::io("duplicating a file handle", err))?;
        let mut command = Command::new(cli);
        if let Some(password) = &self.password {
            // REDISCLI_AUTH keeps the password out of the process list and avoids the warning.
            command.env("REDISCLI_AUTH", password);
        }
        let mut child = command
            .arg("--cluster")
            .arg("create")
            .args(cluster.node_addrs())
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(
                output
                    .try_clone()
                    .map_err(|err| TestkitError::io("duplicating a file handle", err))?,
            )
            .stderr(stderr)
            .spawn()
            .map_err(|err| TestkitError::io(format!("running {}", cli.display()), err))?;
        let deadline = Instant::now() + self.form_timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(format!("timed out after {:?}", self.form_timeout));
                }
                Ok(None) => thread::sleep(POLL_INTERVAL),
                Err(err) => break Err(format!("waiting for redis-cli: {err}")),
            }
        };
        let text = read_all(output);
        match status {
            Ok(status) if status.success() && text.contains("All 16384 slots covered") => Ok(()),
            Ok(status) => Err(TestkitError::ClusterCreate {
                status: status.to_string(),
                output: text,
            }),
            Err(reason) => Err(TestkitError::ClusterCreate {
                status: reason,
                output: text,
            }),
        }
    }
}

fn read_all(mut file: File) -> String {
    let mut bytes = Vec::new();
    match file.rewind().and_then(|()| file.read_to_end(&mut bytes)) {
        Ok(_) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(err) => format!("(output unreadable: {err})"),
    }
}

/// A private Redis Cluster of masters on free loopback ports (bus ports at port + 10000).
///
/// Dropping it stops every node; see [`RedisServer`] for cleanup when kept in a static.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Options for a cluster to start.
    pub fn builder() -> RedisClusterBuilder {
        RedisClusterBuilder::default()
    }

    /// Starts a 3-master cluster without password.
    pub fn start() -> Result<Self, TestkitError> {
        Self::builder().start()
    }

    /// The nodes, e.g. to stop one or to read its log.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// `127.0.0.1:<port>` of every node.
    pub fn node_addrs(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::addr).collect()
    }

    /// Seed list for cluster clients: `127.0.0.1:<port>` of every node (all are masters).
    pub fn seed_addrs(&self) -> Vec<String> {
        self.node_addrs()
    }

    /// `redis://127.0.0.1:<port>` of every node, as the `redis` crate's `ClusterClient` takes them.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}
