//! The `mfa:` section: where enrolled second factors and app passwords are kept (SQL or the
//! user's LDAP entry, never Redis alone), the TOTP, WebAuthn and app-password settings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;
use crate::model::SqlPoolConfig;

/// `mfa`: second factors (TOTP, WebAuthn, recovery codes) and per-protocol app passwords.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MfaConfig {
    /// Turns the credential store, second factors and app passwords on.
    pub enabled: bool,
    /// Where enrolments live: `sql` (PostgreSQL, MariaDB or SQLite), `ldap` (the user's entry) or `lua` (the functions of a Lua backend script, see docs/lua.md).
    #[schemars(extend("enum" = ["sql", "ldap", "lua"]))]
    pub store: String,
    /// The SQL credential store (its table is created on first use); an empty `url` is the embedded default, `mfa.db` (SQLite) beside the config file.
    #[schemars(example = serde_json::json!({"url": "sqlite:///var/lib/nauthilus/mfa.db"}))]
    pub sql: SqlPoolConfig,
    pub ldap: MfaLdapConfig,
    pub lua: MfaLuaConfig,
    /// Base64 of the 32-byte key that encrypts TOTP secrets at rest; empty: `encryption_key_file`.
    #[schemars(schema_with = "crate::schema::secret")]
    pub encryption_key: String,
    /// File holding the encryption key, created with a random key when missing; relative paths are relative to the config file.
    #[schemars(schema_with = "crate::schema::path")]
    pub encryption_key_file: String,
    pub totp: MfaTotpConfig,
    pub webauthn: MfaWebauthnConfig,
    pub app_passwords: AppPasswordConfig,
    /// Once a user has enrolled TOTP or WebAuthn, the main password stops working for `app_passwords.protocols`.
    pub require_app_password_for_mfa_users: bool,
    /// How long "remember this device" skips the second-factor step on one browser (a revocable cookie); 0 turns the option off.
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub remember_device: ConfigDuration,
    /// The self-service pages (`/2fa/v1/*`) need a login at most this old; an older session signs in again first.
    #[schemars(range(min = 30, max = 86400))]
    pub fresh_login: ConfigDuration,
}

impl Default for MfaConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            store: "sql".into(),
            sql: SqlPoolConfig::default(),
            ldap: MfaLdapConfig::default(),
            lua: MfaLuaConfig::default(),
            encryption_key: String::new(),
            encryption_key_file: "mfa.key".into(),
            totp: MfaTotpConfig::default(),
            webauthn: MfaWebauthnConfig::default(),
            app_passwords: AppPasswordConfig::default(),
            require_app_password_for_mfa_users: false,
            remember_device: ConfigDuration::from_secs(0),
            fresh_login: ConfigDuration::from_secs(300),
        }
    }
}

/// `mfa.lua`: enrolments kept by the functions of a Lua backend script.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MfaLuaConfig {
    /// The Lua backend whose script keeps the enrolments: empty for `lua.config.backend_script_path`, else a name in `lua.optional_lua_backends`.
    pub backend_name: String,
}

/// `mfa.ldap`: enrolments as attributes of the user's LDAP entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MfaLdapConfig {
    /// LDAP pool to use (empty: `ldap.config`; else a name in `ldap.optional_ldap_pools`); its bind DN must be allowed to write the attributes below.
    pub pool_name: String,
    /// Base DN under which users are searched.
    #[schemars(example = "ou=people,dc=example,dc=test")]
    pub base_dn: String,
    /// Filter finding the user's entry by account; `%{account}` is replaced by the escaped account name.
    pub filter: String,
    /// Auxiliary object class added to an entry on its first enrolment (empty: none).
    pub object_class: String,
    /// Attribute holding the encrypted TOTP secret.
    pub totp_secret_attribute: String,
    /// Multi-valued attribute holding WebAuthn credentials (one JSON document each).
    pub webauthn_attribute: String,
    /// Multi-valued attribute holding hashed recovery codes.
    pub recovery_code_attribute: String,
    /// Multi-valued attribute holding app passwords (one JSON document each).
    pub app_password_attribute: String,
}

impl Default for MfaLdapConfig {
    fn default() -> Self {
        Self {
            pool_name: String::new(),
            base_dn: String::new(),
            filter: "(uid=%{account})".into(),
            object_class: "nauthilusMfaUser".into(),
            totp_secret_attribute: "nauthilusTotpSecret".into(),
            webauthn_attribute: "nauthilusWebAuthnCredential".into(),
            recovery_code_attribute: "nauthilusRecoveryCode".into(),
            app_password_attribute: "nauthilusAppPassword".into(),
        }
    }
}

/// `mfa.totp`: time-based one-time passwords (RFC 6238).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MfaTotpConfig {
    /// Issuer shown by authenticator apps (`otpauth://` URI).
    pub issuer: String,
    /// Digits of a code.
    #[schemars(range(min = 6, max = 8))]
    pub digits: u8,
    /// Length of one time step.
    #[schemars(range(min = 15, max = 300))]
    pub step: ConfigDuration,
    /// Steps before and after the current one whose codes are accepted too (clock skew).
    #[schemars(range(max = 10))]
    pub skew: u8,
    /// How long an enrolment waits for its confirming first code.
    #[schemars(range(min = 60, max = 86400))]
    pub enrolment_timeout: ConfigDuration,
    pub brute_force: MfaCodeRule,
}

impl Default for MfaTotpConfig {
    fn default() -> Self {
        Self {
            issuer: "Nauthilus".into(),
            digits: 6,
            step: ConfigDuration::from_secs(30),
            skew: 1,
            enrolment_timeout: ConfigDuration::from_secs(600),
            brute_force: MfaCodeRule::default(),
        }
    }
}

/// `mfa.totp.brute_force`: the brute-force rule `mfa_code` of the code step (TOTP and recovery codes), counted per client network and per account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MfaCodeRule {
    /// Window in which wrong codes are counted.
    #[schemars(range(min = 1, max = crate::schema::YEAR_SECS))]
    pub period: ConfigDuration,
    /// Prefix length of the counted IPv4 network.
    #[schemars(range(min = 1, max = 32))]
    pub cidr: u8,
    /// Prefix length of the counted IPv6 network.
    #[schemars(range(min = 1, max = 128))]
    pub ipv6_cidr: u8,
    /// Wrong codes within `period` that ban the network (and the account).
    #[schemars(range(min = 1, max = 1_000_000))]
    pub failed_requests: u32,
    /// How long a ban lasts.
    #[schemars(range(min = 1, max = crate::schema::YEAR_SECS))]
    pub ban_time: ConfigDuration,
}

impl Default for MfaCodeRule {
    fn default() -> Self {
        Self {
            period: ConfigDuration::from_secs(15 * 60),
            cidr: 32,
            ipv6_cidr: 64,
            failed_requests: 10,
            ban_time: ConfigDuration::from_secs(3600),
        }
    }
}

/// `mfa.webauthn`: security keys and passkeys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MfaWebauthnConfig {
    /// Relying-party id: the registrable domain of the login pages. Required when used.
    #[schemars(example = "auth.example.test")]
    pub rp_id: String,
    /// Origin of the login pages (`https://auth.example.test`). Required when used.
    #[schemars(example = "https://auth.example.test")]
    pub rp_origin: String,
    /// Name of the relying party shown by authenticators.
    pub rp_name: String,
    /// How long a registration or login ceremony may take between begin and finish.
    #[schemars(range(min = 30, max = 3600))]
    pub ceremony_timeout: ConfigDuration,
}

impl Default for MfaWebauthnConfig {
    fn default() -> Self {
        Self {
            rp_id: String::new(),
            rp_origin: String::new(),
            rp_name: "Nauthilus".into(),
            ceremony_timeout: ConfigDuration::from_secs(300),
        }
    }
}

/// `mfa.app_passwords`: random passwords for mail clients, each scoped to protocols.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct AppPasswordConfig {
    /// Mail endpoints accept app passwords.
    pub enabled: bool,
    /// Protocols an app password may be scoped to (and where `require_app_password_for_mfa_users` applies).
    #[schemars(schema_with = "crate::schema::str_list")]
    pub protocols: Vec<String>,
}

impl Default for AppPasswordConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            protocols: ["imap", "pop3", "smtp", "submission", "sieve", "lmtp"]
                .map(String::from)
                .to_vec(),
        }
    }
}
