//! The DNS resolver of the features (`server.dns`): hickory-resolver over the configured name
//! server, or the system's (`/etc/resolv.conf`) when none is set. Answers are cached for their
//! records' TTL (negative answers for the zone's negative TTL) by the resolver's own cache.

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use nauthilus_config::Config;

/// Entries the resolver's answer cache holds (one per name and record type).
const CACHE_SIZE: u64 = 16_384;

/// Why a lookup did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// No answer within `server.dns.timeout`.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The resolver failed (the server is unreachable, answered SERVFAIL or REFUSED, ...).
    #[error("{0}")]
    Failed(String),
}

/// The shared resolver (cheap to clone).
#[derive(Clone)]
pub struct Dns {
    resolver: TokioResolver,
    timeout: Duration,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Dns {
    /// The resolver `config.server.dns` describes.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let dns = &config.server.dns;
        let timeout = dns.timeout.get();
        let provider = TokioRuntimeProvider::default();
        let mut builder = match dns.resolver_addr() {
            Some(addr) => {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                TokioResolver::builder_with_config(ResolverConfig::from_name_servers(vec![server]), provider)
            }
            None => TokioResolver::builder(provider)
                .map_err(|e| format!("server.dns: no resolver given and the system's cannot be read: {e}"))?,
        };
        let options = builder.options_mut();
        options.timeout = timeout;
        // One try within the deadline; the lookups of a login are bounded by it anyway.
        options.attempts = 1;
        options.cache_size = CACHE_SIZE;
        options.use_hosts_file = ResolveHosts::Never;
        let resolver = builder.build().map_err(|e| format!("server.dns: {e}"))?;
        Ok(Self { resolver, timeout })
    }

    /// The A records of the absolute name `fqdn`; `Ok(empty)` when the name does not exist or
    /// has none.
    pub async fn ipv4(&self, fqdn: &str) -> Result<Vec<std::net::Ipv4Addr>, DnsError> {
        let lookup = tokio::time::timeout(self.timeout, self.resolver.lookup(fqdn, RecordType::A)).await;
        match lookup {
            Err(_) => Err(DnsError::Timeout(self.timeout)),
            Ok(Err(e)) if e.is_no_records_found() => Ok(Vec::new()),
            Ok(Err(e)) => Err(DnsError::Failed(e.to_string())),
            Ok(Ok(found)) => Ok(found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(a.0),
                    _ => None,
                })
                .collect()),
        }
    }

    /// The host name of `ip` (its first PTR record, without the trailing dot), if any.
    pub async fn host_name(&self, ip: IpAddr) -> Option<String> {
        let lookup = tokio::time::timeout(
            self.timeout,
            self.resolver
                .reverse_lookup(hickory_resolver::proto::rr::Name::from(ip)),
        )
        .await;
        let found = lookup.ok()?.ok()?;
        found.answers().iter().find_map(|r| match &r.data {
            RData::PTR(name) => Some(name.0.to_string().trim_end_matches('.').to_owned()),
            _ => None,
        })
    }
}
