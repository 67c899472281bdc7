//! The typed configuration. Values arrive here already checked by `validate`, so these types
//! only describe shape and defaults.

pub mod backchannel;
pub mod backend;
pub mod brute_force;
pub mod feature;
pub mod features;
pub mod headers;
pub mod idp;
pub mod idp_pages;
pub mod ldap;
pub mod lua;
pub mod metrics;
pub mod mfa;
pub mod monitoring;
pub mod redis;
pub mod server;
pub mod sql;
pub mod transport;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

pub use backchannel::{BasicAuthConfig, JwtAuthConfig, JwtUser, MasterUserConfig};
pub use backend::BackendName;
pub use brute_force::{BruteForceConfig, BruteForceRule, CustomToleration, IpScoping, Toleration};
pub use feature::Feature;
pub use features::{DnsConfig, FeatureSetting, RblConfig, RblList, RelayDomainsConfig, SoftWhitelist};
pub use headers::RequestHeaders;
pub use idp::{
    ConsentConfig, CustomScope, DeviceFlowConfig, Idp as IdpConfig, IdpClient,
    SessionConfig as IdpSessionConfig, SigningKeyConfig, TokenLifetimes,
};
pub use idp_pages::IdpPages;
pub use ldap::{LdapFilter, LdapMapping, LdapPoolConfig, LdapSearch, LdapSection};
pub use lua::{
    LuaAction, LuaBackendConfig, LuaConfig, LuaFeature, LuaFilter, LuaHook, LuaSearch, LuaSection,
};
pub use metrics::{MetricsBasicAuth, MetricsConfig};
pub use mfa::{
    AppPasswordConfig, MfaCodeRule, MfaConfig, MfaLdapConfig, MfaLuaConfig, MfaTotpConfig, MfaWebauthnConfig,
};
pub use monitoring::{BackendServer, BackendServerMonitoring};
pub use redis::{RedisCluster, RedisConfig, RedisEndpoint, RedisMode, RedisSentinels, RedisTls};
pub use server::{DisabledEndpoints, LogConfig, LogLevel, NginxBackend, ServerConfig, ServerTimeouts};
pub use sql::{SqlBackendConfig, SqlBackendRef, SqlMapping, SqlPoolConfig, SqlSearch, SqlSection};
pub use transport::{CIPHER_SUITES, ServerTls};

/// The whole configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Config {
    pub server: ServerConfig,
    pub passwd_file: PasswdFileConfig,
    pub ldap: LdapSection,
    pub sql: SqlSection,
    pub lua: LuaSection,
    pub brute_force: BruteForceConfig,
    pub idp: IdpConfig,
    /// Networks from which cleartext logins are allowed when `tls_encryption` is enabled.
    #[schemars(schema_with = "crate::schema::net_list", example = serde_json::json!(["127.0.0.0/8", "::1", "192.168.0.0/16"]))]
    pub cleartext_networks: Vec<String>,
    pub relay_domains: RelayDomainsConfig,
    pub realtime_blackhole_lists: RblConfig,
    pub backend_server_monitoring: BackendServerMonitoring,
    /// `Auth-Server` for imap on the nginx endpoint.
    pub imap_backend_address: String,
    /// `Auth-Port` for imap on the nginx endpoint.
    #[schemars(range(min = 1))]
    pub imap_backend_port: u16,
    /// `Auth-Server` for pop3 on the nginx endpoint.
    pub pop3_backend_address: String,
    /// `Auth-Port` for pop3 on the nginx endpoint.
    #[schemars(range(min = 1))]
    pub pop3_backend_port: u16,
    /// `Auth-Server` for smtp on the nginx endpoint.
    pub smtp_backend_address: String,
    /// `Auth-Port` for smtp on the nginx endpoint.
    #[schemars(range(min = 1))]
    pub smtp_backend_port: u16,
    /// Largest `Auth-Wait` (seconds) after a failed login; 0 sends none.
    #[schemars(range(max = 3600))]
    pub nginx_wait_delay: u16,
    /// Attempt count at which `Auth-Wait` stops growing.
    #[schemars(range(min = 1))]
    pub max_login_attempts: u8,
    /// How long this process remembers a successful login (in-process cache); 0 = off.
    #[schemars(range(max = 3600))]
    pub local_cache_auth_ttl: ConfigDuration,
    pub mfa: MfaConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            passwd_file: PasswdFileConfig::default(),
            ldap: LdapSection::default(),
            sql: SqlSection::default(),
            lua: LuaSection::default(),
            brute_force: BruteForceConfig::default(),
            idp: IdpConfig::default(),
            cleartext_networks: Vec::new(),
            relay_domains: RelayDomainsConfig::default(),
            realtime_blackhole_lists: RblConfig::default(),
            backend_server_monitoring: BackendServerMonitoring::default(),
            imap_backend_address: "127.0.0.1".into(),
            imap_backend_port: 9931,
            pop3_backend_address: "127.0.0.1".into(),
            pop3_backend_port: 9951,
            smtp_backend_address: "127.0.0.1".into(),
            smtp_backend_port: 5871,
            nginx_wait_delay: 10,
            max_login_attempts: 15,
            local_cache_auth_ttl: ConfigDuration::from_secs(30),
            mfa: MfaConfig::default(),
        }
    }
}

impl Config {
    /// The `Auth-Server`/`Auth-Port` the nginx endpoint names for `protocol`, if any:
    /// `server.nginx_backends.<protocol>` first, then the Nauthilus `<protocol>_backend_*` knobs.
    pub fn nginx_backend(&self, protocol: &str) -> Option<(&str, u16)> {
        if let Some(b) = self.server.nginx_backends.get(protocol) {
            return Some((b.address.as_str(), b.port));
        }
        match protocol {
            "imap" => Some((&self.imap_backend_address, self.imap_backend_port)),
            "pop3" => Some((&self.pop3_backend_address, self.pop3_backend_port)),
            "smtp" => Some((&self.smtp_backend_address, self.smtp_backend_port)),
            _ => None,
        }
    }
}

/// `passwd_file`: a Dovecot passwd-file as the password database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PasswdFileConfig {
    /// Dovecot passwd-file of users; relative paths are relative to the config file.
    #[schemars(schema_with = "crate::schema::path", example = "users.passwd")]
    pub path: String,
    /// How often the file is checked for changes (0 = never reload).
    #[schemars(range(max = 3600))]
    pub check_interval: ConfigDuration,
}

impl Default for PasswdFileConfig {
    fn default() -> Self {
        Self {
            path: String::new(),
            check_interval: ConfigDuration::from_secs(1),
        }
    }
}
