//! The `sql:` section: the default SQL backend (`config` + `search[]`, `sql` in
//! `server.backends`) and named ones (`optional_sql_backends.<name>`, `sql(<name>)`).

use std::collections::BTreeMap;
use std::num::NonZeroU16;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// `sql:`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SqlSection {
    /// Connection settings of the default SQL backend (`sql` in `server.backends`).
    #[schemars(example = serde_json::json!({"url": "sqlite:///var/lib/nauthilus/users.db"}))]
    pub config: SqlPoolConfig,
    /// Queries of the default SQL backend, chosen by the request's protocol.
    #[schemars(example = serde_json::json!([
        {"protocol": ["imap", "pop3", "smtp", "default"],
         "password_query": "SELECT username, password, display_name FROM users WHERE username = %{user} AND active = 1",
         "list_accounts_query": "SELECT username FROM users WHERE active = 1",
         "mapping": {"account_field": "username", "password_field": "password", "display_name_field": "display_name"}},
    ]))]
    pub search: Vec<SqlSearch>,
    /// Named SQL backends (`sql(<name>)` in `server.backends`); each takes `config` and `search` like `sql`.
    #[schemars(example = serde_json::json!({"postfixadmin": {
        "config": {"url": "postgres://nauthilus@127.0.0.1/postfix"},
        "search": [{"protocol": ["default"],
                    "password_query": "SELECT username, password FROM mailbox WHERE username = %L{user} AND active = true",
                    "mapping": {"account_field": "username"}}]}}))]
    pub optional_sql_backends: BTreeMap<String, SqlBackendConfig>,
}

impl SqlSection {
    /// The backend called `name` (`None` or `default` = `sql.config` with `sql.search`).
    pub fn backend(&self, name: Option<&str>) -> Option<SqlBackendRef<'_>> {
        match name {
            None | Some("default") => Some(SqlBackendRef {
                path: "sql".to_owned(),
                config: &self.config,
                search: &self.search,
            }),
            Some(name) => self.optional_sql_backends.get(name).map(|b| SqlBackendRef {
                path: format!("sql.optional_sql_backends.{name}"),
                config: &b.config,
                search: &b.search,
            }),
        }
    }
}

/// One SQL backend's settings, borrowed from the section, with its key path for messages.
#[derive(Clone, Debug)]
pub struct SqlBackendRef<'a> {
    /// `sql` or `sql.optional_sql_backends.<name>`.
    pub path: String,
    pub config: &'a SqlPoolConfig,
    pub search: &'a [SqlSearch],
}

/// `sql.optional_sql_backends.<name>`: one named SQL backend.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SqlBackendConfig {
    /// Connection settings, as `sql.config`.
    pub config: SqlPoolConfig,
    /// Queries, as `sql.search`.
    pub search: Vec<SqlSearch>,
}

/// One SQL connection pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SqlPoolConfig {
    /// Database URL: `postgres://user:pw@host:port/db`, `mysql://user:pw@host:port/db` (MariaDB too) or `sqlite:///path/to/users.db`. Required when used.
    #[schemars(schema_with = "crate::schema::secret")]
    pub url: String,
    /// Most connections open at once; requests beyond wait up to `connect_timeout` for one.
    #[schemars(range(min = 1, max = 1024))]
    pub pool_size: NonZeroU16,
    /// Longest wait for a pooled connection, including opening one.
    #[schemars(range(max = 600))]
    pub connect_timeout: ConfigDuration,
    /// Timeout of one query; a slower query is a temporary failure.
    #[schemars(range(max = 600))]
    pub query_timeout: ConfigDuration,
    /// PEM file of CA certificates to verify the server with (turns on verified TLS); relative paths are relative to the config file.
    #[schemars(schema_with = "crate::schema::path")]
    pub tls_ca_cert: String,
    /// PEM client certificate (mutual TLS).
    #[schemars(schema_with = "crate::schema::path")]
    pub tls_client_cert: String,
    /// PEM private key of `tls_client_cert`.
    #[schemars(schema_with = "crate::schema::path")]
    pub tls_client_key: String,
    /// Require TLS but accept any server certificate (testing only).
    pub tls_skip_verify: bool,
}

impl Default for SqlPoolConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            pool_size: NonZeroU16::new(8).unwrap_or(NonZeroU16::MIN),
            connect_timeout: ConfigDuration::from_secs(5),
            query_timeout: ConfigDuration::from_secs(5),
            tls_ca_cert: String::new(),
            tls_client_cert: String::new(),
            tls_client_key: String::new(),
            tls_skip_verify: false,
        }
    }
}

/// One entry of `sql.search`: the queries for some protocols.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SqlSearch {
    /// Protocols these queries serve (`imap`, `smtp`, ...); `default` serves every protocol without its own entry. Required.
    #[schemars(schema_with = "crate::schema::str_list", extend("x-required" = true))]
    pub protocol: Vec<String>,
    /// Name of the positive-cache namespace for users found here (empty: `__default__`).
    pub cache_name: String,
    /// Query returning at most one row for a login, with the stored password; macros (`%{user}`, `%L{user}`, `%{username}`, `%{domain}`, `%{protocol}`, `%{client_ip}`, `%{local_port}`, ...) become bound parameters. Required.
    #[schemars(extend("x-required" = true))]
    pub password_query: String,
    /// Query for `mode=no-auth` (user lookup without a password); empty: `password_query`.
    pub user_query: String,
    /// Query returning every account for `mode=list-accounts` (empty: this backend lists none).
    pub list_accounts_query: String,
    pub mapping: SqlMapping,
    /// Columns returned with the user (JSON body, `X-Nauthilus-<Column>` headers); empty: every column but the password.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub attribute: Vec<String>,
}

/// `sql.search[].mapping`: which columns carry what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SqlMapping {
    /// Column holding the account name (`Auth-User`); empty: the login name as given.
    pub account_field: String,
    /// Column holding the display name.
    pub display_name_field: String,
    /// Column holding the TOTP secret.
    pub totp_secret_field: String,
    /// Column holding a stable unique user id (`webauth_userid_field`).
    pub unique_user_id_field: String,
    /// Column holding the stored password (`{SCHEME}` prefixed or a crypt string such as `$6$...`).
    pub password_field: String,
}

impl Default for SqlMapping {
    fn default() -> Self {
        Self {
            account_field: String::new(),
            display_name_field: String::new(),
            totp_secret_field: String::new(),
            unique_user_id_field: String::new(),
            password_field: "password".into(),
        }
    }
}
