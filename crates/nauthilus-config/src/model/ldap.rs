//! The `ldap:` section: connection pools (`config`, `optional_ldap_pools.<name>`) and the
//! per-protocol searches (`search[]`).

use std::collections::BTreeMap;
use std::num::NonZeroU16;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// `ldap:`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LdapSection {
    /// The default pool (`ldap` in `server.backends`).
    #[schemars(example = serde_json::json!({"server_uri": ["ldap://127.0.0.1:389", "ldaps://ldap2.example.test:636"], "bind_dn": "cn=nauthilus,ou=services,dc=example,dc=test", "bind_pw": "secret"}))]
    pub config: LdapPoolConfig,
    /// Named pools (`ldap(<name>)` in `server.backends`, `pool_name` in a search); each takes the keys of `ldap.config`.
    #[schemars(example = serde_json::json!({"mail": {"server_uri": ["ldaps://ldap2.example.test:636"], "bind_dn": "cn=nauthilus,ou=services,dc=example,dc=test", "bind_pw": "secret"}}))]
    pub optional_ldap_pools: BTreeMap<String, LdapPoolConfig>,
    /// Searches, chosen by the request's protocol.
    #[schemars(example = serde_json::json!([
        {"protocol": ["imap", "pop3", "default"], "base_dn": "ou=people,dc=example,dc=test",
         "filter": {"user": "(&(objectClass=inetOrgPerson)(|(uid=%L{username})(mail=%L{user})))",
                    "list_accounts": "(objectClass=inetOrgPerson)"},
         "mapping": {"account_field": "uid", "display_name_field": "displayName", "unique_user_id_field": "entryUUID"},
         "attribute": ["uid", "mail", "displayName"]},
        {"protocol": ["smtp"], "pool_name": "mail", "base_dn": "ou=people,dc=example,dc=test",
         "filter": {"user": "(mail=%L{user})"}, "mapping": {"account_field": "mail"}},
    ]))]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LdapPoolConfig {
    /// LDAP servers tried in order: `ldap://host[:port]`, `ldaps://host[:port]`, `ldapi://<percent-encoded socket path>`. Required when used.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub server_uri: Vec<String>,
    /// DN the lookup connections bind as (empty: anonymous lookups).
    pub bind_dn: String,
    /// Password of `bind_dn`.
    #[schemars(schema_with = "crate::schema::secret")]
    pub bind_pw: String,
    /// Upgrade `ldap://` connections with StartTLS.
    pub starttls: bool,
    /// Accept any server certificate (testing only).
    pub tls_skip_verify: bool,
    /// PEM file of CA certificates to trust instead of the system roots; relative paths are relative to the config file.
    #[schemars(schema_with = "crate::schema::path")]
    pub tls_ca_cert: String,
    /// PEM client certificate (mutual TLS, SASL EXTERNAL).
    #[schemars(schema_with = "crate::schema::path")]
    pub tls_client_cert: String,
    /// PEM private key of `tls_client_cert`.
    #[schemars(schema_with = "crate::schema::path")]
    pub tls_client_key: String,
    /// Lookup connections authenticate with SASL EXTERNAL (the TLS client certificate) instead of `bind_dn`.
    pub sasl_external: bool,
    /// Most lookup (search) connections open at once.
    #[schemars(range(min = 1, max = 1024))]
    pub lookup_pool_size: NonZeroU16,
    /// Lookup connections the health check keeps open when idle.
    #[schemars(range(max = 1024))]
    pub lookup_idle_pool_size: u16,
    /// Most auth connections (binds as users) open at once.
    #[schemars(range(min = 1, max = 1024))]
    pub auth_pool_size: NonZeroU16,
    /// Auth connections the health check keeps open when idle.
    #[schemars(range(max = 1024))]
    pub auth_idle_pool_size: u16,
    /// Longest wait for a free pooled connection, and for opening one (TCP, TLS, service bind).
    #[schemars(range(max = 600))]
    pub connect_abort_timeout: ConfigDuration,
    /// Timeout of one search.
    #[schemars(range(max = 600))]
    pub search_timeout: ConfigDuration,
    /// Timeout of one bind (service account or user).
    #[schemars(range(max = 600))]
    pub bind_timeout: ConfigDuration,
    /// Most entries one search returns (0 = the server's limit).
    #[schemars(range(min = 0, max = 2_147_483_647))]
    pub search_size_limit: i32,
    /// Retries of an operation after a connection error, timeout or busy server.
    #[schemars(range(max = 10))]
    pub retry_max: u8,
    /// Pause before the first retry; doubles with each further retry.
    #[schemars(range(max = 60))]
    pub retry_base: ConfigDuration,
    /// Longest pause between retries.
    #[schemars(range(max = 600))]
    pub retry_max_backoff: ConfigDuration,
    /// Failed connects in a row after which a server is skipped (circuit breaker open); 0 = never.
    #[schemars(range(max = 1000))]
    pub cb_failure_threshold: u16,
    /// How long an open breaker skips its server before one probe connection is tried.
    #[schemars(range(max = 3600))]
    pub cb_cooldown: ConfigDuration,
    /// How often servers marked down are probed and idle connections topped up (0 = never).
    #[schemars(range(max = 3600))]
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
            lookup_pool_size: NonZeroU16::new(8).unwrap_or(NonZeroU16::MIN),
            lookup_idle_pool_size: 2,
            auth_pool_size: NonZeroU16::new(8).unwrap_or(NonZeroU16::MIN),
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LdapSearch {
    /// Protocols this search serves (`imap`, `smtp`, ...); `default` serves every protocol without its own search. Required.
    #[schemars(schema_with = "crate::schema::str_list", extend("x-required" = true))]
    pub protocol: Vec<String>,
    /// Name of the positive-cache namespace for users found here (empty: `__default__`).
    pub cache_name: String,
    /// Pool the search runs on: a key of `ldap.optional_ldap_pools` (empty or `default`: `ldap.config`).
    pub pool_name: String,
    /// Base DN of the search. Required.
    #[schemars(extend("x-required" = true))]
    pub base_dn: String,
    /// Search scope: base, one or sub.
    #[schemars(extend("enum" = ["base", "one", "sub"]))]
    pub scope: String,
    pub filter: LdapFilter,
    pub mapping: LdapMapping,
    /// Attributes returned with the user (JSON body, `X-Nauthilus-<Attr>` headers); mapped fields are added.
    #[schemars(schema_with = "crate::schema::str_list")]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LdapFilter {
    /// Filter finding one user; macros (`%L{user}`, `%{username}`, `%{domain}`, `%{service}`, `%{remote_ip}`, ...) are replaced by escaped values. Required.
    #[schemars(extend("x-required" = true))]
    pub user: String,
    /// Filter finding every account for `mode=list-accounts` (empty: this search lists none).
    pub list_accounts: String,
}

/// `ldap.search[].mapping`: which attributes carry what.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LdapMapping {
    /// Attribute holding the account name (`Auth-User`). Required.
    #[schemars(extend("x-required" = true))]
    pub account_field: String,
    /// Attribute holding the TOTP secret.
    pub totp_secret_field: String,
    /// Attribute holding TOTP recovery codes.
    pub totp_recovery_field: String,
    /// Attribute holding the display name.
    pub display_name_field: String,
    /// Attribute holding a stable unique user id (`webauth_userid_field`).
    pub unique_user_id_field: String,
}
