//! `backend_server_monitoring`: the upstreams the nginx endpoint may name, checked in the
//! background when the `backend_server_monitoring` feature is enabled.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// `backend_server_monitoring`: the servers checked and how often.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct BackendServerMonitoring {
    /// The servers; the nginx endpoint names a healthy one of the request's protocol, in turn.
    #[schemars(example = serde_json::json!([
        {"protocol": "imap", "host": "192.0.2.10", "port": 993, "tls": true, "deep_check": true,
         "test_username": "monitor@example.com", "test_password": "secret"},
        {"protocol": "smtp", "host": "192.0.2.20", "port": 25},
    ]))]
    pub backend_servers: Vec<BackendServer>,
    /// Time between two checks of one server (each waits a random 0-20% longer, so checks spread out).
    #[schemars(range(min = 1, max = 3600))]
    pub interval: ConfigDuration,
    /// Longest time one check may take (connect, TLS, greeting, login); a slower server is unhealthy.
    #[schemars(range(min = 1, max = 60))]
    pub timeout: ConfigDuration,
}

impl Default for BackendServerMonitoring {
    fn default() -> Self {
        Self {
            backend_servers: Vec::new(),
            interval: ConfigDuration::from_secs(10),
            timeout: ConfigDuration::from_secs(5),
        }
    }
}

/// `backend_server_monitoring.backend_servers[]`: one upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct BackendServer {
    /// Protocol the server speaks and the nginx requests it serves. Required.
    #[schemars(extend("enum" = ["smtp", "lmtp", "imap", "pop3", "sieve", "http"]), extend("x-required" = true))]
    pub protocol: String,
    /// Host name or IP address (sent as `Auth-Server`). Required.
    #[schemars(extend("x-required" = true))]
    pub host: String,
    /// TCP port (sent as `Auth-Port`). Required.
    #[schemars(range(min = 1), extend("x-required" = true))]
    pub port: u16,
    /// Path a deep check of an `http` server requests.
    pub request_uri: String,
    /// User a deep check logs in as (only over TLS).
    pub test_username: String,
    /// Password of `test_username`.
    #[schemars(schema_with = "crate::schema::secret")]
    pub test_password: String,
    /// Check the protocol too: greeting, and a login when test credentials are given (else only connect and TLS).
    pub deep_check: bool,
    /// The port speaks TLS from the start (not for `sieve`).
    pub tls: bool,
    /// Accept any server certificate.
    pub tls_skip_verify: bool,
    /// Send a HAProxy PROXY v2 header (LOCAL) first.
    pub haproxy_v2: bool,
}
