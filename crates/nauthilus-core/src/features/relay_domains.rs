//! `relay_domains`: a login name of the form `local@domain` whose domain is not one of
//! `relay_domains.static` is refused. Names without `@` (or with more than one) pass, as in
//! Nauthilus.

use nauthilus_config::Config;

use super::Verdict;
use crate::request::AuthRequest;

/// The `relay_domains` check.
#[derive(Clone, Debug)]
pub struct RelayDomains {
    /// Lower-cased, without a trailing dot.
    domains: Vec<String>,
}

impl RelayDomains {
    /// The check over `config.relay_domains.static`.
    pub fn from_config(config: &Config) -> Self {
        Self {
            domains: config
                .relay_domains
                .static_domains
                .iter()
                .map(|d| normalise(d))
                .collect(),
        }
    }

    /// Triggers when the user name's domain is not a relay domain (compared without case).
    pub fn check(&self, req: &AuthRequest) -> Verdict {
        let mut parts = req.username.split('@');
        let (Some(_), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Verdict::Pass;
        };
        let domain = normalise(domain);
        if self.domains.contains(&domain) {
            Verdict::Pass
        } else {
            Verdict::Triggered(format!("{domain} not our domain"))
        }
    }
}

fn normalise(domain: &str) -> String {
    let d = domain.trim();
    d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase()
}
