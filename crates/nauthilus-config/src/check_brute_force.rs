//! Cross-key rules of the `brute_force` section and the server keys that switch it on.

use crate::coerce::is_ip_or_network;
use crate::diagnostic::Diagnostic;
use crate::model::{Config, Feature};

/// Features whose rejections `brute_force.learning` may name.
const LEARNING_SOURCES: &[&str] = &[
    "realtime_blackhole_lists",
    "rbl",
    "lua",
    "tls_encryption",
    "relay_domains",
];

/// Every problem of the brute-force settings.
pub fn check(config: &Config, out: &mut Vec<Diagnostic>) {
    let bf = &config.brute_force;
    let enabled = config.server.has_feature(Feature::BruteForce);
    if enabled && bf.buckets.is_empty() {
        out.push(Diagnostic::error(
            "brute_force.buckets",
            "server.features lists brute_force but no bucket is configured",
        ));
    }
    if !enabled && !bf.buckets.is_empty() {
        out.push(Diagnostic::warning(
            "brute_force.buckets",
            "ignored: add brute_force to server.features to enable brute-force protection",
        ));
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, rule) in bf.buckets.iter().enumerate() {
        let at = |key: &str| format!("brute_force.buckets[{i}].{key}");
        if rule.name.trim().is_empty() {
            out.push(Diagnostic::error(at("name"), "required"));
        } else if rule.name.contains([':', '*', ' ']) {
            out.push(Diagnostic::error(
                at("name"),
                "must not contain ':', '*' or spaces",
            ));
        } else if names.contains(&rule.name.as_str()) {
            out.push(Diagnostic::error(
                at("name"),
                format!("{:?} is used by another bucket", rule.name),
            ));
        } else {
            names.push(&rule.name);
        }
        if rule.period.get().as_secs() == 0 {
            out.push(Diagnostic::error(at("period"), "required (at least 1s)"));
        }
        if rule.cidr == 0 {
            out.push(Diagnostic::error(
                at("cidr"),
                "required (1..32 for IPv4, 1..128 for IPv6)",
            ));
        }
        if rule.failed_requests == 0 {
            out.push(Diagnostic::error(at("failed_requests"), "required (at least 1)"));
        }
        if !rule.ipv4 && !rule.ipv6 {
            out.push(Diagnostic::error(
                at("ipv4"),
                "the rule counts nobody: set ipv4: true, ipv6: true or both",
            ));
        }
        if rule.ipv4 && rule.cidr > 32 {
            out.push(Diagnostic::error(
                at("cidr"),
                "at most 32 for a rule that counts IPv4 clients",
            ));
        }
        if rule.ban_time.get().as_secs() == 0 {
            out.push(Diagnostic::error(at("ban_time"), "must be at least 1s"));
        }
        for (j, p) in rule.filter_by_protocol.iter().enumerate() {
            if p.is_empty() || p.contains(':') {
                out.push(Diagnostic::error(
                    format!("{}[{j}]", at("filter_by_protocol")),
                    "must be a non-empty protocol name without ':'",
                ));
            }
        }
        for (j, c) in rule.filter_by_oidc_cid.iter().enumerate() {
            if c.is_empty() || c.contains(':') {
                out.push(Diagnostic::error(
                    format!("{}[{j}]", at("filter_by_oidc_cid")),
                    "must be a non-empty client id without ':'",
                ));
            }
        }
    }
    for (i, source) in bf.learning.iter().enumerate() {
        if !LEARNING_SOURCES.contains(&source.as_str()) {
            out.push(Diagnostic::error(
                format!("brute_force.learning[{i}]"),
                format!(
                    "unknown feature {source:?}; known: {}",
                    LEARNING_SOURCES.join(", ")
                ),
            ));
        }
    }
    if bf.toleration.min_tolerate_percent > bf.toleration.max_tolerate_percent {
        out.push(Diagnostic::error(
            "brute_force.min_tolerate_percent",
            "must not be larger than max_tolerate_percent",
        ));
    }
    for (i, t) in bf.custom_tolerations.iter().enumerate() {
        let at = |key: &str| format!("brute_force.custom_tolerations[{i}].{key}");
        if !is_ip_or_network(&t.ip_address) {
            out.push(Diagnostic::error(
                at("ip_address"),
                format!("{:?} is not an IP address or network (required)", t.ip_address),
            ));
        }
        if t.toleration.min_tolerate_percent > t.toleration.max_tolerate_percent {
            out.push(Diagnostic::error(
                at("min_tolerate_percent"),
                "must not be larger than max_tolerate_percent",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn errors(yaml: &str) -> Vec<String> {
        let base = "server:\n  backends: [passwd_file]\n  features: [brute_force]\npasswd_file: {path: /u}\n";
        match crate::load_str(&format!("{base}{yaml}"), Path::new("/"), Vec::new()) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .errors
                .iter()
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect(),
        }
    }

    #[test]
    fn a_complete_rule_loads() {
        let yaml = "brute_force:\n  buckets:\n    - {name: b1, period: 1h, cidr: 24, ipv4: true, failed_requests: 5, filter_by_protocol: [imap]}\n";
        let (c, w) = crate::load_str(
            &format!("server:\n  backends: [passwd_file]\n  features: [brute_force]\npasswd_file: {{path: /u}}\n{yaml}"),
            Path::new("/"),
            Vec::new(),
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        let rule = &c.brute_force.buckets[0];
        assert_eq!(rule.period.get().as_secs(), 3600);
        assert_eq!(rule.ban_time.get().as_secs(), 8 * 3600, "ban_time defaults to 8h");
        assert_eq!(rule.filter_by_protocol, ["imap"]);
    }

    #[test]
    fn every_broken_rule_is_reported_with_its_index() {
        let e = errors(
            "brute_force:\n  buckets:\n    - {name: a, period: 60, cidr: 33, ipv4: true, failed_requests: 3}\n    - {name: a, period: 60, cidr: 24, failed_requests: 3}\n    - {period: 60, cidr: 24, ipv4: true}\n",
        );
        assert_eq!(
            e,
            [
                "brute_force.buckets[0].cidr: at most 32 for a rule that counts IPv4 clients",
                "brute_force.buckets[1].name: \"a\" is used by another bucket",
                "brute_force.buckets[1].ipv4: the rule counts nobody: set ipv4: true, ipv6: true or both",
                "brute_force.buckets[2].name: required",
                "brute_force.buckets[2].failed_requests: required (at least 1)",
            ]
        );
    }

    #[test]
    fn wrong_shapes_inside_list_items_name_the_item() {
        let e = errors(
            "brute_force:\n  buckets:\n    - {name: a, period: soon, cidr: 24, ipv4: true, failed_requests: 3, colour: red}\n    - 7\n",
        );
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].starts_with("brute_force.buckets[0].period: "), "{e:?}");
        assert!(
            e[1].starts_with("brute_force.buckets[0].colour: unknown key"),
            "{e:?}"
        );
        assert_eq!(
            e[2],
            "brute_force.buckets[1]: expected a mapping of keys, found a value"
        );
    }

    #[test]
    fn the_feature_without_buckets_is_an_error() {
        assert_eq!(
            errors(""),
            ["brute_force.buckets: server.features lists brute_force but no bucket is configured"]
        );
    }

    #[test]
    fn whitelists_and_tolerations_need_real_networks() {
        let e = errors(
            "brute_force:\n  buckets: [{name: a, period: 60, cidr: 24, ipv4: true, failed_requests: 3}]\n  ip_whitelist: [10.0.0.0/8, nonsense]\n  scale_factor: 50\n",
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("brute_force.ip_whitelist: \"nonsense\""),
            "{e:?}"
        );
        assert!(e[1].starts_with("brute_force.scale_factor: "), "{e:?}");
        let e = errors(
            "brute_force:\n  buckets: [{name: a, period: 60, cidr: 24, ipv4: true, failed_requests: 3}]\n  custom_tolerations: [{ip_address: 300.1.1.1, min_tolerate_percent: 60}]\n",
        );
        assert_eq!(
            e,
            [
                "brute_force.custom_tolerations[0].ip_address: \"300.1.1.1\" is not an IP address or network (required)",
                "brute_force.custom_tolerations[0].min_tolerate_percent: must not be larger than max_tolerate_percent",
            ]
        );
    }
}
