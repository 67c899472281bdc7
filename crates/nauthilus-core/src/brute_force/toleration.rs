//! Tolerations: a client with many recent successful logins (an office NAT, a webmail host) may
//! fail a share of them without being banned. The share is fixed (`tolerate_percent`) or, when
//! adaptive, grows from `min` towards `max` with the number of successes:
//! `min + (max − min) · (1 − e^(−scale_factor · successes / 100))`.

use std::net::IpAddr;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use ipnet::IpNet;

use nauthilus_config::{BruteForceConfig, Toleration};

use super::network::{NetSet, parse_net};

/// Toleration settings for some clients.
#[derive(Clone, Debug, PartialEq)]
pub struct TolerationPolicy {
    pub percent: u64,
    pub ttl: Duration,
    pub adaptive: bool,
    pub min_percent: u64,
    pub max_percent: u64,
    pub scale_factor: f64,
}

impl TolerationPolicy {
    /// The policy a configuration entry describes.
    pub fn from_config(t: &Toleration) -> Self {
        Self {
            percent: u64::from(t.tolerate_percent),
            ttl: t.tolerate_ttl.get(),
            adaptive: t.adaptive_toleration,
            min_percent: u64::from(t.min_tolerate_percent),
            max_percent: u64::from(t.max_tolerate_percent),
            scale_factor: t.scale_factor,
        }
    }

    /// True when this policy can ever tolerate a failure (so successes are worth counting).
    pub fn is_active(&self) -> bool {
        if self.adaptive {
            self.max_percent > 0
        } else {
            self.percent > 0
        }
    }

    /// The tolerated share of failures, in percent, for a client with `successes`.
    pub fn percent_for(&self, successes: u64) -> f64 {
        if !self.adaptive {
            return self.percent as f64;
        }
        let (min, max) = (self.min_percent as f64, self.max_percent as f64);
        min + (max - min) * (1.0 - (-self.scale_factor * successes as f64 / 100.0).exp())
    }

    /// True when `failures` against `successes` stay within the tolerated share.
    pub fn tolerates(&self, successes: u64, failures: u64) -> bool {
        successes > 0 && (failures as f64) * 100.0 <= successes as f64 * self.percent_for(successes)
    }
}

/// The global policy and the per-network overrides (`custom_tolerations`), first match wins.
#[derive(Clone, Debug)]
pub struct Tolerations {
    default: TolerationPolicy,
    custom: Vec<(NetSet, TolerationPolicy)>,
}

impl Tolerations {
    /// From `brute_force`.
    pub fn from_config(c: &BruteForceConfig) -> Self {
        let custom = c
            .custom_tolerations
            .iter()
            .filter(|t| parse_net(&t.ip_address).is_some())
            .map(|t| {
                (
                    NetSet::new([&t.ip_address]),
                    TolerationPolicy::from_config(&t.toleration),
                )
            })
            .collect();
        Self {
            default: TolerationPolicy::from_config(&c.toleration),
            custom,
        }
    }

    /// The policy for `ip`, if it can tolerate anything: a run-time toleration (set by a
    /// script) first, then the configured ones, then the global policy.
    pub fn for_client(&self, ip: IpAddr) -> Option<TolerationPolicy> {
        let policy = runtime()
            .for_client(ip)
            .or_else(|| {
                self.custom
                    .iter()
                    .find(|(nets, _)| nets.contains(ip))
                    .map(|(_, p)| p.clone())
            })
            .unwrap_or_else(|| self.default.clone());
        policy.is_active().then_some(policy)
    }
}

/// One toleration set at run time (`nauthilus_brute_force.set_custom_toleration`).
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeToleration {
    /// The address or network as given.
    pub ip_address: String,
    pub percent: u8,
    pub ttl: Duration,
}

/// The process-wide tolerations scripts set; they win over the configured ones.
#[derive(Debug, Default)]
pub struct RuntimeTolerations {
    entries: RwLock<Vec<(IpNet, RuntimeToleration)>>,
}

/// The process-wide run-time tolerations.
pub fn runtime() -> &'static RuntimeTolerations {
    static LIST: OnceLock<RuntimeTolerations> = OnceLock::new();
    LIST.get_or_init(RuntimeTolerations::default)
}

impl RuntimeTolerations {
    /// Adds or replaces the toleration of `t.ip_address`; false when that is no address or
    /// network.
    pub fn set(&self, t: RuntimeToleration) -> bool {
        let Some(net) = parse_net(&t.ip_address) else {
            return false;
        };
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(n, _)| *n != net);
        entries.push((net, t));
        true
    }

    /// Replaces every run-time toleration with `list`; false (and nothing changed) when an
    /// entry is no address or network.
    pub fn replace(&self, list: Vec<RuntimeToleration>) -> bool {
        let mut parsed = Vec::with_capacity(list.len());
        for t in list {
            let Some(net) = parse_net(&t.ip_address) else {
                return false;
            };
            parsed.retain(|(n, _): &(IpNet, RuntimeToleration)| *n != net);
            parsed.push((net, t));
        }
        *self.entries.write().unwrap_or_else(|e| e.into_inner()) = parsed;
        true
    }

    /// Removes the toleration of `ip_address`; true when there was one.
    pub fn delete(&self, ip_address: &str) -> bool {
        let Some(net) = parse_net(ip_address) else {
            return false;
        };
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let before = entries.len();
        entries.retain(|(n, _)| *n != net);
        entries.len() != before
    }

    /// Every run-time toleration, in the order set.
    pub fn list(&self) -> Vec<RuntimeToleration> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.iter().map(|(_, t)| t.clone()).collect()
    }

    /// The policy of the first entry whose network holds `ip`.
    fn for_client(&self, ip: IpAddr) -> Option<TolerationPolicy> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        if entries.is_empty() {
            return None;
        }
        entries
            .iter()
            .find(|(n, _)| n.contains(&ip))
            .map(|(_, t)| TolerationPolicy {
                percent: u64::from(t.percent),
                ttl: t.ttl,
                adaptive: false,
                min_percent: 0,
                max_percent: 0,
                scale_factor: 1.0,
            })
    }
}

#[cfg(test)]
mod tests {
    use nauthilus_config::{ConfigDuration, CustomToleration};

    use super::*;

    fn fixed(percent: u64) -> TolerationPolicy {
        TolerationPolicy {
            percent,
            ttl: Duration::from_secs(60),
            adaptive: false,
            min_percent: 10,
            max_percent: 50,
            scale_factor: 1.0,
        }
    }

    #[test]
    fn a_fixed_share_of_failures_is_tolerated() {
        let p = fixed(20);
        assert!(p.tolerates(100, 20));
        assert!(!p.tolerates(100, 21));
        assert!(!p.tolerates(0, 1), "no successes, nothing tolerated");
        assert!(!fixed(0).is_active());
    }

    #[test]
    fn the_adaptive_share_grows_with_successes_between_min_and_max() {
        let p = TolerationPolicy {
            adaptive: true,
            ..fixed(0)
        };
        assert!((p.percent_for(0) - 10.0).abs() < 1e-9);
        assert!(p.percent_for(100) > 30.0 && p.percent_for(100) < 40.0);
        assert!((p.percent_for(100_000) - 50.0).abs() < 1e-6);
        assert!(p.is_active());
    }

    #[test]
    fn custom_tolerations_win_for_their_networks() {
        let c = BruteForceConfig {
            custom_tolerations: vec![CustomToleration {
                ip_address: "192.0.2.0/24".into(),
                toleration: Toleration {
                    tolerate_percent: 30,
                    tolerate_ttl: ConfigDuration::from_secs(10),
                    ..Toleration::default()
                },
            }],
            ..BruteForceConfig::default()
        };
        let t = Tolerations::from_config(&c);
        assert_eq!(
            t.for_client("192.0.2.9".parse().unwrap()).map(|p| p.percent),
            Some(30)
        );
        assert!(t.for_client("198.51.100.1".parse().unwrap()).is_none());
    }

    #[test]
    fn run_time_tolerations_win_and_can_be_replaced_and_removed() {
        let list = RuntimeTolerations::default();
        let t = |ip: &str, percent| RuntimeToleration {
            ip_address: ip.into(),
            percent,
            ttl: Duration::from_secs(60),
        };
        assert!(!list.set(t("not an address", 10)));
        assert!(list.set(t("203.0.113.0/24", 10)));
        assert!(list.set(t("203.0.113.0/24", 40)), "replaces the same network");
        assert_eq!(list.list(), [t("203.0.113.0/24", 40)]);
        let ip = "203.0.113.9".parse().unwrap();
        assert_eq!(list.for_client(ip).map(|p| p.percent), Some(40));
        assert!(!list.replace(vec![t("198.51.100.0/24", 5), t("bad", 1)]));
        assert_eq!(list.list().len(), 1, "a bad list changes nothing");
        assert!(list.replace(vec![t("198.51.100.0/24", 5)]));
        assert!(list.for_client(ip).is_none());
        assert!(list.delete("198.51.100.0/24"));
        assert!(!list.delete("198.51.100.0/24"));
        assert!(list.list().is_empty());

        // The process-wide list wins over the configured policies.
        let c = BruteForceConfig::default();
        let configured = Tolerations::from_config(&c);
        let client = "192.0.2.213".parse().unwrap();
        assert!(configured.for_client(client).is_none());
        runtime().set(t("192.0.2.213", 25));
        assert_eq!(configured.for_client(client).map(|p| p.percent), Some(25));
        assert!(runtime().delete("192.0.2.213"));
        assert!(configured.for_client(client).is_none());
    }
}
