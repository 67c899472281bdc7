//! From `ldap.config` / `ldap.optional_ldap_pools.<name>` to checked pool settings: server URLs
//! parsed, TLS client configuration built (rustls, ring provider), numbers made usable.

use std::sync::Arc;
use std::time::Duration;

use nauthilus_config::LdapPoolConfig;
use nauthilus_tls::{AcceptAnyServerCertificate, TlsFileError};
use rustls::ClientConfig;

use super::ConfigProblem;

/// Checked settings of one pool.
#[derive(Clone)]
pub struct PoolSettings {
    /// The pool's name (`default` for `ldap.config`), for logs.
    pub name: String,
    /// Server URLs in failover order.
    pub servers: Vec<String>,
    pub bind_dn: String,
    pub bind_pw: String,
    pub starttls: bool,
    pub sasl_external: bool,
    /// TLS for `ldaps://` and StartTLS.
    pub tls: Arc<ClientConfig>,
    pub lookup_pool_size: usize,
    pub lookup_idle_pool_size: usize,
    pub auth_pool_size: usize,
    pub auth_idle_pool_size: usize,
    /// Longest wait for a pooled connection, and for opening one.
    pub connect_timeout: Duration,
    pub search_timeout: Duration,
    pub bind_timeout: Duration,
    /// 0 = no client-side limit.
    pub search_size_limit: i32,
    pub retry_max: u32,
    pub retry_base: Duration,
    pub retry_max_backoff: Duration,
    pub cb_failure_threshold: u32,
    pub cb_cooldown: Duration,
    /// 0 = no background health checks.
    pub health_check_interval: Duration,
}

impl std::fmt::Debug for PoolSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the bind password.
        f.debug_struct("PoolSettings")
            .field("name", &self.name)
            .field("servers", &self.servers)
            .field("bind_dn", &self.bind_dn)
            .field("starttls", &self.starttls)
            .field("sasl_external", &self.sasl_external)
            .finish_non_exhaustive()
    }
}

impl PoolSettings {
    /// Checks `config` (found at key path `path`), collecting every problem.
    pub fn from_config(name: &str, path: &str, config: &LdapPoolConfig) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem {
                path: format!("{path}.{key}"),
                message,
            });
        };
        if config.server_uri.is_empty() {
            problem("server_uri", "at least one server URI is required".into());
        }
        for uri in &config.server_uri {
            if let Err(message) = check_uri(uri) {
                problem("server_uri", message);
            }
            if config.starttls && uri.starts_with("ldaps://") {
                problem(
                    "starttls",
                    format!("{uri}: StartTLS cannot be used on an ldaps:// connection"),
                );
            }
        }
        if config.sasl_external && (config.tls_client_cert.is_empty() || config.tls_client_key.is_empty()) {
            problem(
                "sasl_external",
                "needs tls_client_cert and tls_client_key (the identity SASL EXTERNAL presents)".into(),
            );
        }
        if config.tls_client_cert.is_empty() != config.tls_client_key.is_empty() {
            problem(
                "tls_client_cert",
                "tls_client_cert and tls_client_key must be given together".into(),
            );
        }
        if config.lookup_idle_pool_size > config.lookup_pool_size.get() {
            problem("lookup_idle_pool_size", "must not exceed lookup_pool_size".into());
        }
        if config.auth_idle_pool_size > config.auth_pool_size.get() {
            problem("auth_idle_pool_size", "must not exceed auth_pool_size".into());
        }
        let tls = match tls_config(config) {
            Ok(tls) => Some(tls),
            Err((key, message)) => {
                problem(key, message);
                None
            }
        };
        let (Some(tls), true) = (tls, problems.is_empty()) else {
            return Err(problems);
        };
        Ok(Self {
            name: name.to_owned(),
            servers: config.server_uri.clone(),
            bind_dn: config.bind_dn.clone(),
            bind_pw: config.bind_pw.clone(),
            starttls: config.starttls,
            sasl_external: config.sasl_external,
            tls,
            lookup_pool_size: usize::from(config.lookup_pool_size.get()),
            lookup_idle_pool_size: usize::from(config.lookup_idle_pool_size),
            auth_pool_size: usize::from(config.auth_pool_size.get()),
            auth_idle_pool_size: usize::from(config.auth_idle_pool_size),
            connect_timeout: nonzero(config.connect_abort_timeout.get(), Duration::from_secs(10)),
            search_timeout: nonzero(config.search_timeout.get(), Duration::from_secs(5)),
            bind_timeout: nonzero(config.bind_timeout.get(), Duration::from_secs(5)),
            search_size_limit: config.search_size_limit,
            retry_max: u32::from(config.retry_max),
            retry_base: config.retry_base.get(),
            retry_max_backoff: config.retry_max_backoff.get(),
            cb_failure_threshold: u32::from(config.cb_failure_threshold),
            cb_cooldown: config.cb_cooldown.get(),
            health_check_interval: config.health_check_interval.get(),
        })
    }
}

/// Every network operation has a timeout: a zero from the config means the default.
fn nonzero(d: Duration, default: Duration) -> Duration {
    if d.is_zero() { default } else { d }
}

/// `ldap://host[:port]`, `ldaps://host[:port]` or `ldapi://<percent-encoded socket path>`.
fn check_uri(uri: &str) -> Result<(), String> {
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or_else(|| format!("{uri:?}: not a URI (expected ldap://, ldaps:// or ldapi://)"))?;
    match scheme.to_ascii_lowercase().as_str() {
        "ldap" | "ldaps" => {
            let authority = rest.split('/').next().unwrap_or_default();
            let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
                let (host, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("{uri:?}: unclosed [ in the host"))?;
                (host, after.strip_prefix(':'))
            } else {
                match authority.rsplit_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (authority, None),
                }
            };
            if host.is_empty() {
                return Err(format!("{uri:?}: no host"));
            }
            if let Some(port) = port {
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{uri:?}: port {port:?} is not a number 1..65535"))?;
            }
            Ok(())
        }
        "ldapi" => {
            let path = rest.split('/').next().unwrap_or_default();
            if path.is_empty() {
                Err(format!(
                    "{uri:?}: no socket path (write it percent-encoded, e.g. ldapi://%2Frun%2Fslapd%2Fldapi)"
                ))
            } else {
                Ok(())
            }
        }
        other => Err(format!("{uri:?}: scheme {other:?} is not ldap, ldaps or ldapi")),
    }
}

fn tls_config(config: &LdapPoolConfig) -> Result<Arc<ClientConfig>, (&'static str, String)> {
    let provider = nauthilus_tls::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ("server_uri", format!("TLS: {e}")))?;
    let builder = if config.tls_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCertificate::new(&provider)))
    } else {
        // Only needed for ldaps:// or StartTLS; without a CA file an empty system store fails
        // those connections clearly.
        let roots = nauthilus_tls::root_store(&config.tls_ca_cert, false).map_err(at("tls_ca_cert"))?;
        builder.with_root_certificates(roots)
    };
    let config = if config.tls_client_cert.is_empty() || config.tls_client_key.is_empty() {
        builder.with_no_client_auth()
    } else {
        let chain =
            nauthilus_tls::read_certificates(&config.tls_client_cert).map_err(at("tls_client_cert"))?;
        let key = nauthilus_tls::read_private_key(&config.tls_client_key).map_err(at("tls_client_key"))?;
        builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| ("tls_client_cert", format!("client certificate and key: {e}")))?
    };
    Ok(Arc::new(config))
}

/// A TLS file problem reported at `key`.
fn at(key: &'static str) -> impl Fn(TlsFileError) -> (&'static str, String) {
    move |e| (key, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_checked() {
        assert!(check_uri("ldap://127.0.0.1:389").is_ok());
        assert!(check_uri("ldaps://ldap.example.test/").is_ok());
        assert!(check_uri("ldap://[::1]:389").is_ok());
        assert!(check_uri("ldapi://%2Frun%2Fslapd%2Fldapi").is_ok());
        assert!(check_uri("ldap://").is_err());
        assert!(check_uri("ldap://host:99999").is_err());
        assert!(check_uri("http://host").is_err());
        assert!(check_uri("host:389").is_err());
    }

    #[test]
    fn problems_are_collected_with_key_paths() {
        let config = LdapPoolConfig {
            server_uri: vec!["http://x".into()],
            sasl_external: true,
            lookup_idle_pool_size: 9,
            lookup_pool_size: std::num::NonZeroU16::MIN,
            ..LdapPoolConfig::default()
        };
        let problems = PoolSettings::from_config("default", "ldap.config", &config).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "ldap.config.server_uri",
                "ldap.config.sasl_external",
                "ldap.config.lookup_idle_pool_size"
            ]
        );
    }

    #[test]
    fn zero_timeouts_fall_back_to_defaults() {
        let config = LdapPoolConfig {
            server_uri: vec!["ldap://127.0.0.1".into()],
            search_timeout: nauthilus_config::ConfigDuration::from_secs(0),
            ..LdapPoolConfig::default()
        };
        let settings = PoolSettings::from_config("default", "ldap.config", &config).unwrap();
        assert_eq!(settings.search_timeout, Duration::from_secs(5));
    }
}
