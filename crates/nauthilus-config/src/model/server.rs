//! The `server:` section.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::backend::BackendName;
use super::headers::RequestHeaders;
use super::redis::RedisConfig;
use crate::duration::ConfigDuration;

/// `server:`: listener, backends, logging, request headers, Redis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    pub address: String,
    pub instance_name: String,
    pub backends: Vec<BackendName>,
    pub features: Vec<String>,
    pub brute_force_protocols: Vec<String>,
    pub max_concurrent_requests: u64,
    pub password_hash_workers: u64,
    pub timeouts: ServerTimeouts,
    pub log: LogConfig,
    pub disabled_endpoints: DisabledEndpoints,
    pub default_http_request_header: RequestHeaders,
    pub nginx_backends: BTreeMap<String, NginxBackend>,
    pub redis: RedisConfig,
}

impl ServerConfig {
    /// True when `feature` (`brute_force`, ...) is listed in `server.features`.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            address: "127.0.0.1:9080".into(),
            instance_name: "nauthilus".into(),
            backends: Vec::new(),
            features: Vec::new(),
            brute_force_protocols: Vec::new(),
            max_concurrent_requests: 3000,
            password_hash_workers: 0,
            timeouts: ServerTimeouts::default(),
            log: LogConfig::default(),
            disabled_endpoints: DisabledEndpoints::default(),
            default_http_request_header: RequestHeaders::default(),
            nginx_backends: BTreeMap::new(),
            redis: RedisConfig::default(),
        }
    }
}

/// `server.timeouts`: how long a client may take to send a request. (Nauthilus' own keys in this
/// section, `redis_read`, `ldap_search`, ..., bound calls to other systems; nauthilus-rs has
/// those under `server.redis` and `ldap`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerTimeouts {
    /// Time to send a request's headers (HTTP/1), counted from the connection's start or from
    /// the end of the previous response, so it also closes idle keep-alive connections.
    pub header_read: ConfigDuration,
    /// Time to send a request's body, counted once its headers are in.
    pub body_read: ConfigDuration,
}

impl ServerTimeouts {
    /// Default of `server.timeouts.header_read`.
    pub const HEADER_READ: ConfigDuration = ConfigDuration::from_secs(30);
    /// Default of `server.timeouts.body_read`.
    pub const BODY_READ: ConfigDuration = ConfigDuration::from_secs(10);

    /// `header_read`; zero means the default (as Nauthilus treats non-positive timeouts).
    pub fn header_read(&self) -> std::time::Duration {
        non_zero_or(self.header_read, Self::HEADER_READ)
    }

    /// `body_read`; zero means the default.
    pub fn body_read(&self) -> std::time::Duration {
        non_zero_or(self.body_read, Self::BODY_READ)
    }
}

fn non_zero_or(value: ConfigDuration, default: ConfigDuration) -> std::time::Duration {
    if value.get().is_zero() {
        default.get()
    } else {
        value.get()
    }
}

impl Default for ServerTimeouts {
    fn default() -> Self {
        Self {
            header_read: Self::HEADER_READ,
            body_read: Self::BODY_READ,
        }
    }
}

/// `server.log`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    pub json: bool,
    pub color: bool,
    pub level: LogLevel,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            json: false,
            color: false,
            level: LogLevel::Info,
        }
    }
}

/// `server.log.level`, from quiet to verbose. Nauthilus' `notice` logs like `info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    None,
    Error,
    Warn,
    Notice,
    Info,
    Debug,
}

/// `server.disabled_endpoints`: a disabled endpoint answers 404.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DisabledEndpoints {
    pub auth_header: bool,
    pub auth_json: bool,
    pub auth_basic: bool,
    pub auth_nginx: bool,
    pub auth_saslauthd: bool,
}

/// `server.nginx_backends.<protocol>`: the upstream the nginx endpoint names for a protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NginxBackend {
    pub address: String,
    pub port: u16,
}
