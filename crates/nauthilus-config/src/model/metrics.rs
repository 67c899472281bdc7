//! `server.metrics`: the Prometheus endpoint (a nauthilus-rs section; Nauthilus protects
//! `/metrics` with its backchannel credentials instead).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `server.metrics`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MetricsConfig {
    /// Record metrics and serve them at `GET /metrics` in the Prometheus text format.
    pub enabled: bool,
    pub basic_auth: MetricsBasicAuth,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            basic_auth: MetricsBasicAuth::default(),
        }
    }
}

/// `server.metrics.basic_auth`: when both are set, `/metrics` asks for these credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MetricsBasicAuth {
    /// User name a scraper must send with HTTP Basic authentication; empty: `/metrics` is open.
    pub username: String,
    /// Password a scraper must send with HTTP Basic authentication.
    #[schemars(schema_with = "crate::schema::secret")]
    pub password: String,
}

impl MetricsBasicAuth {
    /// True when both a user name and a password are set.
    pub fn is_set(&self) -> bool {
        !self.username.is_empty() && !self.password.is_empty()
    }
}
