//! The settings of the built-in pre-auth features: `server.features[]` items,
//! `cleartext_networks` (top level, see `Config`), `relay_domains`, `realtime_blackhole_lists`
//! and `server.dns`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// One `server.features[]` item: a feature name, or `{name, when_no_auth}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct FeatureSetting {
    /// The feature's name (`brute_force`, `tls_encryption`, `relay_domains`, `rbl`, ...).
    pub name: String,
    /// Also run the feature for `mode=no-auth` lookups.
    pub when_no_auth: bool,
}

impl FeatureSetting {
    /// `name` without `when_no_auth`.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            when_no_auth: false,
        }
    }
}

/// User name → networks from which the user is exempt from a feature (`soft_whitelist`).
pub type SoftWhitelist = BTreeMap<String, Vec<String>>;

/// `relay_domains`: the `relay_domains` feature refuses user names of other domains.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RelayDomainsConfig {
    /// Domains whose users may log in; a login name `user@other.domain` is refused (names without `@` pass).
    #[serde(rename = "static")]
    #[schemars(schema_with = "crate::schema::str_list", example = serde_json::json!(["example.com", "example.org"]))]
    pub static_domains: Vec<String>,
    /// Networks per user name from which the feature is skipped for that user.
    #[schemars(schema_with = "crate::schema::net_map", example = serde_json::json!({"alice@example.net": ["192.0.2.0/24"]}))]
    pub soft_whitelist: SoftWhitelist,
}

/// `realtime_blackhole_lists`: the `rbl` feature looks the client up in DNS block lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RblConfig {
    /// The block lists, all asked at once; a listed client adds the list's weight to its score.
    #[schemars(example = serde_json::json!([
        {"name": "SpamRats AuthBL", "rbl": "auth.spamrats.com.", "ipv4": true, "ipv6": true,
         "return_code": "127.0.0.43", "weight": 10, "allow_failure": true},
        {"name": "Local list", "rbl": "rbl.example.com", "ipv4": true,
         "return_codes": ["127.0.0.2", "127.0.0.3"], "weight": 5},
    ]))]
    pub lists: Vec<RblList>,
    /// A client whose summed weights reach this score is refused.
    #[schemars(range(max = 100), example = 10)]
    pub threshold: u8,
    /// Clients in these networks are never looked up.
    #[schemars(schema_with = "crate::schema::net_list", example = serde_json::json!(["127.0.0.0/8", "::1", "10.0.0.0/8"]))]
    pub ip_whitelist: Vec<String>,
    /// Networks per user name from which the feature is skipped for that user.
    #[schemars(schema_with = "crate::schema::net_map", example = serde_json::json!({"bob@example.com": ["198.51.100.0/24", "2001:db8::/48"]}))]
    pub soft_whitelist: SoftWhitelist,
}

/// `realtime_blackhole_lists.lists[]`: one DNS block list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RblList {
    /// Name of the list, used in logs. Required.
    #[schemars(extend("x-required" = true))]
    pub name: String,
    /// The list's DNS zone, appended to the reversed client address (a trailing dot is allowed). Required.
    #[schemars(extend("x-required" = true))]
    pub rbl: String,
    /// Look up IPv4 clients in this list.
    pub ipv4: bool,
    /// Look up IPv6 clients in this list.
    pub ipv6: bool,
    /// The A record (127.0.0.x) meaning "listed"; with `return_codes`, any of them counts.
    pub return_code: String,
    /// More A records meaning "listed"; with neither key, any answer counts.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub return_codes: Vec<String>,
    /// Score a listed client gets from this list; negative weights make it an allowlist.
    #[schemars(range(min = -100, max = 100))]
    pub weight: i32,
    /// A failed lookup (not a "not listed" answer) is ignored instead of failing the login temporarily.
    pub allow_failure: bool,
}

/// `server.dns`: the resolver the `rbl` feature (and `resolve_client_ip`) asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DnsConfig {
    /// Name server as `ip` or `ip:port` (IPv6 in brackets with a port); empty: the system's (/etc/resolv.conf).
    #[schemars(example = "127.0.0.1:53")]
    pub resolver: String,
    /// How long all lookups of one login may take together.
    #[schemars(range(max = 30))]
    pub timeout: ConfigDuration,
    /// Look up the client's host name (PTR) when the request does not carry one.
    pub resolve_client_ip: bool,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            resolver: String::new(),
            timeout: ConfigDuration::from_secs(5),
            resolve_client_ip: false,
        }
    }
}

impl DnsConfig {
    /// The name server of `resolver`: `ip` (port 53) or `ip:port`; `None` when empty or not an
    /// address (the configuration check refuses the latter).
    pub fn resolver_addr(&self) -> Option<SocketAddr> {
        let s = self.resolver.trim();
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Some(addr);
        }
        let ip = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
        ip.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53))
    }
}
