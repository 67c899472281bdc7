//! Soft allowlists set at run time (`nauthilus_soft_whitelist` in Lua): user → networks from
//! which the user skips a feature (`brute_force`, `relay_domains`, `rbl`). One process-wide
//! list, as in Nauthilus, consulted next to the configured `soft_whitelist` entries. It lives
//! as long as the process (a reload keeps it).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{OnceLock, RwLock};

use ipnet::IpNet;
use nauthilus_config::Feature;

use crate::brute_force::network::parse_net;

/// The features a soft allowlist entry can exempt from.
pub const SOFT_ALLOWLIST_FEATURES: [Feature; 3] = [Feature::BruteForce, Feature::RelayDomains, Feature::Rbl];

/// Why an entry was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SoftAllowlistError {
    #[error("invalid feature category")]
    Feature,
    #[error("invalid network {0:?}")]
    Network(String),
}

/// The run-time soft allowlists: (feature, user) → networks, in the order they were added.
#[derive(Debug, Default)]
pub struct SoftAllowlist {
    entries: RwLock<HashMap<(Feature, String), Vec<IpNet>>>,
}

/// The process-wide run-time soft allowlist.
pub fn global() -> &'static SoftAllowlist {
    static LIST: OnceLock<SoftAllowlist> = OnceLock::new();
    LIST.get_or_init(SoftAllowlist::default)
}

/// `feature` by its Nauthilus name, if a soft allowlist can name it.
pub fn feature_named(name: &str) -> Option<Feature> {
    SOFT_ALLOWLIST_FEATURES.into_iter().find(|f| f.name() == name)
}

impl SoftAllowlist {
    /// Adds `network` (an address or CIDR) for `user` and `feature` (once).
    pub fn set(&self, user: &str, network: &str, feature: Feature) -> Result<(), SoftAllowlistError> {
        if !SOFT_ALLOWLIST_FEATURES.contains(&feature) {
            return Err(SoftAllowlistError::Feature);
        }
        let net = parse_net(network).ok_or_else(|| SoftAllowlistError::Network(network.to_owned()))?;
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let nets = entries.entry((feature, user.to_owned())).or_default();
        if !nets.contains(&net) {
            nets.push(net);
        }
        Ok(())
    }

    /// The networks of `user` for `feature`, as text.
    pub fn get(&self, user: &str, feature: Feature) -> Vec<String> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&(feature, user.to_owned()))
            .map(|nets| nets.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    }

    /// Removes `network` of `user` for `feature`; true when it was there.
    pub fn delete(&self, user: &str, network: &str, feature: Feature) -> bool {
        let Some(net) = parse_net(network) else {
            return false;
        };
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let key = (feature, user.to_owned());
        let Some(nets) = entries.get_mut(&key) else {
            return false;
        };
        let before = nets.len();
        nets.retain(|n| *n != net);
        let removed = nets.len() != before;
        if nets.is_empty() {
            entries.remove(&key);
        }
        removed
    }

    /// True when `user` is exempt from `feature` for a client at `ip`.
    pub fn contains(&self, user: &str, feature: Feature, ip: IpAddr) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        if entries.is_empty() {
            return false;
        }
        entries
            .get(&(feature, user.to_owned()))
            .is_some_and(|nets| nets.iter().any(|n| n.contains(&ip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_per_user_feature_and_network() {
        let list = SoftAllowlist::default();
        let ip = "198.51.100.7".parse().unwrap();
        assert!(!list.contains("u", Feature::Rbl, ip));
        list.set("u", "198.51.100.0/24", Feature::Rbl).unwrap();
        list.set("u", "198.51.100.0/24", Feature::Rbl).unwrap();
        assert_eq!(list.get("u", Feature::Rbl), ["198.51.100.0/24"]);
        assert!(list.contains("u", Feature::Rbl, ip));
        assert!(!list.contains("u", Feature::RelayDomains, ip));
        assert!(!list.contains("v", Feature::Rbl, ip));
        assert!(!list.contains("u", Feature::Rbl, "203.0.113.1".parse().unwrap()));
        assert_eq!(
            list.set("u", "10.0.0.0/8", Feature::Lua),
            Err(SoftAllowlistError::Feature)
        );
        assert!(matches!(
            list.set("u", "not a net", Feature::Rbl),
            Err(SoftAllowlistError::Network(_))
        ));
        assert!(list.delete("u", "198.51.100.0/24", Feature::Rbl));
        assert!(!list.delete("u", "198.51.100.0/24", Feature::Rbl));
        assert!(!list.contains("u", Feature::Rbl, ip));
        assert_eq!(feature_named("brute_force"), Some(Feature::BruteForce));
        assert_eq!(feature_named("lua"), None);
    }
}
