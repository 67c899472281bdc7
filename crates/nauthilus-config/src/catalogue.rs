//! The catalogue of every configuration key nauthilus-rs implements: its path, type, default and
//! one-line meaning. Validation, `NAUTHILUS_*` overrides, the reference docs and the drift tests
//! all read this one table.

/// What values a key accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Any scalar, taken as a string.
    Str,
    /// A string whose value must never be echoed (passwords, nonces).
    Secret,
    /// A file system path.
    Path,
    /// `true` or `false`.
    Bool,
    /// A whole number within the bounds.
    UInt { min: u64, max: u64 },
    /// A decimal number within the bounds.
    Float { min: f64, max: f64 },
    /// A Go duration string or a number of seconds, at most `max_secs`.
    Duration { max_secs: u64 },
    /// `host:port` (IPv6 in brackets).
    HostPort,
    /// An HTTP header name.
    HeaderName,
    /// One of a fixed set of lower-case words.
    Enum(&'static [&'static str]),
    /// A list of strings (a single string is a one-item list).
    StrList,
    /// A list of `host:port` addresses (a single string is a one-item list).
    HostPortList,
    /// A list of backend names (`server.backends`).
    BackendList,
    /// A list of IP addresses and networks (`192.0.2.0/24`, `2001:db8::1`).
    NetList,
}

impl Kind {
    /// How the type is written in the reference docs.
    pub fn describe(self) -> String {
        match self {
            Self::Str => "string".into(),
            Self::Secret => "string (secret)".into(),
            Self::Path => "path".into(),
            Self::Bool => "bool".into(),
            Self::UInt { min, max } => format!("integer {min}..{max}"),
            Self::Float { min, max } => format!("number {min}..{max}"),
            Self::Duration { .. } => "duration".into(),
            Self::HostPort => "host:port".into(),
            Self::HeaderName => "header name".into(),
            Self::Enum(words) => words.join(" \\| "),
            Self::StrList => "list of strings".into(),
            Self::HostPortList => "list of host:port".into(),
            Self::BackendList => "list of backend names".into(),
            Self::NetList => "list of IP addresses or networks".into(),
        }
    }
}

/// One implemented configuration key.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// Dotted path; `*` stands for a free-form map key (e.g. a protocol name) and `name[]` for
    /// any item of a list of mappings (`brute_force.buckets[].name`).
    pub path: &'static str,
    /// Accepted values.
    pub kind: Kind,
    /// The default, as written in YAML; empty when there is none.
    pub default: &'static str,
    /// What the key does, in one line.
    pub doc: &'static str,
}

impl Key {
    /// The `NAUTHILUS_*` environment variable that overrides this key, if it has one
    /// (keys under free-form maps and inside list items have none).
    pub fn env_var(&self) -> Option<String> {
        (!self.is_pattern()).then(|| env_var_for(self.path))
    }

    /// True for keys under a free-form map or inside list items (a pattern, not one path).
    pub fn is_pattern(&self) -> bool {
        self.path.contains('*') || self.path.contains("[]")
    }
}

/// The environment variable name for a dotted key path.
pub fn env_var_for(path: &str) -> String {
    format!("NAUTHILUS_{}", path.replace('.', "_").to_ascii_uppercase())
}

const PORT: Kind = Kind::UInt { min: 1, max: 65535 };
const LOG_LEVELS: &[&str] = &["none", "error", "warn", "notice", "info", "debug"];
const TLS_VERSIONS: &[&str] = &["tls1.2", "tls1.3"];
const LDAP_SCOPES: &[&str] = &["base", "one", "sub"];
/// Caches and bans may last up to a year, as in Nauthilus.
const YEAR_SECS: u64 = 8760 * 3600;

macro_rules! key {
    ($path:expr, $kind:expr, $default:literal, $doc:literal) => {
        Key {
            path: $path,
            kind: $kind,
            default: $default,
            doc: $doc,
        }
    };
}

macro_rules! header {
    ($name:literal, $default:literal, $doc:literal) => {
        key!(
            concat!("server.default_http_request_header.", $name),
            Kind::HeaderName,
            $default,
            $doc
        )
    };
}

/// Every implemented key, in documentation order.
pub static KEYS: &[Key] = &[
    // server
    key!(
        "server.address",
        Kind::HostPort,
        "127.0.0.1:9080",
        "Address and port the HTTP server listens on."
    ),
    key!(
        "server.instance_name",
        Kind::Str,
        "nauthilus",
        "Name of this instance, logged at startup."
    ),
    key!(
        "server.backends",
        Kind::BackendList,
        "",
        "Password databases in the order they are asked: `cache`, `passwd_file`, `ldap`, `ldap(<pool>)`. Required."
    ),
    key!(
        "server.features",
        Kind::StrList,
        "",
        "Optional stages of the pipeline to run: `brute_force`."
    ),
    key!(
        "server.brute_force_protocols",
        Kind::StrList,
        "",
        "Protocols brute-force protection applies to (`imap`, `smtp`, ...); empty: every protocol."
    ),
    key!(
        "server.max_concurrent_requests",
        Kind::UInt {
            min: 1,
            max: 10_000_000
        },
        "3000",
        "Requests served at once; more get 429."
    ),
    key!(
        "server.password_hash_workers",
        Kind::UInt { min: 0, max: 4096 },
        "0",
        "Password hashes verified at once, off the async workers; 0 = number of CPUs."
    ),
    key!(
        "server.timeouts.header_read",
        Kind::Duration { max_secs: 3600 },
        "30s",
        "Time a client has to send a request's headers (HTTP/1), counted from connecting or from the previous response, so idle keep-alive connections close after it too; 0 = default."
    ),
    key!(
        "server.timeouts.body_read",
        Kind::Duration { max_secs: 3600 },
        "10s",
        "Time a client has to send a request's body once its headers are in; a slower one gets 408 and is closed. 0 = default."
    ),
    key!(
        "server.log.json",
        Kind::Bool,
        "false",
        "Write logs as JSON lines."
    ),
    key!(
        "server.log.color",
        Kind::Bool,
        "false",
        "Colour text logs (ignored for JSON)."
    ),
    key!(
        "server.log.level",
        Kind::Enum(LOG_LEVELS),
        "info",
        "Log level: none, error, warn, notice (= info), info, debug."
    ),
    key!(
        "server.disabled_endpoints.auth_header",
        Kind::Bool,
        "false",
        "Disable `/api/v1/auth/header` (404)."
    ),
    key!(
        "server.disabled_endpoints.auth_json",
        Kind::Bool,
        "false",
        "Disable `/api/v1/auth/json` (404)."
    ),
    key!(
        "server.disabled_endpoints.auth_basic",
        Kind::Bool,
        "false",
        "Disable `/api/v1/auth/basic` (404)."
    ),
    key!(
        "server.disabled_endpoints.auth_nginx",
        Kind::Bool,
        "false",
        "Disable `/api/v1/auth/nginx` (404)."
    ),
    key!(
        "server.disabled_endpoints.auth_saslauthd",
        Kind::Bool,
        "false",
        "Disable `/api/v1/auth/saslauthd` (404)."
    ),
    header!("username", "Auth-User", "Header carrying the login name."),
    header!(
        "password",
        "Auth-Pass",
        "Header carrying the password (may be percent-encoded)."
    ),
    header!(
        "password_encoded",
        "X-Auth-Password-Encoded",
        "Header whose value `1` marks a base64 password; `Auth-Password-Encoded` is also read."
    ),
    header!(
        "protocol",
        "Auth-Protocol",
        "Header carrying the protocol (imap, smtp, ...)."
    ),
    header!(
        "login_attempt",
        "Auth-Login-Attempt",
        "Header carrying the attempt count on this connection."
    ),
    header!("auth_method", "Auth-Method", "Header carrying the SASL method."),
    header!("local_ip", "X-Local-IP", "Header carrying the server-side IP."),
    header!(
        "local_port",
        "X-Auth-Port",
        "Header carrying the server-side port."
    ),
    header!("client_ip", "Client-IP", "Header carrying the client IP."),
    header!("client_port", "X-Client-Port", "Header carrying the client port."),
    header!(
        "client_host",
        "X-Client-Host",
        "Header carrying the client host name; `Client-Host` (nginx) is also read."
    ),
    header!("client_id", "X-Client-ID", "Header carrying the client id."),
    header!("oidc_cid", "X-OIDC-CID", "Header carrying the OIDC client id."),
    header!(
        "ssl",
        "X-SSL",
        "Header whose non-empty value means TLS; `Auth-SSL` (nginx) is also read."
    ),
    header!("ssl_session_id", "X-SSL-Session-ID", "TLS session id."),
    header!(
        "ssl_verify",
        "X-SSL-Client-Verify",
        "Client certificate verification result; `Auth-SSL-Verify` is also read."
    ),
    header!(
        "ssl_subject",
        "X-SSL-Client-DN",
        "Client certificate subject; `Auth-SSL-Subject` is also read."
    ),
    header!(
        "ssl_client_cn",
        "X-SSL-Client-CN",
        "Client certificate common name."
    ),
    header!(
        "ssl_issuer",
        "X-SSL-Issuer",
        "Client certificate issuer; `Auth-SSL-Issuer` is also read."
    ),
    header!(
        "ssl_client_not_before",
        "X-SSL-Client-NotBefore",
        "Client certificate start of validity."
    ),
    header!(
        "ssl_client_not_after",
        "X-SSL-Client-NotAfter",
        "Client certificate end of validity."
    ),
    header!("ssl_subject_dn", "X-SSL-Subject-DN", "Subject DN."),
    header!("ssl_issuer_dn", "X-SSL-Issuer-DN", "Issuer DN."),
    header!(
        "ssl_client_subject_dn",
        "X-SSL-Client-Subject-DN",
        "Client subject DN."
    ),
    header!(
        "ssl_client_issuer_dn",
        "X-SSL-Client-Issuer-DN",
        "Client issuer DN."
    ),
    header!(
        "ssl_cipher",
        "X-SSL-Cipher",
        "TLS cipher; `Auth-SSL-Cipher` is also read."
    ),
    header!(
        "ssl_protocol",
        "X-SSL-Protocol",
        "TLS protocol version; `Auth-SSL-Protocol` is also read."
    ),
    header!("ssl_serial", "Auth-SSL-Serial", "Client certificate serial."),
    header!(
        "ssl_fingerprint",
        "Auth-SSL-Fingerprint",
        "Client certificate fingerprint."
    ),
    key!(
        "server.nginx_backends.*.address",
        Kind::Str,
        "",
        "`Auth-Server` the nginx endpoint returns for this protocol (overrides `<protocol>_backend_address`)."
    ),
    key!(
        "server.nginx_backends.*.port",
        PORT,
        "",
        "`Auth-Port` the nginx endpoint returns for this protocol."
    ),
    // server.redis
    key!(
        "server.redis.master.address",
        Kind::HostPort,
        "",
        "Standalone Redis `host:port`. With no Redis configured, state lives in process (embedded mode)."
    ),
    key!(
        "server.redis.master.username",
        Kind::Str,
        "",
        "Redis ACL user name."
    ),
    key!(
        "server.redis.master.password",
        Kind::Secret,
        "",
        "Redis password."
    ),
    key!(
        "server.redis.sentinels.master",
        Kind::Str,
        "",
        "Name of the master the sentinels watch."
    ),
    key!(
        "server.redis.sentinels.addresses",
        Kind::HostPortList,
        "",
        "Sentinel `host:port` list; with `master` it selects Sentinel mode."
    ),
    key!(
        "server.redis.sentinels.username",
        Kind::Str,
        "",
        "ACL user name for the sentinels."
    ),
    key!(
        "server.redis.sentinels.password",
        Kind::Secret,
        "",
        "Password for the sentinels."
    ),
    key!(
        "server.redis.cluster.addresses",
        Kind::HostPortList,
        "",
        "Seed nodes of a Redis Cluster; non-empty selects Cluster mode."
    ),
    key!(
        "server.redis.cluster.username",
        Kind::Str,
        "",
        "ACL user name for the cluster nodes."
    ),
    key!(
        "server.redis.cluster.password",
        Kind::Secret,
        "",
        "Password for the cluster nodes."
    ),
    key!(
        "server.redis.database_number",
        Kind::UInt { min: 0, max: 15 },
        "0",
        "Database number (not used by Cluster)."
    ),
    key!(
        "server.redis.prefix",
        Kind::Str,
        "nauthilus:",
        "Prefix of every key this server writes."
    ),
    key!(
        "server.redis.password_nonce",
        Kind::Secret,
        "",
        "Secret mixed into password digests (positive cache, brute-force history); at least 16 characters; required with Redis, random per process without."
    ),
    key!(
        "server.redis.pool_size",
        Kind::UInt { min: 1, max: 1024 },
        "4",
        "Multiplexed connections to the master (standalone, Sentinel); in Cluster mode, connections per node."
    ),
    key!(
        "server.redis.positive_cache_ttl",
        Kind::Duration { max_secs: YEAR_SECS },
        "1h",
        "How long a successful login stays in the positive cache."
    ),
    key!(
        "server.redis.dial_timeout",
        Kind::Duration { max_secs: 60 },
        "5s",
        "Timeout for opening a connection."
    ),
    key!(
        "server.redis.read_timeout",
        Kind::Duration { max_secs: 60 },
        "1s",
        "Timeout for one command's answer."
    ),
    key!(
        "server.redis.write_timeout",
        Kind::Duration { max_secs: 60 },
        "1s",
        "Timeout for sending one command (the larger of read and write timeout bounds a command)."
    ),
    key!(
        "server.redis.tls.enabled",
        Kind::Bool,
        "false",
        "Connect to Redis (and to the sentinels) over TLS."
    ),
    key!(
        "server.redis.tls.skip_verify",
        Kind::Bool,
        "false",
        "Accept any server certificate (testing only)."
    ),
    key!(
        "server.redis.tls.ca_file",
        Kind::Path,
        "",
        "PEM file of CA certificates to trust instead of the system roots."
    ),
    key!(
        "server.redis.tls.cert",
        Kind::Path,
        "",
        "PEM client certificate for mutual TLS."
    ),
    key!(
        "server.redis.tls.key",
        Kind::Path,
        "",
        "PEM private key of the client certificate."
    ),
    key!(
        "server.redis.tls.min_tls_version",
        Kind::Enum(TLS_VERSIONS),
        "tls1.2",
        "Lowest TLS version accepted (`tls1.3` is not available in Cluster mode)."
    ),
    // passwd_file
    key!(
        "passwd_file.path",
        Kind::Path,
        "",
        "Dovecot passwd-file of users; relative paths are relative to the config file."
    ),
    key!(
        "passwd_file.check_interval",
        Kind::Duration { max_secs: 3600 },
        "1s",
        "How often the file is checked for changes (0 = never reload)."
    ),
    // ldap
    key!(
        "ldap.config.server_uri",
        Kind::StrList,
        "",
        "LDAP servers tried in order: `ldap://host[:port]`, `ldaps://host[:port]`, `ldapi://<percent-encoded socket path>`. Required when used."
    ),
    key!(
        "ldap.config.bind_dn",
        Kind::Str,
        "",
        "DN the lookup connections bind as (empty: anonymous lookups)."
    ),
    key!("ldap.config.bind_pw", Kind::Secret, "", "Password of `bind_dn`."),
    key!(
        "ldap.config.starttls",
        Kind::Bool,
        "false",
        "Upgrade `ldap://` connections with StartTLS."
    ),
    key!(
        "ldap.config.tls_skip_verify",
        Kind::Bool,
        "false",
        "Accept any server certificate (testing only)."
    ),
    key!(
        "ldap.config.tls_ca_cert",
        Kind::Path,
        "",
        "PEM file of CA certificates to trust instead of the system roots; relative paths are relative to the config file."
    ),
    key!(
        "ldap.config.tls_client_cert",
        Kind::Path,
        "",
        "PEM client certificate (mutual TLS, SASL EXTERNAL)."
    ),
    key!(
        "ldap.config.tls_client_key",
        Kind::Path,
        "",
        "PEM private key of `tls_client_cert`."
    ),
    key!(
        "ldap.config.sasl_external",
        Kind::Bool,
        "false",
        "Lookup connections authenticate with SASL EXTERNAL (the TLS client certificate) instead of `bind_dn`."
    ),
    key!(
        "ldap.config.lookup_pool_size",
        Kind::UInt { min: 1, max: 1024 },
        "8",
        "Most lookup (search) connections open at once."
    ),
    key!(
        "ldap.config.lookup_idle_pool_size",
        Kind::UInt { min: 0, max: 1024 },
        "2",
        "Lookup connections the health check keeps open when idle."
    ),
    key!(
        "ldap.config.auth_pool_size",
        Kind::UInt { min: 1, max: 1024 },
        "8",
        "Most auth connections (binds as users) open at once."
    ),
    key!(
        "ldap.config.auth_idle_pool_size",
        Kind::UInt { min: 0, max: 1024 },
        "2",
        "Auth connections the health check keeps open when idle."
    ),
    key!(
        "ldap.config.connect_abort_timeout",
        Kind::Duration { max_secs: 600 },
        "10s",
        "Longest wait for a free pooled connection, and for opening one (TCP, TLS, service bind)."
    ),
    key!(
        "ldap.config.search_timeout",
        Kind::Duration { max_secs: 600 },
        "5s",
        "Timeout of one search."
    ),
    key!(
        "ldap.config.bind_timeout",
        Kind::Duration { max_secs: 600 },
        "5s",
        "Timeout of one bind (service account or user)."
    ),
    key!(
        "ldap.config.search_size_limit",
        Kind::UInt {
            min: 0,
            max: 2_147_483_647
        },
        "0",
        "Most entries one search returns (0 = the server's limit)."
    ),
    key!(
        "ldap.config.retry_max",
        Kind::UInt { min: 0, max: 10 },
        "2",
        "Retries of an operation after a connection error, timeout or busy server."
    ),
    key!(
        "ldap.config.retry_base",
        Kind::Duration { max_secs: 60 },
        "200ms",
        "Pause before the first retry; doubles with each further retry."
    ),
    key!(
        "ldap.config.retry_max_backoff",
        Kind::Duration { max_secs: 600 },
        "2s",
        "Longest pause between retries."
    ),
    key!(
        "ldap.config.cb_failure_threshold",
        Kind::UInt { min: 0, max: 1000 },
        "5",
        "Failed connects in a row after which a server is skipped (circuit breaker open); 0 = never."
    ),
    key!(
        "ldap.config.cb_cooldown",
        Kind::Duration { max_secs: 3600 },
        "30s",
        "How long an open breaker skips its server before one probe connection is tried."
    ),
    key!(
        "ldap.config.health_check_interval",
        Kind::Duration { max_secs: 3600 },
        "10s",
        "How often servers marked down are probed and idle connections topped up (0 = never)."
    ),
    key!(
        "ldap.optional_ldap_pools.*.server_uri",
        Kind::StrList,
        "",
        "Like `ldap.config.server_uri`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.bind_dn",
        Kind::Str,
        "",
        "Like `ldap.config.bind_dn`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.bind_pw",
        Kind::Secret,
        "",
        "Like `ldap.config.bind_pw`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.starttls",
        Kind::Bool,
        "false",
        "Like `ldap.config.starttls`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.tls_skip_verify",
        Kind::Bool,
        "false",
        "Like `ldap.config.tls_skip_verify`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.tls_ca_cert",
        Kind::Path,
        "",
        "Like `ldap.config.tls_ca_cert`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.tls_client_cert",
        Kind::Path,
        "",
        "Like `ldap.config.tls_client_cert`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.tls_client_key",
        Kind::Path,
        "",
        "Like `ldap.config.tls_client_key`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.sasl_external",
        Kind::Bool,
        "false",
        "Like `ldap.config.sasl_external`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.lookup_pool_size",
        Kind::UInt { min: 1, max: 1024 },
        "8",
        "Like `ldap.config.lookup_pool_size`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.lookup_idle_pool_size",
        Kind::UInt { min: 0, max: 1024 },
        "2",
        "Like `ldap.config.lookup_idle_pool_size`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.auth_pool_size",
        Kind::UInt { min: 1, max: 1024 },
        "8",
        "Like `ldap.config.auth_pool_size`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.auth_idle_pool_size",
        Kind::UInt { min: 0, max: 1024 },
        "2",
        "Like `ldap.config.auth_idle_pool_size`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.connect_abort_timeout",
        Kind::Duration { max_secs: 600 },
        "10s",
        "Like `ldap.config.connect_abort_timeout`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.search_timeout",
        Kind::Duration { max_secs: 600 },
        "5s",
        "Like `ldap.config.search_timeout`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.bind_timeout",
        Kind::Duration { max_secs: 600 },
        "5s",
        "Like `ldap.config.bind_timeout`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.search_size_limit",
        Kind::UInt {
            min: 0,
            max: 2_147_483_647
        },
        "0",
        "Like `ldap.config.search_size_limit`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.retry_max",
        Kind::UInt { min: 0, max: 10 },
        "2",
        "Like `ldap.config.retry_max`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.retry_base",
        Kind::Duration { max_secs: 60 },
        "200ms",
        "Like `ldap.config.retry_base`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.retry_max_backoff",
        Kind::Duration { max_secs: 600 },
        "2s",
        "Like `ldap.config.retry_max_backoff`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.cb_failure_threshold",
        Kind::UInt { min: 0, max: 1000 },
        "5",
        "Like `ldap.config.cb_failure_threshold`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.cb_cooldown",
        Kind::Duration { max_secs: 3600 },
        "30s",
        "Like `ldap.config.cb_cooldown`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.optional_ldap_pools.*.health_check_interval",
        Kind::Duration { max_secs: 3600 },
        "10s",
        "Like `ldap.config.health_check_interval`, for the pool `ldap(<name>)`."
    ),
    key!(
        "ldap.search[].protocol",
        Kind::StrList,
        "",
        "Protocols this search serves (`imap`, `smtp`, ...); `default` serves every protocol without its own search. Required."
    ),
    key!(
        "ldap.search[].cache_name",
        Kind::Str,
        "",
        "Name of the positive-cache namespace for users found here (empty: `__default__`)."
    ),
    key!(
        "ldap.search[].pool_name",
        Kind::Str,
        "",
        "Pool the search runs on: a key of `ldap.optional_ldap_pools` (empty or `default`: `ldap.config`)."
    ),
    key!(
        "ldap.search[].base_dn",
        Kind::Str,
        "",
        "Base DN of the search. Required."
    ),
    key!(
        "ldap.search[].scope",
        Kind::Enum(LDAP_SCOPES),
        "sub",
        "Search scope: base, one or sub."
    ),
    key!(
        "ldap.search[].filter.user",
        Kind::Str,
        "",
        "Filter finding one user; macros (`%L{user}`, `%{username}`, `%{domain}`, `%{service}`, `%{remote_ip}`, ...) are replaced by escaped values. Required."
    ),
    key!(
        "ldap.search[].filter.list_accounts",
        Kind::Str,
        "",
        "Filter finding every account for `mode=list-accounts` (empty: this search lists none)."
    ),
    key!(
        "ldap.search[].mapping.account_field",
        Kind::Str,
        "",
        "Attribute holding the account name (`Auth-User`). Required."
    ),
    key!(
        "ldap.search[].mapping.totp_secret_field",
        Kind::Str,
        "",
        "Attribute holding the TOTP secret."
    ),
    key!(
        "ldap.search[].mapping.totp_recovery_field",
        Kind::Str,
        "",
        "Attribute holding TOTP recovery codes."
    ),
    key!(
        "ldap.search[].mapping.display_name_field",
        Kind::Str,
        "",
        "Attribute holding the display name."
    ),
    key!(
        "ldap.search[].mapping.unique_user_id_field",
        Kind::Str,
        "",
        "Attribute holding a stable unique user id (`webauth_userid_field`)."
    ),
    key!(
        "ldap.search[].attribute",
        Kind::StrList,
        "",
        "Attributes returned with the user (JSON body, `X-Nauthilus-<Attr>` headers); mapped fields are added."
    ),
    // brute_force
    key!(
        "brute_force.buckets[].name",
        Kind::Str,
        "",
        "Name of the rule (unique; shown by the list API, used by the flush API). Required."
    ),
    key!(
        "brute_force.buckets[].period",
        Kind::Duration { max_secs: YEAR_SECS },
        "",
        "Window in which failures are counted (`60`, `1h`). Required."
    ),
    key!(
        "brute_force.buckets[].cidr",
        Kind::UInt { min: 1, max: 128 },
        "",
        "Prefix length of the counted network (at most 32 for IPv4 rules). Required."
    ),
    key!(
        "brute_force.buckets[].ipv4",
        Kind::Bool,
        "false",
        "The rule counts IPv4 clients."
    ),
    key!(
        "brute_force.buckets[].ipv6",
        Kind::Bool,
        "false",
        "The rule counts IPv6 clients."
    ),
    key!(
        "brute_force.buckets[].failed_requests",
        Kind::UInt {
            min: 1,
            max: 1_000_000
        },
        "",
        "Failures within `period` that ban the network. Required."
    ),
    key!(
        "brute_force.buckets[].ban_time",
        Kind::Duration { max_secs: YEAR_SECS },
        "8h",
        "How long a ban lasts."
    ),
    key!(
        "brute_force.buckets[].filter_by_protocol",
        Kind::StrList,
        "",
        "Only these protocols are counted by the rule, each in its own bucket; empty: all."
    ),
    key!(
        "brute_force.buckets[].filter_by_oidc_cid",
        Kind::StrList,
        "",
        "Only these OIDC client ids are counted by the rule, each in its own bucket; empty: all."
    ),
    key!(
        "brute_force.ip_whitelist",
        Kind::NetList,
        "",
        "Clients in these networks are never counted or banned."
    ),
    key!(
        "brute_force.learning",
        Kind::StrList,
        "",
        "Features whose rejections also count as failures (none exist yet; accepted for compatibility)."
    ),
    key!(
        "brute_force.tolerate_percent",
        Kind::UInt { min: 0, max: 100 },
        "0",
        "A client may fail this share of its recent logins without a ban; 0 = off."
    ),
    key!(
        "brute_force.tolerate_ttl",
        Kind::Duration { max_secs: YEAR_SECS },
        "24h",
        "How long successful and failed logins are remembered for tolerations."
    ),
    key!(
        "brute_force.adaptive_toleration",
        Kind::Bool,
        "false",
        "Scale the tolerated share with the client's successful logins, between min and max."
    ),
    key!(
        "brute_force.min_tolerate_percent",
        Kind::UInt { min: 0, max: 100 },
        "10",
        "Adaptive toleration: the share tolerated for a client with few successes."
    ),
    key!(
        "brute_force.max_tolerate_percent",
        Kind::UInt { min: 0, max: 100 },
        "50",
        "Adaptive toleration: the share approached as successes grow."
    ),
    key!(
        "brute_force.scale_factor",
        Kind::Float { min: 0.1, max: 10.0 },
        "1.0",
        "Adaptive toleration: how fast the share grows with successes."
    ),
    key!(
        "brute_force.custom_tolerations[].ip_address",
        Kind::Str,
        "",
        "IP address or network these toleration settings apply to. Required."
    ),
    key!(
        "brute_force.custom_tolerations[].tolerate_percent",
        Kind::UInt { min: 0, max: 100 },
        "0",
        "As `brute_force.tolerate_percent`, for this network."
    ),
    key!(
        "brute_force.custom_tolerations[].tolerate_ttl",
        Kind::Duration { max_secs: YEAR_SECS },
        "24h",
        "As `brute_force.tolerate_ttl`, for this network."
    ),
    key!(
        "brute_force.custom_tolerations[].adaptive_toleration",
        Kind::Bool,
        "false",
        "As `brute_force.adaptive_toleration`, for this network."
    ),
    key!(
        "brute_force.custom_tolerations[].min_tolerate_percent",
        Kind::UInt { min: 0, max: 100 },
        "10",
        "As `brute_force.min_tolerate_percent`, for this network."
    ),
    key!(
        "brute_force.custom_tolerations[].max_tolerate_percent",
        Kind::UInt { min: 0, max: 100 },
        "50",
        "As `brute_force.max_tolerate_percent`, for this network."
    ),
    key!(
        "brute_force.custom_tolerations[].scale_factor",
        Kind::Float { min: 0.1, max: 10.0 },
        "1.0",
        "As `brute_force.scale_factor`, for this network."
    ),
    key!(
        "brute_force.rwp_allowed_unique_hashes",
        Kind::UInt { min: 1, max: 100 },
        "3",
        "Distinct wrong passwords per client and account whose repetition is not counted again."
    ),
    key!(
        "brute_force.rwp_window",
        Kind::Duration { max_secs: YEAR_SECS },
        "15m",
        "How long a wrong password is remembered for that."
    ),
    key!(
        "brute_force.ip_scoping.rwp_ipv6_cidr",
        Kind::UInt { min: 0, max: 128 },
        "0",
        "IPv6 clients are one client per this prefix for repeated wrong passwords; 0 = per address."
    ),
    key!(
        "brute_force.ip_scoping.tolerations_ipv6_cidr",
        Kind::UInt { min: 0, max: 128 },
        "0",
        "IPv6 clients are one client per this prefix for tolerations; 0 = per address."
    ),
    // Nauthilus top-level knobs
    key!(
        "imap_backend_address",
        Kind::Str,
        "127.0.0.1",
        "`Auth-Server` for imap on the nginx endpoint."
    ),
    key!(
        "imap_backend_port",
        PORT,
        "9931",
        "`Auth-Port` for imap on the nginx endpoint."
    ),
    key!(
        "pop3_backend_address",
        Kind::Str,
        "127.0.0.1",
        "`Auth-Server` for pop3 on the nginx endpoint."
    ),
    key!(
        "pop3_backend_port",
        PORT,
        "9951",
        "`Auth-Port` for pop3 on the nginx endpoint."
    ),
    key!(
        "smtp_backend_address",
        Kind::Str,
        "127.0.0.1",
        "`Auth-Server` for smtp on the nginx endpoint."
    ),
    key!(
        "smtp_backend_port",
        PORT,
        "5871",
        "`Auth-Port` for smtp on the nginx endpoint."
    ),
    key!(
        "nginx_wait_delay",
        Kind::UInt { min: 0, max: 3600 },
        "10",
        "Largest `Auth-Wait` (seconds) after a failed login; 0 sends none."
    ),
    key!(
        "max_login_attempts",
        Kind::UInt { min: 1, max: 255 },
        "15",
        "Attempt count at which `Auth-Wait` stops growing."
    ),
    key!(
        "local_cache_auth_ttl",
        Kind::Duration { max_secs: 3600 },
        "30s",
        "How long this process remembers a successful login (in-process cache); 0 = off."
    ),
];

/// The implemented key at `path` (with concrete map keys), if any.
pub fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| path_matches(k.path, path))
}

/// True when some implemented key lies strictly below `path`.
pub fn is_section(path: &str) -> bool {
    KEYS.iter().any(|k| pattern_has_prefix(k.path, path))
}

/// True when `path` is a list of mappings (`brute_force.buckets`): its items are walked as
/// sections named `path[0]`, `path[1]`, ...
pub fn is_list_section(path: &str) -> bool {
    let items = format!("{path}[]");
    KEYS.iter().any(|k| pattern_has_prefix(k.path, &items))
}

/// Does a catalogue pattern (with `*` and `name[]` segments) match a concrete path?
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let (mut p, mut c) = (pattern.split('.'), path.split('.'));
    loop {
        match (p.next(), c.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if segment_matches(a, b) => {}
            _ => return false,
        }
    }
}

fn pattern_has_prefix(pattern: &str, prefix: &str) -> bool {
    let mut p = pattern.split('.');
    for seg in prefix.split('.') {
        match p.next() {
            Some(a) if segment_matches(a, seg) => {}
            _ => return false,
        }
    }
    p.next().is_some()
}

/// `*` matches any segment; `name[]` matches `name[]` and `name[<index>]`.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    if pattern == segment {
        return true;
    }
    if pattern == "*" {
        // A list (`name[]`) is never a free-form map key.
        return !segment.ends_with("[]");
    }
    let Some(list) = pattern.strip_suffix("[]") else {
        return false;
    };
    segment
        .strip_prefix(list)
        .and_then(|rest| rest.strip_prefix('['))
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_the_nauthilus_rule() {
        let key = find("server.redis.master.address").unwrap();
        assert_eq!(
            key.env_var().as_deref(),
            Some("NAUTHILUS_SERVER_REDIS_MASTER_ADDRESS")
        );
        assert_eq!(find("server.nginx_backends.imap.port").unwrap().env_var(), None);
    }

    #[test]
    fn wildcards_match_one_segment() {
        assert!(path_matches(
            "server.nginx_backends.*.port",
            "server.nginx_backends.imap.port"
        ));
        assert!(!path_matches(
            "server.nginx_backends.*.port",
            "server.nginx_backends.port"
        ));
        assert!(is_section("server.nginx_backends.sieve"));
        assert!(is_section("server"));
        assert!(!is_section("server.address"));
    }

    #[test]
    fn list_items_match_by_index() {
        assert!(segment_matches("buckets[]", "buckets[0]"));
        assert!(segment_matches("buckets[]", "buckets[12]"));
        assert!(!segment_matches("buckets[]", "buckets[]x"));
        assert!(!segment_matches("buckets[]", "buckets[a]"));
        assert!(!segment_matches("buckets[]", "buckets"));
        assert!(!segment_matches("buckets", "buckets[0]"));
    }

    #[test]
    fn paths_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in KEYS {
            assert!(seen.insert(k.path), "duplicate key {}", k.path);
        }
    }
}
