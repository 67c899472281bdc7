//! `AuthRequest`: one login (or lookup) as the pipeline sees it, whatever wire format it came in.

use std::fmt;

use crate::password::Password;
use crate::session::SessionId;

/// The protocol a login is for (`imap`, `smtp`, `pop3`, `http`, ...), lower-cased;
/// `default` when the client named none.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Protocol(String);

impl Protocol {
    /// The name used when a request names no protocol.
    pub const DEFAULT: &'static str = "default";

    /// Normalises a client-supplied protocol name: trimmed, lower-cased, `default` if empty.
    pub fn new(name: &str) -> Self {
        let trimmed = name.trim();
        if trimmed.is_empty() {
            Self(Self::DEFAULT.to_owned())
        } else {
            Self(trimmed.to_ascii_lowercase())
        }
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Protocol {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// The wire endpoint a request arrived on; logged, and part of the in-process cache key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// `/api/v1/auth/json`
    Json,
    /// `/api/v1/auth/header`
    Header,
    /// `/api/v1/auth/nginx`
    Nginx,
    /// `/api/v1/auth/saslauthd`
    Saslauthd,
    /// `/api/v1/auth/basic`
    Basic,
    /// `/api/v1/jwt/token`: a backchannel token request checked by the backends.
    Jwt,
    /// The identity provider's login page (`/login/post`).
    Idp,
}

impl Service {
    /// The endpoint's name as used in logs and config (`json`, `header`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Header => "header",
            Self::Nginx => "nginx",
            Self::Saslauthd => "saslauthd",
            Self::Basic => "basic",
            Self::Jwt => "jwt",
            Self::Idp => "idp",
        }
    }
}

/// What the caller wants done with the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Verify the password (the normal case).
    #[default]
    Authenticate,
    /// `mode=no-auth`: look the user up without a password.
    NoAuth,
}

/// Per-request switches from the query string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// `in-memory=0` turns this off: the in-process cache is neither read nor written.
    pub use_memory_cache: bool,
    /// `cache=0` turns this off: the `cache` backend (shared positive cache) is skipped.
    pub use_positive_cache: bool,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            use_memory_cache: true,
            use_positive_cache: true,
        }
    }
}

/// Who is connecting, as the calling mail server or proxy reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client IP address as reported (not validated here).
    pub ip: String,
    /// Client port as reported.
    pub port: String,
    /// Client host name as reported.
    pub hostname: String,
    /// Client identification (e.g. an IMAP ID string).
    pub id: String,
    /// User agent of the calling software.
    pub user_agent: String,
}

/// Where the client connected to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalInfo {
    /// Local (server-side) IP address.
    pub ip: String,
    /// Local (server-side) port.
    pub port: String,
}

/// TLS details of the client connection as reported by the caller. Any non-empty `ssl`
/// value means the connection used TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// The raw TLS flag (`on`, `1`, a protocol name, ...).
    pub ssl: String,
    pub session_id: String,
    pub client_verify: String,
    pub client_dn: String,
    pub client_cn: String,
    pub issuer: String,
    pub client_not_before: String,
    pub client_not_after: String,
    pub subject_dn: String,
    pub issuer_dn: String,
    pub client_subject_dn: String,
    pub client_issuer_dn: String,
    pub protocol: String,
    pub cipher: String,
    pub serial: String,
    pub fingerprint: String,
}

impl TlsInfo {
    /// True when the caller reported a TLS-protected client connection.
    pub fn is_tls(&self) -> bool {
        !self.ssl.trim().is_empty()
    }
}

/// One login or lookup, free of any wire format.
#[derive(Clone, Debug)]
pub struct AuthRequest {
    /// The request's id (`X-Nauthilus-Session`).
    pub session: SessionId,
    /// The endpoint it arrived on.
    pub service: Service,
    /// The login name as presented.
    pub username: String,
    /// The password as presented (empty in `no-auth` mode).
    pub password: Password,
    /// The mail or application protocol.
    pub protocol: Protocol,
    /// The SASL or HTTP auth method (`plain`, `login`, ...), informational.
    pub method: String,
    /// The caller's count of attempts on this connection (1 for the first).
    pub login_attempt: u32,
    /// Who is connecting.
    pub client: ClientInfo,
    /// Where they connected to.
    pub local: LocalInfo,
    /// TLS details of the client connection.
    pub tls: TlsInfo,
    /// OpenID Connect client id for logins from the IdP.
    pub oidc_cid: String,
    /// Authenticate or only look up.
    pub mode: AuthMode,
    /// Which caches this request may use.
    pub cache_policy: CachePolicy,
    /// What the scripts of this request share (clones of the request share it too).
    pub scratch: crate::script::ScriptScratch,
}

impl AuthRequest {
    /// A request with every optional field empty; codecs fill in what their wire format carries.
    pub fn new(session: SessionId, service: Service, username: String, password: Password) -> Self {
        Self {
            session,
            service,
            username,
            password,
            protocol: Protocol::default(),
            method: String::new(),
            login_attempt: 0,
            client: ClientInfo::default(),
            local: LocalInfo::default(),
            tls: TlsInfo::default(),
            oidc_cid: String::new(),
            mode: AuthMode::Authenticate,
            cache_policy: CachePolicy::default(),
            scratch: crate::script::ScriptScratch::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_is_lower_cased_and_defaults() {
        assert_eq!(Protocol::new(" IMAP ").as_str(), "imap");
        assert_eq!(Protocol::new("").as_str(), "default");
        assert_eq!(Protocol::default().as_str(), "default");
    }

    #[test]
    fn any_non_empty_ssl_value_means_tls() {
        let mut tls = TlsInfo::default();
        assert!(!tls.is_tls());
        tls.ssl = "on".into();
        assert!(tls.is_tls());
    }
}
