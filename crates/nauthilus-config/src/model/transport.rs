//! The listener's transport: `server.tls`, `server.haproxy_v2`, `server.trusted_proxies`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Cipher suite names `server.tls.cipher_suites` accepts (Go's names, as Nauthilus takes them).
/// The `TLS_AES_*`/`TLS_CHACHA20_*` ones are TLS 1.3 suites, the others TLS 1.2 suites.
pub const CIPHER_SUITES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// `server.tls`: HTTPS on the listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ServerTls {
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) instead of plain HTTP; a change needs a restart.
    pub enabled: bool,
    /// PEM certificate chain of the server, leaf first; reread on SIGHUP.
    #[schemars(schema_with = "crate::schema::path")]
    pub cert: String,
    /// PEM private key of the server certificate; reread on SIGHUP.
    #[schemars(schema_with = "crate::schema::path")]
    pub key: String,
    /// PEM CA certificates a client certificate must chain to; a client that presents one is checked against them.
    #[schemars(schema_with = "crate::schema::path")]
    pub ca_file: String,
    /// Require every client to present a certificate that chains to `ca_file` (mutual TLS).
    pub client_auth: bool,
    /// Lowest TLS version accepted.
    #[schemars(extend("enum" = ["tls1.2", "tls1.3"]))]
    pub min_tls_version: String,
    /// TLS 1.2 cipher suites allowed (Go names, e.g. `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`); TLS 1.3 suites listed here restrict TLS 1.3 too; empty: all.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub cipher_suites: Vec<String>,
}

impl Default for ServerTls {
    fn default() -> Self {
        Self {
            enabled: false,
            cert: String::new(),
            key: String::new(),
            ca_file: String::new(),
            client_auth: false,
            min_tls_version: "tls1.2".into(),
            cipher_suites: Vec::new(),
        }
    }
}
