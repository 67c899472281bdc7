//! Client addresses as brute-force state sees them: the network a rule counts, the scope one
//! client is tracked under, and allowlist membership.

use std::net::IpAddr;

use ipnet::IpNet;

/// The network of `ip` with prefix length `cidr`, written as Nauthilus does (`192.0.2.0/24`,
/// `2001:db8::/64`). `None` when `cidr` is too long for the address family.
pub fn network_of(ip: IpAddr, cidr: u8) -> Option<String> {
    IpNet::new(ip, cidr).ok().map(|net| net.trunc().to_string())
}

/// IP family digit used in bucket keys.
pub fn family(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 4 } else { 6 }
}

/// The name one client is tracked under: the address itself, or for IPv6 with `ipv6_cidr` > 0
/// its network (so a client hopping through its /64 stays one client).
pub fn scoped_client(ip: IpAddr, ipv6_cidr: u8) -> String {
    match ip {
        IpAddr::V6(_) if ipv6_cidr > 0 => network_of(ip, ipv6_cidr).unwrap_or_else(|| ip.to_string()),
        _ => ip.to_string(),
    }
}

/// Parses a client IP as callers send it. Accepted, because each names exactly one address:
/// a plain IPv4 or IPv6 address, bracketed IPv6 (`[2001:db8::1]`), an address with a port
/// (`192.0.2.1:5678`, `[2001:db8::1]:5678`; the port is dropped), and an IPv6 address with a
/// zone id (`fe80::1%eth0`; the zone is dropped, so the address is counted whatever the
/// interface). IPv4-mapped IPv6 is taken as the IPv4 address, so one client has one identity.
/// Anything else is `None`: empty, `unknown`, host names, and IPv4 with leading zeros
/// (`010.1.2.3`, octal to some parsers and decimal to others).
pub fn parse_client_ip(raw: &str) -> Option<IpAddr> {
    let s = raw.trim();
    let host = if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !after.is_empty() {
            port(after.strip_prefix(':')?)?;
        }
        inside
    } else if let Some((host, p)) = s
        .split_once(':')
        .filter(|(h, p)| h.contains('.') && !p.contains(':'))
    {
        port(p)?;
        host
    } else {
        s
    };
    let ip: IpAddr = match host.split_once('%') {
        Some((addr, zone)) => {
            let zone_ok = !zone.is_empty()
                && zone
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !zone_ok {
                return None;
            }
            IpAddr::V6(addr.parse().ok()?)
        }
        None => host.parse().ok()?,
    };
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// A port: 1 to 5 decimal digits, at most 65535.
fn port(s: &str) -> Option<u16> {
    (!s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// An address or network from the configuration (`192.0.2.7`, `10.0.0.0/8`).
pub fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if s.contains('/') {
        s.parse::<IpNet>().ok().map(|n| n.trunc())
    } else {
        s.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

/// A list of networks (allowlists, custom tolerations).
#[derive(Clone, Debug, Default)]
pub struct NetSet(Vec<IpNet>);

impl NetSet {
    /// The networks among `entries` that parse (configuration has validated them).
    pub fn new<'a>(entries: impl IntoIterator<Item = &'a String>) -> Self {
        Self(entries.into_iter().filter_map(|e| parse_net(e)).collect())
    }

    /// True when some network contains `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_are_truncated_to_the_prefix() {
        assert_eq!(
            network_of(ip("192.168.1.77"), 24).as_deref(),
            Some("192.168.1.0/24")
        );
        assert_eq!(
            network_of(ip("192.168.1.77"), 32).as_deref(),
            Some("192.168.1.77/32")
        );
        assert_eq!(
            network_of(ip("2001:db8:1:2:3:4:5:6"), 64).as_deref(),
            Some("2001:db8:1:2::/64")
        );
        assert_eq!(network_of(ip("192.168.1.77"), 64), None);
    }

    #[test]
    fn ipv6_clients_can_be_scoped_to_a_prefix() {
        assert_eq!(scoped_client(ip("2001:db8::1"), 0), "2001:db8::1");
        assert_eq!(scoped_client(ip("2001:db8::1"), 64), "2001:db8::/64");
        assert_eq!(scoped_client(ip("192.0.2.1"), 64), "192.0.2.1");
    }

    #[test]
    fn client_ips_are_normalised() {
        assert_eq!(parse_client_ip(" 192.0.2.1 "), Some(ip("192.0.2.1")));
        assert_eq!(parse_client_ip("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_client_ip("::ffff:192.0.2.1"), Some(ip("192.0.2.1")));
        assert_eq!(parse_client_ip(""), None);
        assert_eq!(parse_client_ip("unknown"), None);
    }

    #[test]
    fn unambiguous_client_ip_forms_are_accepted_and_the_rest_refused() {
        assert_eq!(parse_client_ip("192.0.2.1:5678"), Some(ip("192.0.2.1")));
        assert_eq!(parse_client_ip("[2001:db8::1]:5678"), Some(ip("2001:db8::1")));
        assert_eq!(parse_client_ip("fe80::1%eth0"), Some(ip("fe80::1")));
        assert_eq!(parse_client_ip("[fe80::1%eth0]:993"), Some(ip("fe80::1")));
        assert_eq!(parse_client_ip("[::ffff:192.0.2.1]:1"), Some(ip("192.0.2.1")));
        for bad in [
            "010.1.2.3",
            "192.0.2.1%eth0",
            "fe80::1%",
            "192.0.2.1:",
            "192.0.2.1:99999",
            "192.0.2.1:80:80",
            "[2001:db8::1]x",
            "[2001:db8::1]:",
            "[192.0.2.1",
            "2001:db8::1:5678x",
            "mail.example.test",
            "mail.example.test:25",
            "1.2.3",
        ] {
            assert_eq!(parse_client_ip(bad), None, "{bad}");
        }
    }

    #[test]
    fn net_sets_match_addresses_and_networks() {
        let set = NetSet::new(&["10.0.0.0/8".to_owned(), "2001:db8::1".to_owned()]);
        assert!(set.contains(ip("10.200.0.1")));
        assert!(set.contains(ip("2001:db8::1")));
        assert!(!set.contains(ip("2001:db8::2")));
        assert!(!set.contains(ip("11.0.0.1")));
    }
}
