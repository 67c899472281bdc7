//! Keys that Nauthilus v1.12 accepts, by name: a key found here but not in the catalogue is a
//! warning ("not implemented yet"), a key found in neither is an error.

use std::sync::OnceLock;

static RAW: &str = include_str!("nauthilus_keys.txt");

fn patterns() -> &'static [Vec<&'static str>] {
    static PATTERNS: OnceLock<Vec<Vec<&'static str>>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        RAW.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.split('.').map(|s| s.trim_end_matches("[]")).collect())
            .collect()
    })
}

/// True when `path` is a Nauthilus key or a section holding Nauthilus keys.
pub fn is_known(path: &str) -> bool {
    // List items are named `buckets[0]` in paths and `buckets[]` in the table.
    let segments: Vec<&str> = path
        .split('.')
        .map(|s| s.split_once('[').map_or(s, |(name, _)| name))
        .collect();
    patterns().iter().any(|pattern| {
        pattern.len() >= segments.len() && pattern.iter().zip(&segments).all(|(p, s)| *p == "*" || p == s)
    })
}

/// Every known key path, for "did you mean" suggestions.
pub fn all() -> impl Iterator<Item = String> {
    patterns().iter().map(|p| p.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_leaves_are_known() {
        assert!(is_known("ldap"));
        assert!(is_known("ldap.config.number_of_workers"));
        assert!(is_known("ldap.optional_ldap_pools.mypool.pool_only"));
        assert!(is_known("brute_force.buckets"));
        assert!(is_known("server.redis.replica"));
        assert!(is_known("nginx_wait_delay"));
    }

    #[test]
    fn inventions_are_not_known() {
        assert!(!is_known("server.adress"));
        assert!(!is_known("ldap.config.server_url"));
        assert!(!is_known("passwd_file"));
    }
}
