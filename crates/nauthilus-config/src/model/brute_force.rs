//! The `brute_force:` section (Nauthilus v1.12 layout, plus `ban_time` per bucket).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// `brute_force`: the rules that count failed logins per network and ban it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct BruteForceConfig {
    /// The counting rules; a failed login counts in every rule that matches it.
    #[schemars(example = serde_json::json!([
        {"name": "b_1min_ipv4_32", "period": "1m", "cidr": 32, "ipv4": true, "failed_requests": 10},
        {"name": "b_1h_ipv6_64", "period": "1h", "cidr": 64, "ipv6": true, "failed_requests": 15},
        {"name": "b_1d_imap_ipv4_24", "period": "24h", "cidr": 24, "ipv4": true, "failed_requests": 25,
         "filter_by_protocol": ["imap", "imaps"]},
    ]))]
    pub buckets: Vec<BruteForceRule>,
    /// Clients in these networks are never counted or banned.
    #[schemars(schema_with = "crate::schema::net_list", example = serde_json::json!(["127.0.0.0/8", "::1"]))]
    pub ip_whitelist: Vec<String>,
    /// Features whose rejections also count as failed logins: `tls_encryption`, `relay_domains`, `rbl`.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub learning: Vec<String>,
    /// The toleration settings of every client without a custom toleration.
    #[serde(flatten)]
    pub toleration: Toleration,
    /// Toleration settings for some networks.
    #[schemars(example = serde_json::json!([{"ip_address": "192.0.2.0/24", "tolerate_percent": 20}]))]
    pub custom_tolerations: Vec<CustomToleration>,
    /// Distinct wrong passwords per client and account whose repetition is not counted again.
    #[schemars(range(min = 1, max = 100))]
    pub rwp_allowed_unique_hashes: u8,
    /// How long a wrong password is remembered for that.
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub rwp_window: ConfigDuration,
    pub ip_scoping: IpScoping,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        Self {
            buckets: Vec::new(),
            ip_whitelist: Vec::new(),
            learning: Vec::new(),
            toleration: Toleration::default(),
            custom_tolerations: Vec::new(),
            rwp_allowed_unique_hashes: 3,
            rwp_window: ConfigDuration::from_secs(15 * 60),
            ip_scoping: IpScoping::default(),
        }
    }
}

/// `brute_force.buckets[]`: one counting rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct BruteForceRule {
    /// Name of the rule (unique; shown by the list API, used by the flush API). Required.
    #[schemars(extend("x-required" = true))]
    pub name: String,
    /// Window in which failures are counted (`60`, `1h`). Required.
    #[schemars(range(max = crate::schema::YEAR_SECS), extend("x-required" = true))]
    pub period: ConfigDuration,
    /// Prefix length of the counted network (at most 32 for IPv4 rules). Required.
    #[schemars(range(min = 1, max = 128), extend("x-required" = true))]
    pub cidr: u8,
    /// The rule counts IPv4 clients.
    pub ipv4: bool,
    /// The rule counts IPv6 clients.
    pub ipv6: bool,
    /// Failures within `period` that ban the network. Required.
    #[schemars(range(min = 1, max = 1_000_000), extend("x-required" = true))]
    pub failed_requests: u32,
    /// How long a ban lasts.
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub ban_time: ConfigDuration,
    /// Only these protocols are counted by the rule, each in its own bucket; empty: all.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub filter_by_protocol: Vec<String>,
    /// Only these OIDC client ids are counted by the rule, each in its own bucket; empty: all.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub filter_by_oidc_cid: Vec<String>,
}

impl Default for BruteForceRule {
    fn default() -> Self {
        Self {
            name: String::new(),
            period: ConfigDuration::default(),
            cidr: 0,
            ipv4: false,
            ipv6: false,
            failed_requests: 0,
            ban_time: ConfigDuration::from_secs(8 * 3600),
            filter_by_protocol: Vec::new(),
            filter_by_oidc_cid: Vec::new(),
        }
    }
}

/// How many failures a client with successful logins may make without a ban (the keys are the
/// same at `brute_force` and in each `custom_tolerations[]` item).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Toleration {
    /// A client may fail this share of its recent logins without a ban; 0 = off.
    #[schemars(range(max = 100))]
    pub tolerate_percent: u8,
    /// How long successful and failed logins are remembered for tolerations.
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub tolerate_ttl: ConfigDuration,
    /// Scale the tolerated share with the client's successful logins, between min and max.
    pub adaptive_toleration: bool,
    /// Adaptive toleration: the share tolerated for a client with few successes.
    #[schemars(range(max = 100))]
    pub min_tolerate_percent: u8,
    /// Adaptive toleration: the share approached as successes grow.
    #[schemars(range(max = 100))]
    pub max_tolerate_percent: u8,
    /// Adaptive toleration: how fast the share grows with successes.
    #[schemars(range(min = 0.1, max = 10.0))]
    pub scale_factor: f64,
}

impl Default for Toleration {
    fn default() -> Self {
        Self {
            tolerate_percent: 0,
            tolerate_ttl: ConfigDuration::from_secs(24 * 3600),
            adaptive_toleration: false,
            min_tolerate_percent: 10,
            max_tolerate_percent: 50,
            scale_factor: 1.0,
        }
    }
}

/// `brute_force.custom_tolerations[]`: toleration settings for one network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct CustomToleration {
    /// IP address or network these toleration settings apply to. Required.
    #[schemars(extend("x-required" = true))]
    pub ip_address: String,
    #[serde(flatten)]
    pub toleration: Toleration,
}

/// `brute_force.ip_scoping`: IPv6 prefix lengths under which one client is tracked (0 = the
/// whole address).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct IpScoping {
    /// IPv6 clients are one client per this prefix for repeated wrong passwords; 0 = per address.
    #[schemars(range(max = 128))]
    pub rwp_ipv6_cidr: u8,
    /// IPv6 clients are one client per this prefix for tolerations; 0 = per address.
    #[schemars(range(max = 128))]
    pub tolerations_ipv6_cidr: u8,
}
