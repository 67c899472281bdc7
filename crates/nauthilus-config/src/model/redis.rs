//! `server.redis`: where shared state lives. No address at all means embedded mode.

use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// `server.redis`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    pub master: RedisEndpoint,
    pub sentinels: RedisSentinels,
    pub cluster: RedisCluster,
    pub database_number: u8,
    pub prefix: String,
    pub password_nonce: String,
    pub pool_size: u64,
    pub positive_cache_ttl: ConfigDuration,
    pub dial_timeout: ConfigDuration,
    pub read_timeout: ConfigDuration,
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
            pool_size: 4,
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisEndpoint {
    pub address: String,
    pub username: String,
    pub password: String,
}

/// `server.redis.sentinels`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisSentinels {
    pub master: String,
    pub addresses: Vec<String>,
    pub username: String,
    pub password: String,
}

/// `server.redis.cluster`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisCluster {
    pub addresses: Vec<String>,
    pub username: String,
    pub password: String,
}

/// `server.redis.tls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisTls {
    pub enabled: bool,
    pub skip_verify: bool,
    pub ca_file: String,
    pub cert: String,
    pub key: String,
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
