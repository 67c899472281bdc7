//! Builds the running services from a checked configuration: store, backends, pipeline, HTTP
//! state, background tasks. `main` and the integration tests use the same wiring.

use std::sync::Arc;

use nauthilus_backends::ldap::{ConfigProblem, LdapBackend, build_backends, check_backends};
use nauthilus_backends::passwd_file::{PasswdFile, PasswdFileError};
use nauthilus_backends::password::PasswordVerifier;
use nauthilus_config::{BackendName, Config, RedisMode};
use nauthilus_core::{
    Backend, BruteForce, FailurePolicy, MemoryAuthCache, PasswordDigester, Pipeline, PositiveCache,
};
use nauthilus_http::AppState;
use nauthilus_store::{KeyLayout, MemoryStore, Store, StoreError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("passwd_file.path: {0}")]
    PasswdFile(#[from] PasswdFileError),
    #[error("server.redis: {0}")]
    Store(#[from] StoreError),
    #[error("{}", format_problems(.0))]
    Ldap(Vec<ConfigProblem>),
    #[error("server.address: cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
}

fn format_problems(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\nerror: ")
}

/// The LDAP pools `server.backends` names, in order (`None` = `ldap.config`).
fn ldap_pools(config: &Config) -> Vec<Option<String>> {
    config
        .server
        .backends
        .iter()
        .filter_map(|b| match b {
            BackendName::Ldap(pool) => Some(pool.clone()),
            _ => None,
        })
        .collect()
}

/// Checks the LDAP settings the backends use (filters, server URIs, TLS files) without
/// connecting; for `--config-check`.
pub fn check_ldap(config: &Config) -> Result<(), StartupError> {
    let pools = ldap_pools(config);
    if pools.is_empty() {
        return Ok(());
    }
    check_backends(&config.ldap, &pools)
        .map(drop)
        .map_err(StartupError::Ldap)
}

/// The LDAP backends, one per `ldap`/`ldap(<pool>)` entry, in order. Starts their health
/// checks; connects lazily.
fn open_ldap(config: &Config) -> Result<Vec<Arc<LdapBackend>>, StartupError> {
    let pools = ldap_pools(config);
    if pools.is_empty() {
        return Ok(Vec::new());
    }
    let backends = build_backends(&config.ldap, &pools).map_err(StartupError::Ldap)?;
    Ok(backends.into_iter().map(Arc::new).collect())
}

/// The services of one server, ready to be served.
#[derive(Debug)]
pub struct Services {
    pub state: Arc<AppState>,
    /// Kept so the passwd-file watcher lives as long as the server.
    pub passwd_file: Option<Arc<PasswdFile>>,
}

/// The store the configuration selects: Redis when one is configured, else in process.
pub async fn build_store(config: &Config) -> Result<Store, StartupError> {
    let redis = &config.server.redis;
    match redis.mode() {
        RedisMode::Embedded => Ok(Store::memory(
            MemoryStore::default(),
            KeyLayout::new(redis.prefix.clone()),
        )),
        // Starts even when Redis is down: requests fail temporarily until it is back.
        _ => Ok(Store::connect(redis).await?),
    }
}

/// Opens the passwd-file named by the config, if a backend needs it.
pub fn open_passwd_file(config: &Config) -> Result<Option<Arc<PasswdFile>>, StartupError> {
    if !config.server.backends.contains(&BackendName::PasswdFile) {
        return Ok(None);
    }
    Ok(Some(Arc::new(PasswdFile::open(&config.passwd_file.path)?)))
}

/// Protocol → positive-cache name, from the `cache_name` of each LDAP search (the first search
/// naming a protocol wins, as for the searches themselves).
fn cache_names(config: &Config) -> std::collections::BTreeMap<String, String> {
    let mut names = std::collections::BTreeMap::new();
    for search in &config.ldap.search {
        for protocol in &search.protocol {
            names
                .entry(protocol.to_ascii_lowercase())
                .or_insert_with(|| search.cache_name.clone());
        }
    }
    names
}

/// Wires everything for `config`. Must run inside a Tokio runtime (it starts the file watcher).
pub async fn build(config: &Config) -> Result<Services, StartupError> {
    let store = build_store(config).await?;
    let passwd_file = open_passwd_file(config)?;
    if let Some(file) = &passwd_file {
        tracing::info!(path = %file.path().display(), users = file.db().len(), "passwd_file loaded");
        PasswdFile::watch(file, config.passwd_file.check_interval.get());
    }
    let mut ldap = open_ldap(config)?.into_iter();
    let redis = &config.server.redis;
    let mut backends = Vec::new();
    for name in &config.server.backends {
        match name {
            BackendName::Cache => backends.push(Backend::Cache(
                PositiveCache::new(
                    store.clone(),
                    PasswordDigester::new(&redis.password_nonce),
                    redis.positive_cache_ttl.get(),
                )
                .with_cache_names(cache_names(config)),
            )),
            BackendName::PasswdFile => {
                if let Some(file) = &passwd_file {
                    backends.push(Backend::PasswdFile(file.clone()));
                }
            }
            // open_ldap built one backend per ldap entry, in this order.
            BackendName::Ldap(_) => {
                if let Some(backend) = ldap.next() {
                    backends.push(Backend::Ldap(backend));
                }
            }
        }
    }
    let workers = usize::from(config.server.password_hash_workers);
    let ttl = config.local_cache_auth_ttl.get();
    let memory = (!ttl.is_zero()).then(|| MemoryAuthCache::new(ttl));
    let failure = FailurePolicy {
        max_wait: u64::from(config.nginx_wait_delay),
        max_attempts: u64::from(config.max_login_attempts),
    };
    let mut pipeline = Pipeline::new(backends, PasswordVerifier::new(workers), memory, failure);
    let digester = PasswordDigester::new(&redis.password_nonce);
    if let Some(bf) = BruteForce::from_config(config, store.clone(), digester) {
        tracing::info!(
            rules = bf.rules().len(),
            store = store.kind(),
            "brute-force protection enabled"
        );
        pipeline = pipeline.with_brute_force(bf);
    }
    Ok(Services {
        state: AppState::new(pipeline, config),
        passwd_file,
    })
}
