//! The built-in pre-auth features `server.features` switches on, checked before brute force and
//! any backend, in the Nauthilus order: `tls_encryption`, `relay_domains`, `rbl`. Each is a
//! small check built from the configuration; the pipeline's environment stage runs them and turns
//! the first that triggers into the login's answer.
//!
//! As in Nauthilus, no feature runs for a client at `127.0.0.1`, `::1` or without an address
//! (the local mail server itself), nor for `mode=no-auth` lookups unless the feature's
//! `server.features` item says `when_no_auth: true`. `relay_domains` and `rbl` are skipped for a
//! user whose `soft_whitelist` entry lists the client's network, or whose run-time entry
//! (`soft_allowlist`, set by Lua scripts) does.

pub mod dns;
pub mod rbl;
pub mod relay_domains;
pub mod soft_allowlist;
pub mod tls;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nauthilus_config::{Config, Feature, SoftWhitelist};

use crate::brute_force::network::{NetSet, parse_client_ip};
use crate::request::AuthRequest;

pub use dns::{Dns, DnsRecord};
pub use rbl::Rbl;
pub use relay_domains::RelayDomains;
pub use tls::{STATUS_NO_TLS, TlsRequired};

/// What one feature says about a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing against it.
    Pass,
    /// The feature refuses the login; the text says why (for the log).
    Triggered(String),
    /// The feature could not decide (a lookup failed); the login fails temporarily.
    Unavailable(String),
}

/// The first feature that did not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub feature: Feature,
    /// `Triggered` or `Unavailable`.
    pub verdict: Verdict,
    /// `brute_force.learning` names the feature: its rejection counts as a failed login.
    pub learn: bool,
}

#[derive(Clone, Debug)]
enum Check {
    Tls(TlsRequired),
    RelayDomains(RelayDomains),
    Rbl(Box<Rbl>),
}

#[derive(Clone, Debug)]
struct Stage {
    feature: Feature,
    when_no_auth: bool,
    learn: bool,
    /// User name → networks from which this user skips the feature.
    soft_whitelist: BTreeMap<String, NetSet>,
    check: Check,
}

/// The enabled built-in features, in the order they run.
#[derive(Clone, Debug, Default)]
pub struct Features {
    stages: Vec<Stage>,
}

impl Features {
    /// The features `config.server.features` lists (others are ignored; the configuration check
    /// has refused unknown names). `rbl` asks `dns`, which is built from `server.dns` when
    /// `None`; an error says why the resolver cannot be built.
    pub fn from_config(config: &Config, dns: Option<Dns>) -> Result<Self, String> {
        let mut stages = Vec::new();
        let mut add = |feature: Feature, soft: &SoftWhitelist, check: Check| {
            if let Some(setting) = config.server.feature(feature) {
                stages.push(Stage {
                    feature,
                    when_no_auth: setting.when_no_auth,
                    learn: learns_from(config, feature),
                    soft_whitelist: soft
                        .iter()
                        .map(|(user, nets)| (user.clone(), NetSet::new(nets)))
                        .collect(),
                    check,
                });
            }
        };
        add(
            Feature::TlsEncryption,
            &SoftWhitelist::new(),
            Check::Tls(TlsRequired::from_config(config)),
        );
        add(
            Feature::RelayDomains,
            &config.relay_domains.soft_whitelist,
            Check::RelayDomains(RelayDomains::from_config(config)),
        );
        if config.server.has_feature(Feature::Rbl) {
            let dns = match dns {
                Some(dns) => dns,
                None => Dns::from_config(config)?,
            };
            add(
                Feature::Rbl,
                &config.realtime_blackhole_lists.soft_whitelist,
                Check::Rbl(Box::new(Rbl::from_config(config, dns))),
            );
        }
        Ok(Self { stages })
    }

    /// True when no feature is enabled.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The enabled features, in order.
    pub fn enabled(&self) -> impl Iterator<Item = Feature> + '_ {
        self.stages.iter().map(|s| s.feature)
    }

    /// Runs the features for `req` in order; the first that does not pass ends the run.
    pub async fn run(&self, req: &AuthRequest, authenticating: bool) -> Option<Hit> {
        if self.stages.is_empty() {
            return None;
        }
        let client = parse_client_ip(&req.client.ip);
        if is_local_or_empty(&req.client.ip, client) {
            tracing::debug!(session = %req.session, "features skipped for a local client");
            return None;
        }
        for stage in &self.stages {
            if !authenticating && !stage.when_no_auth {
                continue;
            }
            if let Some(ip) = client
                && (stage
                    .soft_whitelist
                    .get(&req.username)
                    .is_some_and(|nets| nets.contains(ip))
                    || soft_allowlist::global().contains(&req.username, stage.feature, ip))
            {
                tracing::debug!(session = %req.session, feature = %stage.feature, "soft allowlisted");
                continue;
            }
            let verdict = match &stage.check {
                Check::Tls(tls) => tls.check(req, client),
                Check::RelayDomains(relay) => relay.check(req),
                Check::Rbl(rbl) => rbl.check(client).await,
            };
            if verdict != Verdict::Pass {
                return Some(Hit {
                    feature: stage.feature,
                    verdict,
                    learn: stage.learn,
                });
            }
        }
        None
    }
}

/// Nauthilus skips features for `127.0.0.1`, `::1` and an empty client address.
fn is_local_or_empty(raw: &str, parsed: Option<IpAddr>) -> bool {
    raw.trim().is_empty()
        || parsed
            .is_some_and(|ip| ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST))
}

/// True when `brute_force.learning` names `feature` (`rbl` also as `realtime_blackhole_lists`).
fn learns_from(config: &Config, feature: Feature) -> bool {
    config
        .brute_force
        .learning
        .iter()
        .any(|l| l == feature.name() || (feature == Feature::Rbl && l == "realtime_blackhole_lists"))
}

#[cfg(test)]
mod tests;
