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

    /// The records of `rtype` (`A`, `AAAA`, `MX`, `NS`, `TXT`, `CNAME`, `PTR`) for `name`, as
    /// the Lua `nauthilus_dns.resolve` returns them; a PTR query takes an address or a name.
    /// `Ok(empty)` when the name does not exist or has none.
    pub async fn lookup(&self, name: &str, rtype: &str) -> Result<Vec<DnsRecord>, DnsError> {
        let rtype: RecordType = rtype
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| DnsError::Failed(format!("unsupported record type {rtype:?}")))?;
        let query = match (rtype, name.parse::<IpAddr>()) {
            (RecordType::PTR, Ok(ip)) => hickory_resolver::proto::rr::Name::from(ip).to_string(),
            _ => name.to_owned(),
        };
        let lookup = tokio::time::timeout(self.timeout, self.resolver.lookup(query.as_str(), rtype)).await;
        let found = match lookup {
            Err(_) => return Err(DnsError::Timeout(self.timeout)),
            Ok(Err(e)) if e.is_no_records_found() => return Ok(Vec::new()),
            Ok(Err(e)) => return Err(DnsError::Failed(e.to_string())),
            Ok(Ok(found)) => found,
        };
        let name_of = |n: &hickory_resolver::proto::rr::Name| n.to_string();
        Ok(found
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) if rtype == RecordType::A => Some(DnsRecord::Addr(IpAddr::V4(a.0))),
                RData::AAAA(a) if rtype == RecordType::AAAA => Some(DnsRecord::Addr(IpAddr::V6(a.0))),
                RData::MX(mx) => Some(DnsRecord::Mx {
                    host: name_of(&mx.exchange),
                    preference: mx.preference,
                }),
                RData::NS(ns) => Some(DnsRecord::Name(name_of(&ns.0))),
                RData::CNAME(c) => Some(DnsRecord::Name(name_of(&c.0))),
                RData::PTR(p) => Some(DnsRecord::Name(name_of(&p.0))),
                RData::TXT(txt) => Some(DnsRecord::Text(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect(),
                )),
                _ => None,
            })
            .collect())
    }
}

/// One answer of [`Dns::lookup`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsRecord {
    /// A or AAAA.
    Addr(IpAddr),
    /// MX: the exchange (absolute, with its trailing dot) and its preference.
    Mx { host: String, preference: u16 },
    /// NS, CNAME or PTR: an absolute name with its trailing dot.
    Name(String),
    /// TXT: the character strings joined.
    Text(String),
}
