//! The `brute_force:` section (Nauthilus v1.12 layout, plus `ban_time` per bucket).

use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// `brute_force`: the rules that count failed logins per network and ban it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BruteForceConfig {
    pub buckets: Vec<BruteForceRule>,
    /// Networks never counted or banned (`192.0.2.0/24`, `2001:db8::1`).
    pub ip_whitelist: Vec<String>,
    /// Features whose rejections also count as failures.
    pub learning: Vec<String>,
    /// The toleration settings of every client without a custom toleration.
    #[serde(flatten)]
    pub toleration: Toleration,
    pub custom_tolerations: Vec<CustomToleration>,
    pub rwp_allowed_unique_hashes: u64,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BruteForceRule {
    pub name: String,
    /// The counting window.
    pub period: ConfigDuration,
    /// Prefix length of the counted network (`24` counts a /24).
    pub cidr: u64,
    pub ipv4: bool,
    pub ipv6: bool,
    /// Failures within `period` that ban the network.
    pub failed_requests: u64,
    /// How long a ban lasts.
    pub ban_time: ConfigDuration,
    /// Only these protocols are counted by this rule (empty: all).
    pub filter_by_protocol: Vec<String>,
    /// Only these OIDC client ids are counted by this rule (empty: all).
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Toleration {
    pub tolerate_percent: u64,
    pub tolerate_ttl: ConfigDuration,
    pub adaptive_toleration: bool,
    pub min_tolerate_percent: u64,
    pub max_tolerate_percent: u64,
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomToleration {
    pub ip_address: String,
    #[serde(flatten)]
    pub toleration: Toleration,
}

/// `brute_force.ip_scoping`: IPv6 prefix lengths under which one client is tracked (0 = the
/// whole address).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpScoping {
    pub rwp_ipv6_cidr: u64,
    pub tolerations_ipv6_cidr: u64,
}
