//! The LDAP password database: users are found by a search on a *lookup* connection (bound as
//! `bind_dn` or by SASL EXTERNAL) and their password is checked by a bind as the user on a
//! separate *auth* connection, never by reading or comparing password attributes.
//!
//! - [`settings`]: `ldap.config` / `ldap.optional_ldap_pools.<name>` checked into [`PoolSettings`].
//! - [`pool`]: connections per server list, failover in order, per-server circuit breakers,
//!   bounded lookup and auth pools, background health checks.
//! - [`filter`]: filter templates with Dovecot-style macros, values escaped per RFC 4515.
//! - [`search`]: one `ldap.search[]` entry, checked.
//! - [`lookup`]: one backend (`ldap` or `ldap(<pool>)`) with its per-protocol searches.
//! - [`breaker`]: the circuit breaker and retry backoff (pure logic, time passed in).

pub mod breaker;
pub mod filter;
pub mod lookup;
pub mod pool;
pub mod search;
pub mod settings;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use filter::{FilterTemplate, MacroValues, TemplateError, escape_value};
pub use lookup::{LdapBackend, LdapLookup, LdapQuery, LdapUser, build_backends, check_backends};
pub use pool::LdapPool;
pub use search::FieldMapping;
pub use settings::PoolSettings;

/// A configuration problem found while building the LDAP backends, with its key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted key path, e.g. `ldap.search[0].filter.user`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why an LDAP operation gave no answer. Every variant ends the login as a temporary failure.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    /// No server of the pool could be reached.
    #[error("LDAP pool {pool}: no server reachable (last error: {last})")]
    Unavailable { pool: String, last: String },
    /// Every server's circuit breaker is open: nothing was attempted.
    #[error("LDAP pool {pool}: every server is marked down (circuit breaker open)")]
    AllServersDown { pool: String },
    /// No pooled connection became free in time.
    #[error("LDAP pool {pool}: no {role} connection free within {waited:?}")]
    PoolExhausted {
        pool: String,
        role: &'static str,
        waited: Duration,
    },
    /// An operation did not finish in time.
    #[error("LDAP {op} timed out after {after:?}")]
    Timeout { op: &'static str, after: Duration },
    /// The connection failed (I/O, TLS, protocol).
    #[error("LDAP {op}: {source}")]
    Connection {
        op: &'static str,
        #[source]
        source: Box<ldap3::LdapError>,
    },
    /// The server answered with an error result.
    #[error("LDAP {op}: server answered {rc} {text}")]
    Server { op: &'static str, rc: u32, text: String },
    /// The filter, after macro expansion, is not a valid LDAP filter.
    #[error("LDAP search filter {0:?} is invalid")]
    InvalidFilter(String),
    /// The user filter matched more than one entry.
    #[error("LDAP search for {user:?} matched {count} entries; the filter must find one")]
    Ambiguous { user: String, count: usize },
    /// The entry has no value for `mapping.account_field`.
    #[error("LDAP entry {dn} has no attribute {field} (mapping.account_field)")]
    MissingAccountField { dn: String, field: String },
}

/// LDAP result codes that mean "try again" (RFC 4511: busy, unavailable).
const RETRYABLE_RESULT_CODES: [u32; 2] = [51, 52];

impl LdapError {
    /// True for failures another attempt (on a fresh connection, maybe another server) could
    /// cure: connection errors, timeouts, busy or unavailable servers.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::Timeout { .. } | Self::Connection { .. } => true,
            Self::Server { rc, .. } => RETRYABLE_RESULT_CODES.contains(rc),
            _ => false,
        }
    }

    /// Wraps an ldap3 error of operation `op`.
    pub fn from_ldap3(op: &'static str, error: ldap3::LdapError, after: Duration) -> Self {
        match error {
            ldap3::LdapError::Timeout { .. } => Self::Timeout { op, after },
            ldap3::LdapError::LdapResult { result } => Self::Server {
                op,
                rc: result.rc,
                text: result.text,
            },
            ldap3::LdapError::FilterParsing => Self::InvalidFilter(String::new()),
            source => Self::Connection {
                op,
                source: Box::new(source),
            },
        }
    }
}
