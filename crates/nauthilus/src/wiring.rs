//! Builds the running services from a checked configuration. Two lifetimes:
//!
//! - `Services` lives as long as the process: the store, the password verifier with its hashing
//!   pool, the passwd-files, the LDAP pools and the SQL connection pools (reused by a reload
//!   when their settings did not change).
//! - A `Pipeline` is built per configuration by `Services::pipeline`, one backend per
//!   `server.backends` entry through `Services::backend` (the factory), and swapped into the
//!   HTTP state atomically on reload.
//!
//! `main` and the integration tests use the same wiring.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use nauthilus_backends::ldap::{ConfigProblem, LdapBackend, build_backends, check_backends};
use nauthilus_backends::passwd_file::{PasswdFile, PasswdFileError};
use nauthilus_backends::password::PasswordVerifier;
use nauthilus_backends::sql::{SqlBackend, SqlPool, check_backend as check_sql_backend};
use nauthilus_config::{BackendName, Config, RedisMode};
use nauthilus_core::features::Dns;
use nauthilus_core::{
    Backend, BackendMonitor, BruteForce, FailurePolicy, FailureTiming, Features, MasterUser, MemoryAuthCache,
    PasswordDigester, Pipeline, PipelineParts, PositiveCache,
};
use nauthilus_http::AppState;
use nauthilus_lua::LuaHost;
use nauthilus_store::{KeyLayout, MemoryStore, Store, StoreError};

/// Why the server could not start (or a configuration could not be put in force).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("passwd_file.path: {0}")]
    PasswdFile(#[from] PasswdFileError),
    #[error("server.redis: {0}")]
    Store(#[from] StoreError),
    #[error("{}", format_problems(.0))]
    Ldap(Vec<ConfigProblem>),
    #[error("{}", format_problems(.0))]
    Sql(Vec<ConfigProblem>),
    #[error("{0}")]
    Features(String),
    #[error(transparent)]
    Lua(#[from] nauthilus_lua::LuaError),
    #[error("server.address: cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("{0}")]
    Transport(#[from] crate::transport::TransportError),
    #[error("mfa: {0}")]
    Mfa(String),
    #[error("{0}")]
    Idp(#[from] nauthilus_idp::IdpSetupError),
}

fn format_problems(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\nerror: ")
}

/// Checks the LDAP settings the backends use (filters, server URIs, TLS files) without
/// connecting; for `--config-check`.
pub fn check_ldap(config: &Config) -> Result<(), StartupError> {
    let pools: Vec<Option<String>> = config
        .server
        .backends
        .iter()
        .filter_map(|b| match b {
            BackendName::Ldap(pool) => Some(pool.clone()),
            _ => None,
        })
        .collect();
    if pools.is_empty() {
        return Ok(());
    }
    // All pools at once, so that every problem is reported together.
    check_backends(&config.ldap, &pools)
        .map(drop)
        .map_err(StartupError::Ldap)
}

/// Checks the SQL backends' URLs, TLS settings and queries without connecting; for
/// `--config-check`.
pub fn check_sql(config: &Config) -> Result<(), StartupError> {
    let mut problems = Vec::new();
    for name in &config.server.backends {
        if let BackendName::Sql(backend) = name
            && let Some(settings) = config.sql.backend(backend.as_deref())
            && let Err(mut p) = check_sql_backend(&settings)
        {
            problems.append(&mut p);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StartupError::Sql(problems))
    }
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

/// Opens the passwd-file named by the config, if a backend needs it (for `--config-check`).
pub fn open_passwd_file(config: &Config) -> Result<Option<Arc<PasswdFile>>, StartupError> {
    if !config.server.backends.contains(&BackendName::PasswdFile) {
        return Ok(None);
    }
    Ok(Some(Arc::new(PasswdFile::open(&config.passwd_file.path)?)))
}

/// Protocol → positive-cache name, from the `cache_name` of each LDAP search, then of each
/// search of the SQL backends in `server.backends` (the first search naming a protocol wins, as
/// for the searches themselves).
fn cache_names(config: &Config) -> std::collections::BTreeMap<String, String> {
    let mut names = std::collections::BTreeMap::new();
    let ldap = config.ldap.search.iter().map(|s| (&s.protocol, &s.cache_name));
    let sql = config
        .server
        .backends
        .iter()
        .filter_map(|b| match b {
            BackendName::Sql(name) => config.sql.backend(name.as_deref()),
            _ => None,
        })
        .flat_map(|b| b.search.iter().map(|s| (&s.protocol, &s.cache_name)));
    for (protocols, cache_name) in ldap.chain(sql) {
        for protocol in protocols {
            names
                .entry(protocol.to_ascii_lowercase())
                .or_insert_with(|| cache_name.clone());
        }
    }
    for search in &config.lua.search {
        for protocol in &search.protocol {
            names
                .entry(protocol.to_ascii_lowercase())
                .or_insert_with(|| search.cache_name.clone());
        }
    }
    names
}

/// What lives across reloads.
#[derive(Debug)]
pub struct Services {
    /// Shared state (Redis or in process).
    pub store: Store,
    /// Verifies hashes on the bounded hashing pool.
    pub verifier: PasswordVerifier,
    /// Open passwd-files by path, each with its watcher.
    passwd_files: Mutex<HashMap<PathBuf, Arc<PasswdFile>>>,
    /// LDAP backends by their settings (pool and searches, as JSON): a reload that leaves them
    /// unchanged keeps the pool and its connections.
    ldap: Mutex<HashMap<String, Arc<LdapBackend>>>,
    /// SQL connection pools by their settings (as JSON): a reload keeps a pool whose settings
    /// did not change, and backends with the same settings share one.
    sql_pools: Mutex<HashMap<String, Arc<SqlPool>>>,
    /// The HTTP state, once serving: a reloaded passwd-file forgets changed users' logins there.
    state: Mutex<Weak<AppState>>,
    /// The Lua init scripts of the last pipeline built, while they run (`build` waits for them).
    lua_init: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Second factors and app passwords (`mfa`), when enabled.
    mfa: Option<Arc<nauthilus_mfa::Mfa>>,
}

impl Services {
    /// Opens the long-lived services `config` needs. Must run inside a Tokio runtime.
    pub async fn start(config: &Config) -> Result<Arc<Self>, StartupError> {
        let workers = usize::from(config.server.password_hash_workers);
        let store = build_store(config).await?;
        let mfa = crate::mfa::build(config, &store)?;
        let services = Arc::new(Self {
            store,
            verifier: PasswordVerifier::new(workers)
                .with_memory_budget(config.server.password_hash_memory.saturating_mul(1024)),
            passwd_files: Mutex::default(),
            ldap: Mutex::default(),
            sql_pools: Mutex::default(),
            state: Mutex::default(),
            lua_init: Mutex::default(),
            mfa,
        });
        if let Some(mfa) = &services.mfa {
            // A changed enrolment (a revoked app password, a new second factor) forgets the
            // account's cached logins at once.
            let weak = Arc::downgrade(&services);
            mfa.on_change(Arc::new(move |account: &str| -> nauthilus_mfa::ChangeFuture {
                let flusher = weak.upgrade().and_then(|s| s.flusher());
                let account = account.to_owned();
                Box::pin(async move {
                    if let Some(flusher) = flusher
                        && let Err(e) = flusher.forget_logins(&account).await
                    {
                        tracing::warn!(account = %account, error = %e, "cached logins of an account whose enrolments changed not forgotten");
                    }
                })
            }));
        }
        Ok(services)
    }

    /// Second factors and app passwords, when `mfa.enabled`.
    pub fn mfa(&self) -> Option<&Arc<nauthilus_mfa::Mfa>> {
        self.mfa.as_ref()
    }

    /// Tells the services which HTTP state serves their pipelines.
    pub fn attach(&self, state: &Arc<AppState>) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(state);
    }

    /// The passwd-file at `config`'s path, opened (and watched) once.
    fn passwd_file(self: &Arc<Self>, config: &Config) -> Result<Arc<PasswdFile>, StartupError> {
        let path = PathBuf::from(&config.passwd_file.path);
        let mut files = self.passwd_files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = files.get(&path) {
            return Ok(file.clone());
        }
        let file = Arc::new(PasswdFile::open(&path)?);
        tracing::info!(path = %file.path().display(), users = file.db().len(), "passwd_file loaded");
        let services = Arc::downgrade(self);
        PasswdFile::watch(
            &file,
            config.passwd_file.check_interval.get(),
            Arc::new(move |changed| {
                if let Some(services) = services.upgrade() {
                    services.forget_changed_users(changed);
                }
            }),
        );
        files.insert(path, file.clone());
        Ok(file)
    }

    /// The cache flusher of the pipeline in force, once serving.
    fn flusher(&self) -> Option<nauthilus_core::UserFlusher> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner()).upgrade()?;
        Some(state.current().flusher.clone())
    }

    /// Forgets the cached logins of users whose passwd-file entry changed, so that a changed
    /// or removed password stops working at once rather than after the cache TTLs.
    fn forget_changed_users(&self, users: Vec<String>) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner()).upgrade();
        let Some(state) = state else { return };
        let flusher = state.current().flusher.clone();
        tokio::spawn(async move {
            for user in users {
                if let Err(e) = flusher.forget_logins(&user).await {
                    tracing::warn!(user = %user, error = %e, "cached logins of a changed user not forgotten");
                }
            }
        });
    }

    /// The LDAP backend for `pool` (`None` = `ldap.config`), reused when its settings did not
    /// change since it was built.
    fn ldap(&self, config: &Config, pool: Option<&String>) -> Result<Arc<LdapBackend>, StartupError> {
        let key = serde_json::to_string(&(
            pool,
            config.ldap.pool(pool.map(String::as_str)),
            &config.ldap.search,
        ))
        .unwrap_or_default();
        let mut pools = self.ldap.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(backend) = pools.get(&key) {
            return Ok(backend.clone());
        }
        let built = build_backends(&config.ldap, &[pool.cloned()]).map_err(StartupError::Ldap)?;
        let backend = built
            .into_iter()
            .next()
            .map(Arc::new)
            .ok_or_else(|| StartupError::Ldap(Vec::new()))?;
        pools.insert(key, backend.clone());
        Ok(backend)
    }

    /// The SQL backend `name` (`None` = `sql.config` with `sql.search`), over a pool reused when
    /// its settings did not change. Connects lazily: a database that is down makes logins fail
    /// temporarily, not the start.
    fn sql(&self, config: &Config, name: Option<&String>) -> Result<Arc<SqlBackend>, StartupError> {
        let backend_name = BackendName::Sql(name.cloned()).to_string();
        let settings = config.sql.backend(name.map(String::as_str)).ok_or_else(|| {
            StartupError::Sql(vec![ConfigProblem {
                path: "server.backends".into(),
                message: format!("{backend_name} names no SQL backend"),
            }])
        })?;
        let pool = self.sql_pool(&backend_name, &settings)?;
        Ok(Arc::new(
            SqlBackend::new(backend_name, pool, &settings).map_err(StartupError::Sql)?,
        ))
    }

    /// The pool for the SQL settings `config`, reused when they did not change.
    fn sql_pool(
        &self,
        backend_name: &str,
        settings: &nauthilus_config::SqlBackendRef<'_>,
    ) -> Result<Arc<SqlPool>, StartupError> {
        let key = serde_json::to_string(settings.config).unwrap_or_default();
        let mut pools = self.sql_pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = pools.get(&key) {
            return Ok(pool.clone());
        }
        let pool = Arc::new(SqlBackend::pool_for(settings).map_err(StartupError::Sql)?);
        tracing::info!(backend = %backend_name, database = %pool.display(), "SQL pool created");
        pools.insert(key, pool.clone());
        Ok(pool)
    }

    /// The SQL and LDAP pools of the backends in `server.backends`, for the Lua modules `db`
    /// and `nauthilus_ldap` (one pool per database and directory, shared with the backends).
    fn lua_resources(&self, config: &Config) -> Result<nauthilus_lua::LuaResources, StartupError> {
        let mut resources = nauthilus_lua::LuaResources::default();
        for name in &config.server.backends {
            match name {
                BackendName::Sql(n) => {
                    if let Some(settings) = config.sql.backend(n.as_deref()) {
                        let pool = self.sql_pool(&name.to_string(), &settings)?;
                        resources
                            .sql_pools
                            .push((settings.config.url.trim().to_owned(), pool));
                    }
                }
                BackendName::Ldap(pool) => {
                    let backend = self.ldap(config, pool.as_ref())?;
                    let ldap_pool = backend.pool().clone();
                    resources
                        .ldap_pools
                        .push((ldap_pool.name().to_owned(), ldap_pool));
                }
                _ => {}
            }
        }
        Ok(resources)
    }

    /// The backend factory: one backend for one `server.backends` entry.
    fn backend(
        self: &Arc<Self>,
        name: &BackendName,
        config: &Config,
        positive_cache: &PositiveCache,
        lua: Option<&Arc<LuaHost>>,
    ) -> Result<Backend, StartupError> {
        Ok(match name {
            BackendName::Lua(n) => {
                let backend = lua.and_then(|host| host.backend(n.as_deref())).ok_or_else(|| {
                    StartupError::Lua(nauthilus_lua::LuaError::new(format!("backend {name}: no script")))
                })?;
                Backend::Lua(backend)
            }
            BackendName::Cache => Backend::Cache(positive_cache.clone()),
            BackendName::PasswdFile => Backend::PasswdFile(self.passwd_file(config)?),
            BackendName::Ldap(pool) => Backend::Ldap(self.ldap(config, pool.as_ref())?),
            BackendName::Sql(name) => Backend::Sql(self.sql(config, name.as_ref())?),
        })
    }

    /// The Lua stages: filters, features, post-actions, hooks; init scripts start running.
    fn wire_lua(&self, host: &Arc<LuaHost>, parts: &mut PipelineParts) {
        if let Some(filters) = host.filters() {
            parts.filters.push(filters);
        }
        if let Some(features) = host.features() {
            parts.script_features = Some(features);
        }
        if let Some(actions) = host.post_actions() {
            parts.post_actions.push(actions);
        }
        if let Some(hooks) = host.hooks() {
            parts.hooks = Some(hooks);
        }
        if let Some(actions) = host.trigger_actions() {
            parts.script_actions = Some(actions);
        }
        let host = host.clone();
        let init = tokio::spawn(async move { host.run_init().await });
        *self.lua_init.lock().unwrap_or_else(|e| e.into_inner()) = Some(init);
    }

    /// Waits for the init scripts of the last pipeline built.
    pub async fn lua_init_done(&self) {
        let init = self.lua_init.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(init) = init
            && let Err(e) = init.await
        {
            tracing::warn!(error = %e, "lua init scripts aborted");
        }
    }

    /// The pipeline `config` describes, over these services.
    pub fn pipeline(self: &Arc<Self>, config: &Config) -> Result<Pipeline, StartupError> {
        // Every LDAP problem at once, before any pool is built.
        check_ldap(config)?;
        let redis = &config.server.redis;
        let positive_cache = PositiveCache::new(
            self.store.clone(),
            PasswordDigester::new(&redis.password_nonce),
            redis.positive_cache_ttl.get(),
        )
        .with_cache_names(cache_names(config));
        let mut parts = PipelineParts::new(self.verifier.clone());
        let lua = if LuaHost::wanted(config) {
            let resources = self.lua_resources(config)?;
            Some(LuaHost::with_resources(config, self.store.clone(), resources)?)
        } else {
            None
        };
        for name in &config.server.backends {
            parts
                .backends
                .push(self.backend(name, config, &positive_cache, lua.as_ref())?);
        }
        if let Some(host) = &lua {
            self.wire_lua(host, &mut parts);
        }
        parts.positive_cache = config
            .server
            .backends
            .contains(&BackendName::Cache)
            .then_some(positive_cache);
        let ttl = config.local_cache_auth_ttl.get();
        parts.memory_cache = (!ttl.is_zero()).then(|| MemoryAuthCache::new(ttl));
        parts.failure = FailurePolicy {
            max_wait: u64::from(config.nginx_wait_delay),
            max_attempts: u64::from(config.max_login_attempts),
        };
        parts.timing = if config.server.equalize_failure_timing {
            FailureTiming::on()
        } else {
            FailureTiming::off()
        };
        parts.app_passwords = self
            .mfa
            .clone()
            .map(|m| m as Arc<dyn nauthilus_core::AppPasswords>);
        let master_user = &config.server.master_user;
        parts.master_user = master_user
            .enabled
            .then(|| MasterUser::new(&master_user.delimiter));
        // One resolver (and one answer cache) for the block lists and the client names.
        let dns = if config.server.dns.resolve_client_ip
            || config.server.has_feature(nauthilus_config::Feature::Rbl)
        {
            Some(Dns::from_config(config).map_err(StartupError::Features)?)
        } else {
            None
        };
        parts.client_names = dns.clone().filter(|_| config.server.dns.resolve_client_ip);
        parts.features = Features::from_config(config, dns).map_err(StartupError::Features)?;
        if !parts.features.is_empty() {
            let names: Vec<&str> = parts.features.enabled().map(|f| f.name()).collect();
            tracing::info!(features = %names.join(", "), "pre-auth features enabled");
        }
        if config
            .server
            .has_feature(nauthilus_config::Feature::BackendServerMonitoring)
        {
            let monitor = BackendMonitor::start(config).map_err(StartupError::Features)?;
            tracing::info!(
                servers = config.backend_server_monitoring.backend_servers.len(),
                "backend server monitoring enabled"
            );
            parts.backend_monitor = Some(monitor);
        }
        let digester = PasswordDigester::new(&redis.password_nonce);
        parts.brute_force = BruteForce::from_config(config, self.store.clone(), digester);
        if let Some(bf) = &parts.brute_force {
            tracing::info!(
                rules = bf.rules().len(),
                store = self.store.kind(),
                "brute-force protection enabled"
            );
        }
        Ok(Pipeline::new(parts))
    }
}

/// The identity provider of `config` over the services and `pipeline`, when `idp.enabled`.
pub fn build_idp(
    config: &Config,
    services: &Services,
    pipeline: nauthilus_core::Pipeline,
) -> Result<Option<nauthilus_idp::Idp>, StartupError> {
    if !config.idp.enabled {
        return Ok(None);
    }
    let idp = nauthilus_idp::Idp::new(
        config,
        services.store.clone(),
        pipeline,
        nauthilus_core::clock::now(),
    )?
    .with_mfa(services.mfa().cloned());
    Ok(Some(idp))
}

/// Wires everything for `config`: the services, the first pipeline and the HTTP state.
/// Must run inside a Tokio runtime (it starts the file watcher and LDAP health checks).
pub async fn build(config: &Config) -> Result<(Arc<Services>, Arc<AppState>), StartupError> {
    let services = Services::start(config).await?;
    let pipeline = services.pipeline(config)?;
    // Init scripts (Redis scripts uploaded by name, metrics) finish before the first login.
    services.lua_init_done().await;
    // Recording is process-wide (the counters outlive reloads); the switch follows the config.
    nauthilus_core::metrics::global().set_enabled(config.server.metrics.enabled);
    let health = nauthilus_http::health::Health::new(services.store.clone());
    let state = AppState::with_services(pipeline, config, services.store.clone(), health);
    // The scripts' own metrics (`nauthilus_prometheus`) follow ours on `/metrics`.
    let _ = state.extra_metrics.set(nauthilus_lua::render_metrics);
    if let Some(warning) = nauthilus_http::backchannel::unprotected_warning(config) {
        tracing::warn!("{warning}");
    }
    services.attach(&state);
    Ok((services, state))
}
