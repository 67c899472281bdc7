//! The `ldap:` section: connection pools (`config`, `optional_ldap_pools.<name>`) and the
//! per-protocol searches (`search[]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// `ldap:`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LdapSection {
    /// The default pool (`ldap` in `server.backends`).
    pub config: LdapPoolConfig,
    /// Named pools (`ldap(<name>)` in `server.backends`, `pool_name` in a search).
    pub optional_ldap_pools: BTreeMap<String, LdapPoolConfig>,
    /// Searches, chosen by the request's protocol.
    pub search: Vec<LdapSearch>,
}

impl LdapSection {
    /// The name of the default pool, as a search's `pool_name` may spell it.
    pub const DEFAULT_POOL: &'static str = "default";

    /// The pool called `name` (`None` or `default` = `ldap.config`).
    pub fn pool(&self, name: Option<&str>) -> Option<&LdapPoolConfig> {
        match name {
            None | Some(Self::DEFAULT_POOL) => Some(&self.config),
            Some(name) => self.optional_ldap_pools.get(name),
        }
    }
}

/// One LDAP connection pool: servers, credentials, TLS, pool sizes, timeouts, resilience.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LdapPoolConfig {
    pub server_uri: Vec<String>,
    pub bind_dn: String,
    pub bind_pw: String,
    pub starttls: bool,
    pub tls_skip_verify: bool,
    pub tls_ca_cert: String,
    pub tls_client_cert: String,
    pub tls_client_key: String,
    pub sasl_external: bool,
    pub lookup_pool_size: u64,
    pub lookup_idle_pool_size: u64,
    pub auth_pool_size: u64,
    pub auth_idle_pool_size: u64,
    pub connect_abort_timeout: ConfigDuration,
    pub search_timeout: ConfigDuration,
    pub bind_timeout: ConfigDuration,
    pub search_size_limit: u64,
    pub retry_max: u64,
    pub retry_base: ConfigDuration,
    pub retry_max_backoff: ConfigDuration,
    pub cb_failure_threshold: u64,
    pub cb_cooldown: ConfigDuration,
    pub health_check_interval: ConfigDuration,
}

impl Default for LdapPoolConfig {
    fn default() -> Self {
        Self {
            server_uri: Vec::new(),
            bind_dn: String::new(),
            bind_pw: String::new(),
            starttls: false,
            tls_skip_verify: false,
            tls_ca_cert: String::new(),
            tls_client_cert: String::new(),
            tls_client_key: String::new(),
            sasl_external: false,
            lookup_pool_size: 8,
            lookup_idle_pool_size: 2,
            auth_pool_size: 8,
            auth_idle_pool_size: 2,
            connect_abort_timeout: ConfigDuration::from_secs(10),
            search_timeout: ConfigDuration::from_secs(5),
            bind_timeout: ConfigDuration::from_secs(5),
            search_size_limit: 0,
            retry_max: 2,
            retry_base: ConfigDuration::from_millis(200),
            retry_max_backoff: ConfigDuration::from_secs(2),
            cb_failure_threshold: 5,
            cb_cooldown: ConfigDuration::from_secs(30),
            health_check_interval: ConfigDuration::from_secs(10),
        }
    }
}

/// One entry of `ldap.search`: where and how users of some protocols are found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LdapSearch {
    pub protocol: Vec<String>,
    pub cache_name: String,
    pub pool_name: String,
    pub base_dn: String,
    pub scope: String,
    pub filter: LdapFilter,
    pub mapping: LdapMapping,
    pub attribute: Vec<String>,
}

impl Default for LdapSearch {
    fn default() -> Self {
        Self {
            protocol: Vec::new(),
            cache_name: String::new(),
            pool_name: String::new(),
            base_dn: String::new(),
            scope: "sub".into(),
            filter: LdapFilter::default(),
            mapping: LdapMapping::default(),
            attribute: Vec::new(),
        }
    }
}

impl LdapSearch {
    /// The pool this search runs on (`None` = the default pool).
    pub fn pool(&self) -> Option<&str> {
        match self.pool_name.as_str() {
            "" | LdapSection::DEFAULT_POOL => None,
            name => Some(name),
        }
    }
}

/// `ldap.search[].filter`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LdapFilter {
    pub user: String,
    pub list_accounts: String,
}

/// `ldap.search[].mapping`: which attributes carry what.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LdapMapping {
    pub account_field: String,
    pub totp_secret_field: String,
    pub totp_recovery_field: String,
    pub display_name_field: String,
    pub unique_user_id_field: String,
}
