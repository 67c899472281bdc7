//! A private Sentinel setup: one master, optionally one replica, and N sentinels watching it.

use std::time::Duration;

use crate::TestkitError;
use crate::resp::{Reply, info_field};
use crate::server::{Mode, RedisServer, RedisServerBuilder, quote};
use crate::wait::converge;

/// Default time for the sentinels to see the master (and replica, and each other if asked).
const DEFAULT_CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Options for a [`RedisSentinelSet`]; `RedisSentinelSet::builder().sentinels(3).start()`.
#[derive(Debug, Clone)]
pub struct RedisSentinelSetBuilder {
    master_name: String,
    sentinels: usize,
    quorum: Option<usize>,
    with_replica: bool,
    master_password: Option<String>,
    sentinel_password: Option<String>,
    down_after: Duration,
    failover_timeout: Duration,
    await_peer_discovery: bool,
    converge_timeout: Duration,
}

impl Default for RedisSentinelSetBuilder {
    fn default() -> Self {
        Self {
            master_name: "mymaster".to_owned(),
            sentinels: 1,
            quorum: None,
            with_replica: false,
            master_password: None,
            sentinel_password: None,
            down_after: Duration::from_millis(1000),
            failover_timeout: Duration::from_millis(3000),
            await_peer_discovery: false,
            converge_timeout: DEFAULT_CONVERGE_TIMEOUT,
        }
    }
}

impl RedisSentinelSetBuilder {
    /// Name the sentinels monitor the master under (default `mymaster`).
    pub fn master_name(mut self, name: impl Into<String>) -> Self {
        self.master_name = name.into();
        self
    }

    /// Number of sentinels (default 1).
    pub fn sentinels(mut self, sentinels: usize) -> Self {
        self.sentinels = sentinels;
        self
    }

    /// Sentinels that must agree the master is down (default: a majority of them).
    pub fn quorum(mut self, quorum: usize) -> Self {
        self.quorum = Some(quorum);
        self
    }

    /// Also starts one replica of the master (default: no replica).
    pub fn with_replica(mut self, with_replica: bool) -> Self {
        self.with_replica = with_replica;
        self
    }

    /// `requirepass`/`masterauth` on master and replica, `sentinel auth-pass` on the sentinels.
    pub fn master_password(mut self, password: impl Into<String>) -> Self {
        self.master_password = Some(password.into());
        self
    }

    /// `requirepass` (and `sentinel sentinel-pass`) on the sentinels themselves.
    pub fn sentinel_password(mut self, password: impl Into<String>) -> Self {
        self.sentinel_password = Some(password.into());
        self
    }

    /// `sentinel down-after-milliseconds` (default 1 s, so failover tests stay short).
    pub fn down_after(mut self, down_after: Duration) -> Self {
        self.down_after = down_after;
        self
    }

    /// `sentinel failover-timeout` (default 3 s).
    pub fn failover_timeout(mut self, timeout: Duration) -> Self {
        self.failover_timeout = timeout;
        self
    }

    /// Also wait until every sentinel has discovered all the others (via hello messages every
    /// 2 s); needed before a failover with several sentinels can elect a leader. Default off.
    pub fn await_peer_discovery(mut self, wait: bool) -> Self {
        self.await_peer_discovery = wait;
        self
    }

    /// How long the sentinels may take to report the expected state (default 30 s).
    pub fn converge_timeout(mut self, timeout: Duration) -> Self {
        self.converge_timeout = timeout;
        self
    }

    /// Starts master (and replica), then the sentinels, and waits until every sentinel answers
    /// `SENTINEL get-master-addr-by-name` with the master and sees it connected and up.
    pub fn start(&self) -> Result<RedisSentinelSet, TestkitError> {
        let quorum = self.quorum.unwrap_or(self.sentinels / 2 + 1);
        if self.sentinels == 0 || quorum == 0 || quorum > self.sentinels {
            return Err(TestkitError::InvalidSetup(format!(
                "{} sentinels with quorum {quorum}: need at least one sentinel and 1 <= quorum <= sentinels",
                self.sentinels
            )));
        }
        let master = self.data_node_builder().start()?;
        let replica = if self.with_replica {
            let replica = self
                .data_node_builder()
                .config_line(format!("replicaof 127.0.0.1 {}", master.port()))
                .start()?;
            converge(
                || format!("replica {} linked to master {}", replica.addr(), master.addr()),
                self.converge_timeout,
                || {
                    let info = replica
                        .text(&["INFO", "replication"])
                        .map_err(|err| err.to_string())?;
                    if info_field(&info, "master_link_status") == Some("up") {
                        Ok(())
                    } else {
                        Err(info)
                    }
                },
            )?;
            Some(replica)
        } else {
            None
        };
        let sentinel = self.sentinel_builder(master.port(), quorum);
        let sentinels = (0..self.sentinels)
            .map(|_| sentinel.start())
            .collect::<Result<Vec<_>, _>>()?;
        let set = RedisSentinelSet {
            master_name: self.master_name.clone(),
            sentinels,
            replica,
            master,
        };
        for sentinel in &set.sentinels {
            self.await_sentinel(&set, sentinel)?;
        }
        Ok(set)
    }

    fn data_node_builder(&self) -> RedisServerBuilder {
        match &self.master_password {
            Some(password) => RedisServer::builder()
                .requirepass(password.clone())
                // A demoted master must be able to sync from the promoted replica.
                .config_line(format!("masterauth {}", quote(password))),
            None => RedisServer::builder(),
        }
    }

    fn sentinel_builder(&self, master_port: u16, quorum: usize) -> RedisServerBuilder {
        let name = quote(&self.master_name);
        let mut sentinel = RedisServerBuilder::with_mode(Mode::Sentinel)
            .config_line(format!(
                "sentinel monitor {name} 127.0.0.1 {master_port} {quorum}"
            ))
            .config_line(format!(
                "sentinel down-after-milliseconds {name} {}",
                self.down_after.as_millis()
            ))
            .config_line(format!(
                "sentinel failover-timeout {name} {}",
                self.failover_timeout.as_millis()
            ));
        if let Some(password) = &self.master_password {
            sentinel = sentinel.config_line(format!("sentinel auth-pass {name} {}", quote(password)));
        }
        if let Some(password) = &self.sentinel_password {
            sentinel = sentinel
                .requirepass(password.clone())
                .config_line(format!("sentinel sentinel-pass {}", quote(password)));
        }
        sentinel
    }

    fn await_sentinel(&self, set: &RedisSentinelSet, sentinel: &RedisServer) -> Result<(), TestkitError> {
        let name = self.master_name.as_str();
        let expected = set.master.addr();
        converge(
            || format!("sentinel {} reporting master {expected} as up", sentinel.addr()),
            self.converge_timeout,
            || {
                let reported = sentinel
                    .command(&["SENTINEL", "get-master-addr-by-name", name])
                    .map_err(|err| err.to_string())?;
                if addr_of(&reported).as_deref() != Some(expected.as_str()) {
                    return Err(format!("get-master-addr-by-name: {reported}"));
                }
                // Until its links are up the sentinel flags the master `disconnected`.
                let master = sentinel
                    .command(&["SENTINEL", "master", name])
                    .map_err(|err| err.to_string())?;
                if field(&master, "flags").as_deref() != Some("master") {
                    return Err(format!("SENTINEL master: {master}"));
                }
                if set.replica.is_some() {
                    let replicas = sentinel
                        .command(&["SENTINEL", "replicas", name])
                        .map_err(|err| err.to_string())?;
                    if !matches!(&replicas, Reply::Array(items) if !items.is_empty()) {
                        return Err(format!("SENTINEL replicas: {replicas}"));
                    }
                }
                if self.await_peer_discovery {
                    let peers = sentinel
                        .command(&["SENTINEL", "sentinels", name])
                        .map_err(|err| err.to_string())?;
                    if !matches!(&peers, Reply::Array(items) if items.len() + 1 == self.sentinels) {
                        return Err(format!("SENTINEL sentinels: {peers}"));
                    }
                }
                Ok(())
            },
        )
    }
}

/// `ip:port` from a `get-master-addr-by-name` reply.
fn addr_of(reply: &Reply) -> Option<String> {
    match reply {
        Reply::Array(items) => match items.as_slice() {
            [ip, port] => Some(format!("{}:{}", ip.as_text()?, port.as_text()?)),
            _ => None,
        },
        _ => None,
    }
}

/// Value of `key` in a flat field/value array such as `SENTINEL master`'s reply.
fn field(reply: &Reply, key: &str) -> Option<String> {
    let Reply::Array(items) = reply else {
        return None;
    };
    items
        .chunks(2)
        .find(|pair| pair.first().and_then(Reply::as_text).as_deref() == Some(key))
        .and_then(|pair| pair.get(1))
        .and_then(Reply::as_text)
}

/// A private master (plus optional replica) watched by private sentinels, all on free loopback
/// ports.
///
/// Dropping it stops every process; see [`RedisServer`] for cleanup when kept in a static.
#[derive(Debug)]
pub struct RedisSentinelSet {
    master_name: String,
    // Declared first so the sentinels go before the servers they watch.
    sentinels: Vec<RedisServer>,
    replica: Option<RedisServer>,
    master: RedisServer,
}

impl RedisSentinelSet {
    /// Options for a sentinel set to start.
    pub fn builder() -> RedisSentinelSetBuilder {
        RedisSentinelSetBuilder::default()
    }

    /// Starts a master and one sentinel, without passwords.
    pub fn start() -> Result<Self, TestkitError> {
        Self::builder().start()
    }

    /// The name the sentinels monitor the master under.
    pub fn master_name(&self) -> &str {
        &self.master_name
    }

    /// The server started as master (after a failover it may have become a replica).
    pub fn master(&self) -> &RedisServer {
        &self.master
    }

    /// `127.0.0.1:<port>` of the server started as master.
    pub fn master_addr(&self) -> String {
        self.master.addr()
    }

    /// The replica, if one was asked for.
    pub fn replica(&self) -> Option<&RedisServer> {
        self.replica.as_ref()
    }

    /// The sentinel processes.
    pub fn sentinels(&self) -> &[RedisServer] {
        &self.sentinels
    }

    /// `127.0.0.1:<port>` of every sentinel.
    pub fn sentinel_addrs(&self) -> Vec<String> {
        self.sentinels.iter().map(RedisServer::addr).collect()
    }

    /// The master address the first answering sentinel reports now (changes after a failover).
    pub fn current_master_addr(&self) -> Result<String, TestkitError> {
        let mut last = None;
        for sentinel in &self.sentinels {
            match sentinel.command(&["SENTINEL", "get-master-addr-by-name", &self.master_name]) {
                Ok(reply) => match addr_of(&reply) {
                    Some(addr) => return Ok(addr),
                    None => {
                        last = Some(TestkitError::UnexpectedReply {
                            addr: sentinel.addr(),
                            command: "SENTINEL".to_owned(),
                            reply: reply.to_string(),
                        });
                    }
                },
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| TestkitError::InvalidSetup("no sentinels".to_owned())))
    }
}
