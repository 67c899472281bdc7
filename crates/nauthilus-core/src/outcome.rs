//! `AuthOutcome`: what the pipeline decided, free of any wire format.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Attribute names to values.
pub type Attributes = BTreeMap<String, Vec<String>>;

/// Which kind of backend produced a user's data; the numeric ids are the ones Nauthilus puts
/// on the wire (`backend` in the JSON body, the `backend` field of the positive cache).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendId {
    Unknown,
    Cache,
    Ldap,
    Lua,
    /// The in-process cache of this instance.
    Memory,
    /// A passwd-file (a nauthilus-rs backend; id 5).
    PasswdFile,
}

impl BackendId {
    /// The number used on the wire and in the positive cache.
    pub fn code(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::Cache => 1,
            Self::Ldap => 2,
            Self::Lua => 3,
            Self::Memory => 4,
            Self::PasswdFile => 5,
        }
    }

    /// The backend for a wire number; unknown numbers are `Unknown`.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Cache,
            2 => Self::Ldap,
            3 => Self::Lua,
            4 => Self::Memory,
            5 => Self::PasswdFile,
            _ => Self::Unknown,
        }
    }

    /// The `passdb_backend` name in the JSON success body (the Nauthilus function names).
    pub fn passdb_name(self) -> &'static str {
        match self {
            Self::Unknown => "unknownPassDB",
            Self::Cache => "cachePassDB",
            Self::Ldap => "ldapPassDB",
            Self::Lua => "luaPassDB",
            Self::Memory => "localCachePassDB",
            Self::PasswdFile => "passwdFilePassDB",
        }
    }

    /// The name used in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Cache => "cache",
            Self::Ldap => "ldap",
            Self::Lua => "lua",
            Self::Memory => "memory",
            Self::PasswdFile => "passwd_file",
        }
    }
}

/// Which attributes carry what: each value is an attribute *name*.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldNames {
    pub account_field: String,
    pub totp_secret_field: String,
    pub webauthn_userid_field: String,
    pub display_name_field: String,
}

/// A user as a backend knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserData {
    /// The canonical account name (sent as `Auth-User`).
    pub account: String,
    /// The backend the data came from originally (a cache hit reports the filling backend).
    pub backend: BackendId,
    pub fields: FieldNames,
    pub attributes: Attributes,
}

/// Why a login failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// The user exists but the password does not match (or the user has no password).
    WrongPassword,
    /// No backend knows the user.
    UnknownUser,
    /// The client's network is banned by brute-force protection (the password was not checked).
    BruteForce,
    /// The credentials were right, but a filter refused the login.
    Filtered,
    /// A pre-auth feature (`relay_domains`, `rbl`) refused the login before any backend.
    Feature(nauthilus_config::Feature),
}

/// The decision itself.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Authenticated (or, in `no-auth` mode, found).
    Ok(Arc<UserData>),
    /// Denied.
    Fail(FailReason),
    /// No decision possible now (a backend or the store failed); the client should retry.
    TempFail(String),
}

/// Where the nginx endpoint sends an authenticated client (`Auth-Server` / `Auth-Port`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub server: String,
    pub port: u16,
}

/// What the pipeline answers for one request. Built with the constructors; later stages
/// (filters, scripts) may add a status message, response headers, the upstream and log fields.
#[derive(Clone, Debug)]
pub struct AuthOutcome {
    pub decision: Decision,
    /// True when this process' in-memory cache answered.
    pub memory_cache_hit: bool,
    /// Seconds a proxy should wait before answering the client (`Auth-Wait`), on failure.
    pub auth_wait: Option<u64>,
    /// An `Auth-Status` text chosen by a stage instead of the endpoint's default one.
    pub status_message: Option<String>,
    /// Extra response headers a stage asked for (name, value).
    pub headers: Vec<(String, String)>,
    /// `Auth-Server`/`Auth-Port` chosen by a stage; else the configured one for the protocol.
    pub upstream: Option<Upstream>,
    /// Extra fields for the request's log line (name, value).
    pub log_fields: Vec<(String, String)>,
}

impl AuthOutcome {
    fn with(decision: Decision) -> Self {
        Self {
            decision,
            memory_cache_hit: false,
            auth_wait: None,
            status_message: None,
            headers: Vec::new(),
            upstream: None,
            log_fields: Vec::new(),
        }
    }

    /// Authenticated (or found) `user`.
    pub fn ok(user: Arc<UserData>) -> Self {
        Self::with(Decision::Ok(user))
    }

    /// Authenticated from this process' in-memory cache.
    pub fn memory_hit(user: Arc<UserData>) -> Self {
        Self {
            memory_cache_hit: true,
            ..Self::ok(user)
        }
    }

    /// Denied for `reason`, with the `Auth-Wait` a proxy should apply.
    pub fn fail(reason: FailReason, auth_wait: Option<u64>) -> Self {
        Self {
            auth_wait,
            ..Self::with(Decision::Fail(reason))
        }
    }

    /// No decision possible now; `why` is logged, never shown to the client.
    pub fn temp_fail(why: impl Into<String>) -> Self {
        Self::with(Decision::TempFail(why.into()))
    }

    /// True for `Decision::Ok`.
    pub fn is_ok(&self) -> bool {
        matches!(self.decision, Decision::Ok(_))
    }
}
