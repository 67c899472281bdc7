//! Cross-key rules of `server.features` and the settings of the built-in pre-auth features
//! (`cleartext_networks`, `relay_domains`, `realtime_blackhole_lists`, `server.dns`).

use std::net::Ipv4Addr;

use crate::diagnostic::Diagnostic;
use crate::model::{Config, Feature};

/// Every problem of the feature settings.
pub(crate) fn check(config: &Config, out: &mut Vec<Diagnostic>) {
    check_names(config, out);
    let server = &config.server;
    if !server.has_feature(Feature::TlsEncryption) && !config.cleartext_networks.is_empty() {
        out.push(Diagnostic::warning(
            "cleartext_networks",
            "ignored: add tls_encryption to server.features to refuse cleartext logins from other networks",
        ));
    }
    check_relay_domains(config, out);
    check_rbl(config, out);
    check_monitoring(config, out);
    let resolver = &server.dns.resolver;
    if !resolver.trim().is_empty() && server.dns.resolver_addr().is_none() {
        out.push(Diagnostic::error(
            "server.dns.resolver",
            format!(
                "{resolver:?} is not an IP address or ip:port (IPv6 with a port in brackets: \"[::1]:53\")"
            ),
        ));
    }
    if server.dns.timeout.get().is_zero() {
        out.push(Diagnostic::error("server.dns.timeout", "must be longer than 0"));
    }
}

fn check_names(config: &Config, out: &mut Vec<Diagnostic>) {
    let names = |pick: fn(&Feature) -> bool| {
        Feature::ALL
            .iter()
            .filter(|f| pick(f))
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut seen = Vec::new();
    for (i, feature) in config.server.features.iter().enumerate() {
        let at = format!("server.features[{i}]");
        let name = &feature.name;
        match Feature::from_name(name) {
            None => out.push(Diagnostic::error(
                at,
                format!("unknown feature {name:?}; known: {}", names(|_| true)),
            )),
            // Refused rather than ignored: an operator who lists a feature expects it to act,
            // and silently skipping it would let through what it should refuse.
            Some(f) if !f.is_implemented() => out.push(Diagnostic::error(
                at,
                format!(
                    "feature {name:?} is not implemented by nauthilus-rs yet; available: {}",
                    names(|f| f.is_implemented())
                ),
            )),
            Some(f) if seen.contains(&f) => {
                out.push(Diagnostic::warning(
                    at,
                    format!("feature {name:?} is listed twice; the first item counts"),
                ));
            }
            Some(f) => seen.push(f),
        }
    }
}

fn check_relay_domains(config: &Config, out: &mut Vec<Diagnostic>) {
    let relay = &config.relay_domains;
    let enabled = config.server.has_feature(Feature::RelayDomains);
    if enabled && relay.static_domains.is_empty() {
        out.push(Diagnostic::error(
            "relay_domains.static",
            "server.features lists relay_domains but no domain is configured",
        ));
    }
    if !enabled && !relay.static_domains.is_empty() {
        out.push(Diagnostic::warning(
            "relay_domains.static",
            "ignored: add relay_domains to server.features to refuse user names of other domains",
        ));
    }
    for (i, domain) in relay.static_domains.iter().enumerate() {
        if !is_domain(domain) {
            out.push(Diagnostic::error(
                format!("relay_domains.static[{i}]"),
                format!("{domain:?} is not a domain name"),
            ));
        }
    }
}

fn check_rbl(config: &Config, out: &mut Vec<Diagnostic>) {
    let rbl = &config.realtime_blackhole_lists;
    let enabled = config.server.has_feature(Feature::Rbl);
    if enabled && rbl.lists.is_empty() {
        out.push(Diagnostic::error(
            "realtime_blackhole_lists.lists",
            "server.features lists rbl but no list is configured",
        ));
    }
    if enabled && rbl.threshold == 0 {
        out.push(Diagnostic::error(
            "realtime_blackhole_lists.threshold",
            "required (1..100): a client is refused when its score reaches the threshold, so 0 would refuse every client",
        ));
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, list) in rbl.lists.iter().enumerate() {
        let at = |key: &str| format!("realtime_blackhole_lists.lists[{i}].{key}");
        if list.name.trim().is_empty() {
            out.push(Diagnostic::error(at("name"), "required"));
        } else if names.contains(&list.name.as_str()) {
            out.push(Diagnostic::error(
                at("name"),
                format!("{:?} is used by another list", list.name),
            ));
        } else {
            names.push(&list.name);
        }
        if !is_domain(&list.rbl) {
            out.push(Diagnostic::error(
                at("rbl"),
                format!("{:?} is not a DNS zone (required)", list.rbl),
            ));
        }
        if !list.ipv4 && !list.ipv6 {
            out.push(Diagnostic::warning(
                at("ipv4"),
                "the list is asked about nobody: set ipv4: true, ipv6: true or both",
            ));
        }
        if list.return_code.is_empty() && list.return_codes.is_empty() {
            out.push(Diagnostic::error(
                at("return_code"),
                "required: the answer (e.g. 127.0.0.2) that means listed, in return_code or return_codes",
            ));
        }
        let codes = (!list.return_code.is_empty()).then_some(&list.return_code);
        for code in codes.into_iter().chain(&list.return_codes) {
            if code.trim().parse::<Ipv4Addr>().is_err() {
                out.push(Diagnostic::error(
                    at(if codes == Some(code) {
                        "return_code"
                    } else {
                        "return_codes"
                    }),
                    format!("{code:?} is not an IPv4 address"),
                ));
            }
        }
    }
}

fn check_monitoring(config: &Config, out: &mut Vec<Diagnostic>) {
    let monitoring = &config.backend_server_monitoring;
    let enabled = config.server.has_feature(Feature::BackendServerMonitoring);
    if enabled && monitoring.backend_servers.is_empty() {
        out.push(Diagnostic::error(
            "backend_server_monitoring.backend_servers",
            "server.features lists backend_server_monitoring but no server is configured",
        ));
    }
    if !enabled && !monitoring.backend_servers.is_empty() {
        out.push(Diagnostic::warning(
            "backend_server_monitoring.backend_servers",
            "ignored: add backend_server_monitoring to server.features to check these servers",
        ));
    }
    for (i, server) in monitoring.backend_servers.iter().enumerate() {
        let at = |key: &str| format!("backend_server_monitoring.backend_servers[{i}].{key}");
        if server.protocol.is_empty() {
            out.push(Diagnostic::error(at("protocol"), "required"));
        }
        if server.host.trim().is_empty() || server.host.contains(char::is_whitespace) {
            out.push(Diagnostic::error(
                at("host"),
                "required: a host name or IP address",
            ));
        }
        if server.port == 0 {
            out.push(Diagnostic::error(at("port"), "required (1..65535)"));
        }
        let login = !server.test_username.is_empty() && !server.test_password.is_empty();
        if server.deep_check && login && !server.tls && server.protocol != "lmtp" {
            out.push(Diagnostic::error(
                at("tls"),
                "a deep check logs in only over TLS (credentials are never sent in cleartext): set tls: true or drop the test credentials",
            ));
        }
    }
}

/// A DNS name such as `example.com` or `zen.spamhaus.org.`: labels of letters, digits, `-` and
/// `_`, at most 63 bytes each, separated by dots, with an optional trailing dot.
fn is_domain(s: &str) -> bool {
    let s = s.trim();
    let name = s.strip_suffix('.').unwrap_or(s);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn problems(yaml: &str) -> Vec<String> {
        let base = "passwd_file: {path: /u}\n";
        let text = if yaml.starts_with("server:") {
            format!(
                "{base}{}",
                yaml.replacen("server:\n", "server:\n  backends: [passwd_file]\n", 1)
            )
        } else {
            format!("{base}server:\n  backends: [passwd_file]\n{yaml}")
        };
        let (errors, warnings) = match crate::load_str(&text, Path::new("/"), Vec::new()) {
            Ok((_, w)) => (Vec::new(), w),
            Err(e) => (e.errors, e.warnings),
        };
        errors
            .iter()
            .chain(&warnings)
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect()
    }

    fn with_features(features: &str, rest: &str) -> Vec<String> {
        let base = format!(
            "server:\n  backends: [passwd_file]\n  features: {features}\npasswd_file: {{path: /u}}\n{rest}"
        );
        match crate::load_str(&base, Path::new("/"), Vec::new()) {
            Ok(_) => Vec::new(),
            // (Features this build does not implement yet are refused by name; not the point here.)
            Err(e) => e
                .errors
                .iter()
                .filter(|d| !d.message.contains("not implemented"))
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect(),
        }
    }

    #[test]
    fn features_load_as_names_and_as_mappings() {
        let (c, w) = crate::load_str(
            "server:\n  backends: [passwd_file]\n  features: [tls_encryption, {name: relay_domains, when_no_auth: true}]\npasswd_file: {path: /u}\nrelay_domains: {static: [example.com]}\ncleartext_networks: [10.0.0.0/8, 'fd00::/8']\n",
            Path::new("/"),
            Vec::new(),
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert!(c.server.has_feature(crate::Feature::TlsEncryption));
        let relay = c.server.feature(crate::Feature::RelayDomains).unwrap();
        assert!(relay.when_no_auth);
        assert!(
            !c.server
                .feature(crate::Feature::TlsEncryption)
                .unwrap()
                .when_no_auth
        );
        assert_eq!(c.cleartext_networks, ["10.0.0.0/8", "fd00::/8"]);
    }

    #[test]
    fn unknown_features_are_refused_by_index() {
        let e = problems("server:\n  features: [lua, tls_encryption, magic]\n");
        let paths: Vec<&str> = e.iter().map(|d| d.split(':').next().unwrap()).collect();
        assert_eq!(paths, ["server.features[2]"], "{e:?}");
    }

    #[test]
    fn enabled_features_need_their_settings() {
        assert_eq!(
            with_features("[relay_domains, rbl]", ""),
            [
                "relay_domains.static: server.features lists relay_domains but no domain is configured",
                "realtime_blackhole_lists.lists: server.features lists rbl but no list is configured",
                "realtime_blackhole_lists.threshold: required (1..100): a client is refused when its score reaches the threshold, so 0 would refuse every client",
            ]
        );
    }

    #[test]
    fn broken_lists_are_reported_with_their_index() {
        let e = with_features(
            "[rbl]",
            "realtime_blackhole_lists:\n  threshold: 10\n  lists:\n    - {name: a, rbl: 'bl.example.', ipv4: true, return_code: 127.0.0.2, weight: -100}\n    - {name: a, rbl: 'not a zone', ipv4: true, return_codes: [127.0.0.2, nope]}\n    - {name: c, rbl: bl.example, ipv6: true}\n",
        );
        assert_eq!(
            e,
            [
                "realtime_blackhole_lists.lists[1].name: \"a\" is used by another list",
                "realtime_blackhole_lists.lists[1].rbl: \"not a zone\" is not a DNS zone (required)",
                "realtime_blackhole_lists.lists[1].return_codes: \"nope\" is not an IPv4 address",
                "realtime_blackhole_lists.lists[2].return_code: required: the answer (e.g. 127.0.0.2) that means listed, in return_code or return_codes",
            ]
        );
        let e = with_features(
            "[rbl]",
            "realtime_blackhole_lists:\n  threshold: 10\n  lists: [{name: a, rbl: bl.example, ipv4: true, return_code: 127.0.0.2, weight: 101}]\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("realtime_blackhole_lists.lists[0].weight: 101 is out of range"),
            "{e:?}"
        );
    }

    #[test]
    fn settings_of_features_not_listed_warn() {
        let p = problems("cleartext_networks: [10.0.0.0/8]\nrelay_domains: {static: [example.com]}\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("cleartext_networks: ignored"), "{p:?}");
        assert!(p[1].starts_with("relay_domains.static: ignored"), "{p:?}");
    }

    #[test]
    fn resolvers_are_ip_or_ip_port() {
        let parse_resolver = |s: &str| {
            crate::DnsConfig {
                resolver: s.into(),
                ..Default::default()
            }
            .resolver_addr()
        };
        assert_eq!(
            parse_resolver("192.0.2.53"),
            Some("192.0.2.53:53".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_resolver("[::1]:5353"), Some("[::1]:5353".parse().unwrap()));
        assert_eq!(parse_resolver("::1"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(parse_resolver("dns.example"), None);
        let e = crate::load_str(
            "server:\n  backends: [passwd_file]\n  dns: {resolver: dns.example}\npasswd_file: {path: /u}\n",
            Path::new("/"),
            Vec::new(),
        )
        .unwrap_err();
        assert_eq!(e.errors[0].path, "server.dns.resolver");
    }

    #[test]
    fn soft_whitelists_keep_user_names() {
        let (c, _) = crate::load_str(
            "server:\n  backends: [passwd_file]\n  features: [relay_domains]\npasswd_file: {path: /u}\nrelay_domains:\n  static: [example.com]\n  soft_whitelist:\n    Alice@Example.net: [192.0.2.0/24]\n",
            Path::new("/"),
            Vec::new(),
        )
        .unwrap();
        assert_eq!(
            c.relay_domains.soft_whitelist["Alice@Example.net"],
            ["192.0.2.0/24"]
        );
    }
}
