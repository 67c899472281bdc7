//! One bucket rule, compiled from `brute_force.buckets[]`: which requests it counts and under
//! which keys.

use std::net::IpAddr;
use std::time::Duration;

use nauthilus_config::BruteForceRule;
use nauthilus_store::KeyLayout;

use super::network::{family, network_of};

/// A counting rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub period: Duration,
    pub cidr: u8,
    pub ipv4: bool,
    pub ipv6: bool,
    pub failed_requests: u64,
    pub ban_time: Duration,
    pub protocols: Vec<String>,
    pub oidc_cids: Vec<String>,
}

/// Where one rule keeps the state of one client network, for one request's protocol and client
/// id: `<network>[:<protocol>][:oidc:<cid>]`. The bucket counter and the ban are keyed by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub network: String,
    pub protocol: Option<String>,
    pub oidc_cid: Option<String>,
}

impl Scope {
    /// `<network>[:<protocol>][:oidc:<cid>]`.
    pub fn tail(&self) -> String {
        let mut s = self.network.clone();
        if let Some(p) = &self.protocol {
            s.push(':');
            s.push_str(p);
        }
        if let Some(c) = &self.oidc_cid {
            s.push_str(":oidc:");
            s.push_str(c);
        }
        s
    }
}

impl Rule {
    /// The rule as configured (the configuration has validated it).
    pub fn from_config(c: &BruteForceRule) -> Self {
        Self {
            name: c.name.clone(),
            period: c.period.get(),
            cidr: c.cidr,
            ipv4: c.ipv4,
            ipv6: c.ipv6,
            failed_requests: u64::from(c.failed_requests),
            ban_time: c.ban_time.get(),
            protocols: c
                .filter_by_protocol
                .iter()
                .map(|p| p.to_ascii_lowercase())
                .collect(),
            oidc_cids: c.filter_by_oidc_cid.clone(),
        }
    }

    /// True when the rule counts clients of `ip`'s family.
    pub fn covers_family(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() { self.ipv4 } else { self.ipv6 }
    }

    /// The scope this rule counts a request in, or `None` when the rule does not count it (other
    /// address family, protocol or client id not in its filters).
    pub fn scope(&self, ip: IpAddr, protocol: &str, oidc_cid: &str) -> Option<Scope> {
        if !self.covers_family(ip) {
            return None;
        }
        self.filtered(network_of(ip, self.cidr)?, protocol, oidc_cid)
    }

    /// The scope this rule counts an address-less request for `subject` (see
    /// [`account_subject`]) in: every rule counts those, whatever its address family, if its
    /// protocol and client-id filters match.
    pub fn account_scope(&self, subject: &str, protocol: &str, oidc_cid: &str) -> Option<Scope> {
        self.filtered(subject.to_owned(), protocol, oidc_cid)
    }

    fn filtered(&self, network: String, protocol: &str, oidc_cid: &str) -> Option<Scope> {
        let protocol = if self.protocols.is_empty() {
            None
        } else if self.protocols.iter().any(|p| p == protocol) {
            Some(protocol.to_owned())
        } else {
            return None;
        };
        let oidc_cid = if self.oidc_cids.is_empty() {
            None
        } else if self.oidc_cids.iter().any(|c| c == oidc_cid) {
            Some(oidc_cid.to_owned())
        } else {
            return None;
        };
        Some(Scope {
            network,
            protocol,
            oidc_cid,
        })
    }

    /// Every scope this rule may hold for `ip`, narrowed to `protocol` / `oidc_cid` when given
    /// (for the flush API): a rule without filters has one, a filtering rule one per listed value.
    pub fn scopes_for_flush(&self, ip: IpAddr, protocol: Option<&str>, oidc_cid: Option<&str>) -> Vec<Scope> {
        let Some(network) = self
            .covers_family(ip)
            .then(|| network_of(ip, self.cidr))
            .flatten()
        else {
            return Vec::new();
        };
        self.flush_scopes(network, protocol, oidc_cid)
    }

    /// [`Self::scopes_for_flush`] for the address-less state of `subject`.
    pub fn account_scopes_for_flush(
        &self,
        subject: &str,
        protocol: Option<&str>,
        oidc_cid: Option<&str>,
    ) -> Vec<Scope> {
        self.flush_scopes(subject.to_owned(), protocol, oidc_cid)
    }

    fn flush_scopes(&self, network: String, protocol: Option<&str>, oidc_cid: Option<&str>) -> Vec<Scope> {
        let narrow = |filter: &[String], wanted: Option<&str>| -> Vec<Option<String>> {
            if filter.is_empty() {
                return vec![None];
            }
            filter
                .iter()
                .filter(|v| wanted.is_none_or(|w| w == v.as_str()))
                .map(|v| Some(v.clone()))
                .collect()
        };
        let protocols = narrow(&self.protocols, protocol);
        let cids = narrow(&self.oidc_cids, oidc_cid);
        let mut out = Vec::new();
        for p in &protocols {
            for c in &cids {
                out.push(Scope {
                    network: network.clone(),
                    protocol: p.clone(),
                    oidc_cid: c.clone(),
                });
            }
        }
        out
    }

    /// The failure counter of `scope`:
    /// `<prefix>bf:<period_s>:<cidr>:<failed>:<4|6>:<network>[:<protocol>][:oidc:<cid>]`.
    pub fn bucket_key(&self, keys: &KeyLayout, ip: IpAddr, scope: &Scope) -> String {
        keys.brute_force_bucket(
            self.period.as_secs(),
            self.cidr,
            self.failed_requests,
            family(ip),
            &scope.tail(),
        )
    }

    /// The failure counter of an address-less `scope` (see [`Self::account_scope`]):
    /// `<prefix>bf:<period_s>:<failed>:account:<user>[:<protocol>][:oidc:<cid>]`.
    pub fn account_bucket_key(&self, keys: &KeyLayout, scope: &Scope) -> String {
        keys.brute_force_account_bucket(self.period.as_secs(), self.failed_requests, &scope.tail())
    }
}

/// What address-less state is kept under for one user name: `account:<name>`, the name trimmed
/// and lower-cased (so `Alice` and `alice ` share one bucket whatever the backend makes of
/// case), with `%` and `:` percent-encoded (so the protocol and client id that follow in a
/// scope cannot be confused with the name).
pub fn account_subject(username: &str) -> String {
    let mut s = String::from(ACCOUNT_SUBJECT_PREFIX);
    for c in username.trim().to_lowercase().chars() {
        match c {
            '%' => s.push_str("%25"),
            ':' => s.push_str("%3A"),
            c => s.push(c),
        }
    }
    s
}

/// Marks address-less scopes: no IP network starts with it.
pub const ACCOUNT_SUBJECT_PREFIX: &str = "account:";

/// The subject an admin names as `account:<name>` (as the list API shows it, percent-encoded
/// or not).
pub fn account_subject_from_admin(text: &str) -> Option<String> {
    let name = text.trim().strip_prefix(ACCOUNT_SUBJECT_PREFIX)?;
    let decoded = name.replace("%3A", ":").replace("%3a", ":").replace("%25", "%");
    (!decoded.trim().is_empty()).then(|| account_subject(&decoded))
}

#[cfg(test)]
mod tests {
    use nauthilus_config::ConfigDuration;

    use super::*;

    fn rule(cidr: u8, v4: bool, v6: bool, protocols: &[&str], cids: &[&str]) -> Rule {
        Rule::from_config(&BruteForceRule {
            name: "r".into(),
            period: ConfigDuration::from_secs(3600),
            cidr,
            ipv4: v4,
            ipv6: v6,
            failed_requests: 5,
            ban_time: ConfigDuration::from_secs(60),
            filter_by_protocol: protocols.iter().map(|s| (*s).to_owned()).collect(),
            filter_by_oidc_cid: cids.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn bucket_keys_follow_the_nauthilus_layout() {
        let keys = KeyLayout::new("nauthilus:");
        let r = rule(24, true, false, &["imap"], &[]);
        let scope = r.scope(ip("192.168.1.9"), "imap", "").unwrap();
        assert_eq!(
            r.bucket_key(&keys, ip("192.168.1.9"), &scope),
            "nauthilus:bf:3600:24:5:4:192.168.1.0/24:imap"
        );
        let r = rule(64, false, true, &[], &["app"]);
        let scope = r.scope(ip("2001:db8::7"), "http", "app").unwrap();
        assert_eq!(
            r.bucket_key(&keys, ip("2001:db8::7"), &scope),
            "nauthilus:bf:3600:64:5:6:2001:db8::/64:oidc:app"
        );
    }

    #[test]
    fn rules_count_only_their_family_protocols_and_clients() {
        let r = rule(24, true, false, &[], &[]);
        assert!(r.scope(ip("2001:db8::1"), "imap", "").is_none());
        assert_eq!(
            r.scope(ip("192.0.2.1"), "smtp", "").unwrap().tail(),
            "192.0.2.0/24"
        );
        let r = rule(32, true, true, &["imap", "pop3"], &[]);
        assert!(r.scope(ip("192.0.2.1"), "smtp", "").is_none());
        assert_eq!(
            r.scope(ip("192.0.2.1"), "pop3", "").unwrap().tail(),
            "192.0.2.1/32:pop3"
        );
        let r = rule(32, true, true, &[], &["a"]);
        assert!(r.scope(ip("192.0.2.1"), "http", "b").is_none());
        assert!(r.scope(ip("192.0.2.1"), "http", "").is_none());
    }

    #[test]
    fn flush_scopes_cover_every_filter_value_or_the_one_named() {
        let r = rule(24, true, false, &["imap", "pop3"], &[]);
        let tails = |v: Vec<Scope>| v.iter().map(Scope::tail).collect::<Vec<_>>();
        assert_eq!(
            tails(r.scopes_for_flush(ip("192.0.2.1"), None, None)),
            ["192.0.2.0/24:imap", "192.0.2.0/24:pop3"]
        );
        assert_eq!(
            tails(r.scopes_for_flush(ip("192.0.2.1"), Some("pop3"), None)),
            ["192.0.2.0/24:pop3"]
        );
        assert!(r.scopes_for_flush(ip("2001:db8::1"), None, None).is_empty());
        let r = rule(24, true, false, &[], &[]);
        assert_eq!(
            tails(r.scopes_for_flush(ip("192.0.2.1"), Some("imap"), None)),
            ["192.0.2.0/24"]
        );
    }
}
