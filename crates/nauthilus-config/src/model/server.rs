//! The `server:` section.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backchannel::{BasicAuthConfig, JwtAuthConfig, MasterUserConfig};
use super::backend::BackendName;
use super::features::{DnsConfig, FeatureSetting};
use super::headers::RequestHeaders;
use super::redis::RedisConfig;
use super::transport::ServerTls;
use crate::duration::ConfigDuration;

/// `server:`: listener, backends, logging, request headers, Redis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ServerConfig {
    /// Address and port the HTTP server listens on.
    #[schemars(schema_with = "crate::schema::host_port")]
    pub address: String,
    pub tls: ServerTls,
    /// Expect a PROXY protocol v2 header (HAProxy `send-proxy-v2`) first on every connection and take its source as the peer; a connection without one is closed.
    pub haproxy_v2: bool,
    /// Peers (addresses or networks) whose `X-Forwarded-For` is believed: the right-most address in it that is not listed here becomes the peer.
    #[schemars(schema_with = "crate::schema::net_list", example = serde_json::json!(["127.0.0.1", "10.0.0.0/8"]))]
    pub trusted_proxies: Vec<String>,
    /// Name of this instance, logged at startup.
    pub instance_name: String,
    /// Password databases in the order they are asked: `cache`, `passwd_file`, `ldap`, `ldap(<pool>)`. Required.
    #[schemars(schema_with = "crate::schema::backend_list", extend("x-required" = true))]
    #[schemars(example = serde_json::json!(["cache", "passwd_file"]))]
    pub backends: Vec<BackendName>,
    /// Optional stages: `brute_force`, `tls_encryption`, `relay_domains`, `rbl`, `backend_server_monitoring`; an item may be `{name, when_no_auth}`.
    #[schemars(schema_with = "crate::schema::feature_list", example = serde_json::json!(["tls_encryption", "relay_domains", "rbl", "brute_force", "backend_server_monitoring"]))]
    pub features: Vec<FeatureSetting>,
    /// Protocols brute-force protection applies to (`imap`, `smtp`, ...); empty: every protocol.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub brute_force_protocols: Vec<String>,
    /// Requests served at once; more get 429.
    #[schemars(range(min = 1, max = 10_000_000))]
    pub max_concurrent_requests: NonZeroUsize,
    /// Password hashes verified at once, off the async workers; 0 = number of CPUs.
    #[schemars(range(max = 4096))]
    pub password_hash_workers: u16,
    /// Memory all concurrent password hashes may use together, in MiB (argon2's `m` per hash); a burst waits, a hash needing more is refused.
    #[schemars(range(min = 1, max = 1_048_576))]
    pub password_hash_memory: u32,
    /// Hold an unknown user's failed login back to the running average of known users' logins, so timing does not tell which users exist.
    pub equalize_failure_timing: bool,
    /// How long a client may take to send a request.
    pub timeouts: ServerTimeouts,
    pub log: LogConfig,
    pub metrics: super::metrics::MetricsConfig,
    pub disabled_endpoints: DisabledEndpoints,
    pub default_http_request_header: RequestHeaders,
    /// Upstreams the nginx endpoint names per protocol.
    #[schemars(example = serde_json::json!({"sieve": {"address": "127.0.0.1", "port": 4190}}))]
    pub nginx_backends: BTreeMap<String, NginxBackend>,
    pub redis: RedisConfig,
    pub basic_auth: BasicAuthConfig,
    pub jwt_auth: JwtAuthConfig,
    pub master_user: MasterUserConfig,
    pub dns: DnsConfig,
}

impl ServerConfig {
    /// True when `feature` is listed in `server.features`.
    pub fn has_feature(&self, feature: super::Feature) -> bool {
        self.feature(feature).is_some()
    }

    /// The `server.features` item naming `feature`, if listed.
    pub fn feature(&self, feature: super::Feature) -> Option<&FeatureSetting> {
        self.features.iter().find(|f| f.name == feature.name())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            address: "127.0.0.1:9080".into(),
            tls: ServerTls::default(),
            haproxy_v2: false,
            trusted_proxies: Vec::new(),
            instance_name: "nauthilus".into(),
            backends: Vec::new(),
            features: Vec::new(),
            brute_force_protocols: Vec::new(),
            max_concurrent_requests: NonZeroUsize::new(3000).unwrap_or(NonZeroUsize::MIN),
            password_hash_workers: 0,
            password_hash_memory: 256,
            equalize_failure_timing: true,
            timeouts: ServerTimeouts::default(),
            log: LogConfig::default(),
            metrics: super::metrics::MetricsConfig::default(),
            disabled_endpoints: DisabledEndpoints::default(),
            default_http_request_header: RequestHeaders::default(),
            nginx_backends: BTreeMap::new(),
            redis: RedisConfig::default(),
            basic_auth: BasicAuthConfig::default(),
            jwt_auth: JwtAuthConfig::default(),
            master_user: MasterUserConfig::default(),
            dns: DnsConfig::default(),
        }
    }
}

/// `server.timeouts`: how long a client may take to send a request. (Nauthilus' own keys in this
/// section, `redis_read`, `ldap_search`, ..., bound calls to other systems; nauthilus-rs has
/// those under `server.redis` and `ldap`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ServerTimeouts {
    /// Time to send a request's headers (HTTP/1), from connecting or from the previous response, so idle keep-alive connections close after it too; 0 = default.
    #[schemars(range(max = 3600))]
    pub header_read: ConfigDuration,
    /// Time to send a request's body once its headers are in; a slower one gets 408 and is closed; 0 = default.
    #[schemars(range(max = 3600))]
    pub body_read: ConfigDuration,
    /// Time requests in flight get to finish after SIGTERM or SIGINT before the server exits anyway; 0 = default.
    #[schemars(range(max = 3600))]
    pub shutdown: ConfigDuration,
    /// Longest run of one Lua script call (feature, filter, action, backend, hook); 0 = default.
    #[schemars(range(max = 3600))]
    pub lua_script: ConfigDuration,
}

impl ServerTimeouts {
    /// Default of `server.timeouts.header_read`.
    pub const HEADER_READ: ConfigDuration = ConfigDuration::from_secs(30);
    /// Default of `server.timeouts.body_read`.
    pub const BODY_READ: ConfigDuration = ConfigDuration::from_secs(10);
    /// Default of `server.timeouts.shutdown`.
    pub const SHUTDOWN: ConfigDuration = ConfigDuration::from_secs(30);
    /// Default of `server.timeouts.lua_script`.
    pub const LUA_SCRIPT: ConfigDuration = ConfigDuration::from_secs(30);

    /// `header_read`; zero means the default (as Nauthilus treats non-positive timeouts).
    pub fn header_read(&self) -> std::time::Duration {
        non_zero_or(self.header_read, Self::HEADER_READ)
    }

    /// `body_read`; zero means the default.
    pub fn body_read(&self) -> std::time::Duration {
        non_zero_or(self.body_read, Self::BODY_READ)
    }

    /// `shutdown`; zero means the default.
    pub fn shutdown(&self) -> std::time::Duration {
        non_zero_or(self.shutdown, Self::SHUTDOWN)
    }

    /// `lua_script`; zero means the default.
    pub fn lua_script(&self) -> std::time::Duration {
        non_zero_or(self.lua_script, Self::LUA_SCRIPT)
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
            shutdown: Self::SHUTDOWN,
            lua_script: Self::LUA_SCRIPT,
        }
    }
}

/// `server.log`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LogConfig {
    /// Write logs as JSON lines.
    pub json: bool,
    /// Colour text logs (ignored for JSON).
    pub color: bool,
    /// Log level: none, error, warn, notice (= info), info, debug.
    pub level: LogLevel,
    /// With level debug: modules logging at debug (`all`, `auth`, `ldap`, `ldappool`, `cache`, `brute_force`, `http`, `statistics`, `account`, `jwt`, ...); the rest log at info.
    #[schemars(schema_with = "crate::schema::str_list", example = serde_json::json!(["auth", "ldap"]))]
    pub debug_modules: Vec<String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            json: false,
            color: false,
            level: LogLevel::Info,
            debug_modules: Vec::new(),
        }
    }
}

impl LogConfig {
    /// The `debug_modules` names Nauthilus documents (`all` turns on every one).
    pub const DEBUG_MODULES: &'static [&'static str] = &[
        "all",
        "auth",
        "hydra",
        "webauthn",
        "statistics",
        "whitelist",
        "ldap",
        "ldappool",
        "cache",
        "brute_force",
        "rbl",
        "action",
        "feature",
        "lua",
        "filter",
        "tolerate",
        "neural",
        "jwt",
        "http",
        "account",
    ];
}

/// `server.log.level`, from quiet to verbose. Nauthilus' `notice` logs like `info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DisabledEndpoints {
    /// Disable `/api/v1/auth/header` (404).
    pub auth_header: bool,
    /// Disable `/api/v1/auth/json` (404).
    pub auth_json: bool,
    /// Disable `/api/v1/auth/basic` (404).
    pub auth_basic: bool,
    /// Disable `/api/v1/auth/nginx` (404).
    pub auth_nginx: bool,
    /// Disable `/api/v1/auth/saslauthd` (404).
    pub auth_saslauthd: bool,
    /// Disable `/api/v1/jwt/token` and `/api/v1/jwt/refresh` (404).
    pub auth_jwt: bool,
    /// Disable `/api/v1/custom/*` (the Lua custom hooks; 404).
    pub custom_hooks: bool,
}

/// `server.nginx_backends.<protocol>`: the upstream the nginx endpoint names for a protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct NginxBackend {
    /// `Auth-Server` the nginx endpoint returns for this protocol (overrides `<protocol>_backend_address`).
    #[schemars(extend("x-required" = true))]
    pub address: String,
    /// `Auth-Port` the nginx endpoint returns for this protocol.
    #[schemars(range(min = 1), extend("x-required" = true))]
    pub port: u16,
}
