//! `server.redis`: where shared state lives. No address at all means embedded mode.

use std::num::NonZeroU16;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// `server.redis`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RedisConfig {
    pub master: RedisEndpoint,
    pub sentinels: RedisSentinels,
    pub cluster: RedisCluster,
    /// Database number (not used by Cluster).
    #[schemars(range(max = 15))]
    pub database_number: u8,
    /// Prefix of every key this server writes.
    pub prefix: String,
    /// Secret mixed into password digests (positive cache, brute-force history); at least 16 characters; required with Redis, random per process without.
    #[schemars(schema_with = "crate::schema::secret")]
    pub password_nonce: String,
    /// Multiplexed connections to the master (standalone, Sentinel); in Cluster mode, connections per node.
    #[schemars(range(min = 1, max = 1024))]
    pub pool_size: NonZeroU16,
    /// How long a successful login stays in the positive cache.
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub positive_cache_ttl: ConfigDuration,
    /// Timeout for opening a connection.
    #[schemars(range(max = 60))]
    pub dial_timeout: ConfigDuration,
    /// Timeout for one command's answer.
    #[schemars(range(max = 60))]
    pub read_timeout: ConfigDuration,
    /// Timeout for sending one command (the larger of read and write timeout bounds a command).
    #[schemars(range(max = 60))]
    pub write_timeout: ConfigDuration,
    pub tls: RedisTls,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            master: RedisEndpoint::default(),
            sentinels: RedisSentinels::default(),
            cluster: RedisCluster::default(),
            database_number: 0,
            prefix: "nauthilus:".into(),
            password_nonce: String::new(),
            pool_size: NonZeroU16::new(4).unwrap_or(NonZeroU16::MIN),
            positive_cache_ttl: ConfigDuration::from_secs(3600),
            dial_timeout: ConfigDuration::from_secs(5),
            read_timeout: ConfigDuration::from_secs(1),
            write_timeout: ConfigDuration::from_secs(1),
            tls: RedisTls::default(),
        }
    }
}

/// Which Redis deployment the config selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisMode {
    /// No Redis: state lives in this process.
    Embedded,
    /// One Redis server (`master.address`).
    Standalone,
    /// Masters found through Sentinel (`sentinels.*`).
    Sentinel,
    /// A Redis Cluster (`cluster.addresses`).
    Cluster,
}

impl RedisConfig {
    /// The deployment, chosen as Nauthilus does: cluster, then sentinel, then standalone.
    pub fn mode(&self) -> RedisMode {
        if !self.cluster.addresses.is_empty() {
            RedisMode::Cluster
        } else if !self.sentinels.addresses.is_empty() && !self.sentinels.master.is_empty() {
            RedisMode::Sentinel
        } else if !self.master.address.is_empty() {
            RedisMode::Standalone
        } else {
            RedisMode::Embedded
        }
    }
}

/// `server.redis.master`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RedisEndpoint {
    /// Standalone Redis `host:port`. With no Redis configured, state lives in process (embedded mode).
    #[schemars(schema_with = "crate::schema::host_port")]
    pub address: String,
    /// Redis ACL user name.
    pub username: String,
    /// Redis password.
    #[schemars(schema_with = "crate::schema::secret")]
    pub password: String,
}

/// `server.redis.sentinels`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RedisSentinels {
    /// Name of the master the sentinels watch.
    pub master: String,
    /// Sentinel `host:port` list; with `master` it selects Sentinel mode.
    #[schemars(schema_with = "crate::schema::host_port_list")]
    pub addresses: Vec<String>,
    /// ACL user name for the sentinels.
    pub username: String,
    /// Password for the sentinels.
    #[schemars(schema_with = "crate::schema::secret")]
    pub password: String,
}

/// `server.redis.cluster`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RedisCluster {
    /// Seed nodes of a Redis Cluster; non-empty selects Cluster mode.
    #[schemars(schema_with = "crate::schema::host_port_list")]
    pub addresses: Vec<String>,
    /// ACL user name for the cluster nodes.
    pub username: String,
    /// Password for the cluster nodes.
    #[schemars(schema_with = "crate::schema::secret")]
    pub password: String,
}

/// `server.redis.tls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RedisTls {
    /// Connect to Redis (and to the sentinels) over TLS.
    pub enabled: bool,
    /// Accept any server certificate (testing only).
    pub skip_verify: bool,
    /// PEM file of CA certificates to trust instead of the system roots.
    #[schemars(schema_with = "crate::schema::path")]
    pub ca_file: String,
    /// PEM client certificate for mutual TLS.
    #[schemars(schema_with = "crate::schema::path")]
    pub cert: String,
    /// PEM private key of the client certificate.
    #[schemars(schema_with = "crate::schema::path")]
    pub key: String,
    /// Lowest TLS version accepted (`tls1.3` is not available in Cluster mode).
    #[schemars(extend("enum" = ["tls1.2", "tls1.3"]))]
    pub min_tls_version: String,
}

impl Default for RedisTls {
    fn default() -> Self {
        Self {
            enabled: false,
            skip_verify: false,
            ca_file: String::new(),
            cert: String::new(),
            key: String::new(),
            min_tls_version: "tls1.2".into(),
        }
    }
}
