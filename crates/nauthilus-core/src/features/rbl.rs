//! `rbl`: the client's address is looked up in every DNS block list of
//! `realtime_blackhole_lists.lists` at once (A records of the reversed address under the list's
//! zone: octets for IPv4, nibbles for IPv6). A listed client scores the list's weight; a score
//! that reaches `threshold` refuses the login. A failed lookup (not "not listed") on a list
//! without `allow_failure` makes the login a temporary failure, as in Nauthilus.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};

use futures::future::join_all;
use nauthilus_config::{Config, RblList};

use super::Verdict;
use super::dns::{Dns, DnsError};
use crate::brute_force::network::NetSet;

#[derive(Clone, Debug)]
struct List {
    name: String,
    /// The zone, absolute (with its trailing dot): no search domain is ever appended.
    zone: String,
    ipv4: bool,
    ipv6: bool,
    /// Answers that mean "listed"; empty: any answer.
    codes: Vec<Ipv4Addr>,
    weight: i32,
    allow_failure: bool,
}

impl From<&RblList> for List {
    fn from(l: &RblList) -> Self {
        let zone = l.rbl.trim().trim_end_matches('.');
        Self {
            name: l.name.clone(),
            zone: format!("{zone}."),
            ipv4: l.ipv4,
            ipv6: l.ipv6,
            codes: std::iter::once(&l.return_code)
                .chain(&l.return_codes)
                .filter_map(|c| c.trim().parse().ok())
                .collect(),
            weight: l.weight,
            allow_failure: l.allow_failure,
        }
    }
}

/// What one list said.
enum Answer {
    Listed,
    NotListed,
    Failed(DnsError),
}

/// The `rbl` check.
#[derive(Clone, Debug)]
pub struct Rbl {
    dns: Dns,
    lists: Vec<List>,
    threshold: i32,
    ip_whitelist: NetSet,
}

impl Rbl {
    /// The check over `config.realtime_blackhole_lists`, asking `dns`.
    pub fn from_config(config: &Config, dns: Dns) -> Self {
        let rbl = &config.realtime_blackhole_lists;
        Self {
            dns,
            lists: rbl.lists.iter().map(List::from).collect(),
            threshold: i32::from(rbl.threshold),
            ip_whitelist: NetSet::new(&rbl.ip_whitelist),
        }
    }

    /// Looks `client` up in every list that serves its address family, all at once.
    pub async fn check(&self, client: Option<IpAddr>) -> Verdict {
        let Some(ip) = client else {
            return Verdict::Unavailable("the client address cannot be looked up".into());
        };
        if self.ip_whitelist.contains(ip) || ip.is_loopback() {
            return Verdict::Pass;
        }
        let reversed = reverse(ip);
        let lists: Vec<&List> = self
            .lists
            .iter()
            .filter(|l| if ip.is_ipv4() { l.ipv4 } else { l.ipv6 })
            .collect();
        let answers = join_all(lists.iter().map(|l| self.ask(l, &reversed))).await;
        let mut score = 0i32;
        let mut listed = String::new();
        let mut failed = Vec::new();
        for (list, answer) in lists.iter().zip(answers) {
            match answer {
                Answer::Listed => {
                    score = score.saturating_add(list.weight);
                    let _ = write!(
                        listed,
                        "{}{} ({})",
                        if listed.is_empty() { "" } else { ", " },
                        list.name,
                        list.weight
                    );
                }
                Answer::NotListed => {}
                Answer::Failed(e) => {
                    tracing::warn!(list = %list.name, client = %ip, error = %e, allow_failure = list.allow_failure, "RBL lookup failed");
                    if !list.allow_failure {
                        failed.push(format!("{}: {e}", list.name));
                    }
                }
            }
        }
        if !failed.is_empty() {
            return Verdict::Unavailable(format!("RBL lookup failed ({})", failed.join("; ")));
        }
        if score >= self.threshold {
            Verdict::Triggered(format!(
                "listed in {listed}: score {score} reaches the threshold {}",
                self.threshold
            ))
        } else {
            if !listed.is_empty() {
                tracing::debug!(client = %ip, score, lists = %listed, "RBL score below the threshold");
            }
            Verdict::Pass
        }
    }

    async fn ask(&self, list: &List, reversed: &str) -> Answer {
        match self.dns.ipv4(&format!("{reversed}.{}", list.zone)).await {
            Err(e) => Answer::Failed(e),
            Ok(found) if found.is_empty() => Answer::NotListed,
            Ok(found) if list.codes.is_empty() || found.iter().any(|a| list.codes.contains(a)) => {
                Answer::Listed
            }
            Ok(_) => Answer::NotListed,
        }
    }
}

/// The reversed form of `ip` for a DNS list: `4.3.2.1` for `1.2.3.4`, 32 nibbles for IPv6.
pub fn reverse(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}")
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(63);
            for byte in v6.octets().iter().rev() {
                let _ = write!(out, "{:x}.{:x}.", byte & 0xf, byte >> 4);
            }
            out.pop();
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_reversed_by_octet_and_nibble() {
        assert_eq!(reverse("192.0.2.1".parse().unwrap()), "1.2.0.192");
        assert_eq!(
            reverse("2001:db8::567:89ab".parse().unwrap()),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
        );
        // RFC 3596, section 2.5.
        assert_eq!(
            reverse("4321:0:1:2:3:4:567:89ab".parse().unwrap()),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4"
        );
    }
}
