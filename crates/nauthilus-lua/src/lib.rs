//! The Lua host: runs operators' Nauthilus (v1.12) Lua scripts unchanged — backends
//! (`lua`, `lua(<name>)`), features, filters, actions, post-actions, custom hooks and init
//! scripts — on pools of prepared LuaJIT VMs. The contract is `lua-api.md`; see docs/lua.md.
//!
//! - `vm.rs`: compiled scripts, VM pools, one call with its limits;
//! - `modules/`: what scripts `require`;
//! - `stages.rs`: the pipeline's traits (`ScriptBackend`, `Filter`, `ScriptFeatures`,
//!   `PostAction`, `ScriptHooks`) implemented on the pools.

mod calls;
mod modules;
mod stages;
mod value;
mod vm;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nauthilus_backends::ldap::LdapPool;
use nauthilus_backends::sql::SqlPool;
use nauthilus_config::{BackendName, Config, Feature};
use nauthilus_core::features::Dns;
use nauthilus_store::Store;

pub use calls::LuaScriptCalls;
pub use modules::metrics::render as render_metrics;
pub use stages::{LuaActions, LuaBackend, LuaFeatures, LuaFilters, LuaHooks, LuaPostActions};

use crate::vm::{Kind, Pool, Script};

/// What every VM's modules use (lives as long as the host).
pub(crate) struct Shared {
    pub store: Store,
    pub http: reqwest::Client,
    pub package_path: String,
    pub redis_prefix: String,
    pub log_format: &'static str,
    pub log_level: String,
    pub password_nonce: String,
    /// `ip_scoping_v4_cidr`, `ip_scoping_v6_cidr`.
    pub ip_scoping: (u8, u8),
    pub timeout: Duration,
    pub memory_limit: usize,
    /// The `server.dns` resolver of `nauthilus_dns` (or why there is none).
    pub dns: Result<Dns, String>,
    /// `db` pools by URL (seeded with the `sql` backends' pools).
    pub sql_pools: Mutex<HashMap<String, Arc<SqlPool>>>,
    /// LDAP pools of `nauthilus_ldap` by name (`default` = `ldap.config`).
    pub ldap: HashMap<String, Arc<LdapPool>>,
    /// The brute-force state of `nauthilus_brute_force` (`None`: `brute_force` is off).
    pub brute_force: Option<nauthilus_core::BruteForce>,
}

/// The server's connection pools the script modules reuse (`db`, `nauthilus_ldap`).
#[derive(Debug, Default, Clone)]
pub struct LuaResources {
    /// SQL pools of the `sql` backends, by database URL: `db.open` on the same URL shares them.
    pub sql_pools: Vec<(String, Arc<SqlPool>)>,
    /// LDAP pools of the `ldap` backends by name (`default` for `ldap.config`).
    pub ldap_pools: Vec<(String, Arc<LdapPool>)>,
}

/// Why the Lua host could not be built (a missing or broken script, a bad setting).
#[derive(Debug, thiserror::Error)]
#[error("lua: {0}")]
pub struct LuaError(String);

impl LuaError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The Lua host of one configuration: compiled scripts and their VM pools.
pub struct LuaHost {
    shared: Arc<Shared>,
    config: Config,
    backends: HashMap<Option<String>, Arc<Pool>>,
    features: Option<Arc<Pool>>,
    filters: Option<Arc<Pool>>,
    actions: Option<Arc<Pool>>,
    hooks: Option<Arc<Pool>>,
}

impl std::fmt::Debug for LuaHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaHost").finish_non_exhaustive()
    }
}

fn scripts(entries: impl Iterator<Item = (String, String)>) -> Result<Vec<Arc<Script>>, LuaError> {
    entries
        .map(|(name, path)| Script::load(&name, &path).map_err(LuaError))
        .collect()
}

/// The name a hook is known by in its pool.
pub(crate) fn hook_name(method: &str, location: &str) -> String {
    format!(
        "{} {}",
        method.to_ascii_uppercase(),
        location.trim_start_matches('/')
    )
}

impl LuaHost {
    /// True when `config` uses Lua at all.
    pub fn wanted(config: &Config) -> bool {
        let lua = &config.lua;
        config
            .server
            .backends
            .iter()
            .any(|b| matches!(b, BackendName::Lua(_)))
            || !lua.features.is_empty()
            || !lua.filters.is_empty()
            || !lua.actions.is_empty()
            || !lua.custom_hooks.is_empty()
            || lua.config.init_scripts().next().is_some()
    }

    /// Compiles every script `config` names and prepares one VM per pool (so a broken script
    /// or module fails here, not on the first login). Does not run init scripts.
    pub fn new(config: &Config, store: Store) -> Result<Arc<Self>, LuaError> {
        Self::with_resources(config, store, LuaResources::default())
    }

    /// Like [`LuaHost::new`], with the server's SQL and LDAP pools for `db` and
    /// `nauthilus_ldap`.
    pub fn with_resources(
        config: &Config,
        store: Store,
        resources: LuaResources,
    ) -> Result<Arc<Self>, LuaError> {
        let lua = &config.lua;
        let shared = Self::shared(config, store, resources)?;
        let pool = |kind,
                    list: Vec<Arc<Script>>,
                    size: usize,
                    queue: usize|
         -> Result<Option<Arc<Pool>>, LuaError> {
            if list.is_empty() {
                return Ok(None);
            }
            Pool::new(kind, shared.clone(), list, size, queue)
                .map(Some)
                .map_err(LuaError)
        };
        let mut backends = HashMap::new();
        for b in &config.server.backends {
            let BackendName::Lua(name) = b else { continue };
            let (path, workers, queue) = match name {
                None => (
                    lua.config.backend_script_path.clone(),
                    lua.config.backend_workers(),
                    lua.config.queue_length,
                ),
                Some(n) => {
                    let c = lua
                        .optional_lua_backends
                        .get(n)
                        .ok_or_else(|| LuaError(format!("no lua.optional_lua_backends.{n}")))?;
                    (c.backend_script_path.clone(), c.backend_workers(), c.queue_length)
                }
            };
            let list = scripts(std::iter::once((b.to_string(), path)))?;
            let queue = usize::try_from(queue).unwrap_or(usize::MAX);
            if let Some(p) = pool(Kind::Backend, list, workers, queue)? {
                backends.insert(name.clone(), p);
            }
        }
        let features = if config.server.has_feature(Feature::Lua) {
            pool(
                Kind::Feature,
                scripts(
                    lua.features
                        .iter()
                        .map(|f| (f.name.clone(), f.script_path.clone())),
                )?,
                lua.config.feature_pool(),
                0,
            )?
        } else {
            None
        };
        let filters = pool(
            Kind::Filter,
            scripts(
                lua.filters
                    .iter()
                    .map(|f| (f.name.clone(), f.script_path.clone())),
            )?,
            lua.config.filter_pool(),
            0,
        )?;
        let actions = pool(
            Kind::Action,
            scripts(
                lua.actions
                    .iter()
                    .map(|a| (a.name.clone(), a.script_path.clone())),
            )?,
            lua.config.action_pool(),
            0,
        )?;
        let hook_scripts = lua
            .custom_hooks
            .iter()
            .map(|h| (hook_name(&h.http_method, &h.http_location), h.script_path.clone()))
            .chain(
                lua.config
                    .init_scripts()
                    .map(|p| (format!("init:{p}"), p.clone())),
            );
        let hooks = pool(Kind::Hook, scripts(hook_scripts)?, lua.config.hook_pool(), 0)?;
        Ok(Arc::new(Self {
            shared,
            config: config.clone(),
            backends,
            features,
            filters,
            actions,
            hooks,
        }))
    }

    /// What every VM of a host shares.
    fn shared(config: &Config, store: Store, resources: LuaResources) -> Result<Arc<Shared>, LuaError> {
        let lua = &config.lua;
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| LuaError(format!("http client: {e}")))?;
        Ok(Arc::new(Shared {
            store: store.clone(),
            http,
            package_path: lua.config.full_package_path(),
            redis_prefix: config.server.redis.prefix.clone(),
            log_format: if config.server.log.json { "json" } else { "default" },
            log_level: format!("{:?}", config.server.log.level).to_ascii_lowercase(),
            password_nonce: config.server.redis.password_nonce.clone(),
            ip_scoping: (lua.config.ip_scoping_v4_cidr, lua.config.ip_scoping_v6_cidr),
            timeout: config.server.timeouts.lua_script(),
            memory_limit: usize::try_from(lua.config.vm_memory_limit)
                .unwrap_or(64)
                .saturating_mul(1 << 20),
            dns: Dns::from_config(config),
            sql_pools: Mutex::new(resources.sql_pools.into_iter().collect()),
            ldap: resources.ldap_pools.into_iter().collect(),
            brute_force: nauthilus_core::BruteForce::from_config(
                config,
                store,
                nauthilus_core::PasswordDigester::new(&config.server.redis.password_nonce),
            ),
        }))
    }

    /// The backend script `backend` (`None`: `lua.config.backend_script_path`, else a name in
    /// `lua.optional_lua_backends`), callable outside a login: the Lua credential store of MFA
    /// calls its `nauthilus_backend_*` functions. A host of its own with only this script's pool.
    pub fn script_calls(
        config: &Config,
        store: Store,
        backend: Option<&str>,
    ) -> Result<Arc<dyn nauthilus_core::ScriptCalls>, LuaError> {
        let lua = &config.lua;
        let (path, workers) = match backend {
            None => (
                lua.config.backend_script_path.clone(),
                lua.config.backend_workers(),
            ),
            Some(n) => {
                let c = lua
                    .optional_lua_backends
                    .get(n)
                    .ok_or_else(|| LuaError(format!("no lua.optional_lua_backends.{n}")))?;
                (c.backend_script_path.clone(), c.backend_workers())
            }
        };
        if path.is_empty() {
            return Err(LuaError(match backend {
                None => "lua.config.backend_script_path is not set".into(),
                Some(n) => format!("lua.optional_lua_backends.{n}.backend_script_path is not set"),
            }));
        }
        let shared = Self::shared(config, store, LuaResources::default())?;
        let label = backend.map_or_else(|| "lua".to_owned(), |n| format!("lua({n})"));
        let list = scripts(std::iter::once((label, path)))?;
        let pool = Pool::new(Kind::Backend, shared.clone(), list, workers, 0).map_err(LuaError)?;
        let host = Arc::new(Self {
            shared,
            config: config.clone(),
            backends: HashMap::new(),
            features: None,
            filters: None,
            actions: None,
            hooks: None,
        });
        Ok(Arc::new(calls::LuaScriptCalls::new(host, pool)))
    }

    /// The backend for `lua` (`None`) or `lua(<name>)`.
    pub fn backend(self: &Arc<Self>, name: Option<&str>) -> Option<Arc<LuaBackend>> {
        let pool = self.backends.get(&name.map(str::to_owned))?.clone();
        Some(Arc::new(LuaBackend::new(
            self.clone(),
            name.map(str::to_owned),
            pool,
        )))
    }

    /// The filter stage, if filters are configured.
    pub fn filters(self: &Arc<Self>) -> Option<Arc<LuaFilters>> {
        let pool = self.filters.clone()?;
        Some(Arc::new(LuaFilters::new(self.clone(), pool)))
    }

    /// The script features, if `lua` is in `server.features` and features are configured.
    pub fn features(self: &Arc<Self>) -> Option<Arc<LuaFeatures>> {
        let pool = self.features.clone()?;
        Some(Arc::new(LuaFeatures::new(self.clone(), pool)))
    }

    /// The `post` actions, if any (they run only with `brute_force` in `server.features`).
    pub fn post_actions(self: &Arc<Self>) -> Option<Arc<LuaPostActions>> {
        self.actions.as_ref()?;
        let any = self.config.lua.actions.iter().any(|a| a.action_type == "post");
        (any && self.config.server.has_feature(Feature::BruteForce))
            .then(|| Arc::new(LuaPostActions::new(self.clone())))
    }

    /// The actions of the built-in triggers (`brute_force`, `rbl`, `tls_encryption`,
    /// `relay_domains`), if any is configured.
    pub fn trigger_actions(self: &Arc<Self>) -> Option<Arc<LuaActions>> {
        self.actions.as_ref()?;
        let any = self.config.lua.actions.iter().any(|a| {
            matches!(
                a.action_type.as_str(),
                "brute_force" | "rbl" | "tls_encryption" | "relay_domains"
            )
        });
        any.then(|| Arc::new(LuaActions::new(self.clone())))
    }

    /// The custom hooks, if any.
    pub fn hooks(self: &Arc<Self>) -> Option<Arc<LuaHooks>> {
        if self.config.lua.custom_hooks.is_empty() {
            return None;
        }
        Some(Arc::new(LuaHooks::new(self.clone())))
    }

    /// Runs the init scripts in order; errors are logged, never fatal (as in Nauthilus).
    pub async fn run_init(self: &Arc<Self>) {
        stages::run_init(self).await;
    }
}

#[cfg(test)]
mod tests;

/// Makes ring the process' rustls provider if none is installed yet (the HTTP client of
/// scripts needs one when reqwest is built without a provider of its own; a second call, or a
/// provider installed elsewhere first, is fine).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
