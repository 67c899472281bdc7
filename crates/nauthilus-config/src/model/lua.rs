//! The `lua:` section (the Nauthilus v1.12 layout): scripted features, filters, actions, custom
//! hooks, the Lua backend (`lua`, `lua(<name>)` in `server.backends`) and its searches.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `lua:`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LuaSection {
    /// Pre-auth scripts (`nauthilus_call_feature`), run in parallel when `lua` is in `server.features`.
    #[schemars(example = serde_json::json!([{"name": "blocklist", "script_path": "/etc/nauthilus/lua/features/blocklist.lua"}]))]
    pub features: Vec<LuaFeature>,
    /// Scripts run after the backends (`nauthilus_call_filter`); they may refuse a login, change attributes or pick the upstream.
    #[schemars(example = serde_json::json!([{"name": "account_protection", "script_path": "/etc/nauthilus/lua/filters/protection.lua", "when_authenticated": true}]))]
    pub filters: Vec<LuaFilter>,
    /// Scripts run on events (`nauthilus_call_action`); `post` actions run after the answer.
    #[schemars(example = serde_json::json!([{"type": "post", "name": "failed_login_tracker", "script_path": "/etc/nauthilus/lua/actions/tracker.lua"}]))]
    pub actions: Vec<LuaAction>,
    /// Scripts answering `/api/v1/custom/<http_location>` (`nauthilus_run_hook`).
    #[schemars(example = serde_json::json!([{"http_location": "status", "http_method": "GET", "script_path": "/etc/nauthilus/lua/hooks/status.lua"}]))]
    pub custom_hooks: Vec<LuaHook>,
    pub config: LuaConfig,
    /// Searches of the Lua backend, chosen by the request's protocol (exact match; no fallback to `default`).
    #[schemars(example = serde_json::json!([{"protocol": ["imap", "pop3", "default"], "cache_name": "mail"}]))]
    pub search: Vec<LuaSearch>,
    /// Further Lua backends (`lua(<name>)` in `server.backends`, `backend_name` in a search).
    #[schemars(example = serde_json::json!({"sql": {"backend_script_path": "/etc/nauthilus/lua/backend/sql.lua"}}))]
    pub optional_lua_backends: BTreeMap<String, LuaBackendConfig>,
}

impl LuaSection {
    /// The name of the default Lua backend, as `lua.search[].backend_name` spells it.
    pub const DEFAULT_BACKEND: &'static str = "__meta_default__";

    /// The search serving `protocol` for the backend `backend` (`None` = `lua.config`): the
    /// first entry naming the protocol exactly.
    pub fn search_for(&self, backend: Option<&str>, protocol: &str) -> Option<&LuaSearch> {
        let wanted = backend.unwrap_or(Self::DEFAULT_BACKEND);
        self.search.iter().find(|s| {
            let name = if s.backend_name.is_empty() {
                Self::DEFAULT_BACKEND
            } else {
                s.backend_name.as_str()
            };
            name == wanted && s.protocol.iter().any(|p| p.eq_ignore_ascii_case(protocol))
        })
    }
}

/// One entry of `lua.features`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LuaFeature {
    /// Name used in logs. Required.
    #[schemars(extend("x-required" = true))]
    pub name: String,
    /// The script (defines `nauthilus_call_feature`); relative paths are relative to the config file. Required.
    #[schemars(schema_with = "crate::schema::path", extend("x-required" = true))]
    pub script_path: String,
    /// Also run for `mode=no-auth` requests.
    pub when_no_auth: bool,
}

/// One entry of `lua.filters`. With none of the three `when_*` flags set, the filter runs for authenticated and unauthenticated logins.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LuaFilter {
    /// Name used in logs. Required.
    #[schemars(extend("x-required" = true))]
    pub name: String,
    /// The script (defines `nauthilus_call_filter`); relative paths are relative to the config file. Required.
    #[schemars(schema_with = "crate::schema::path", extend("x-required" = true))]
    pub script_path: String,
    /// Run for logins a backend or cache accepted.
    pub when_authenticated: bool,
    /// Run for logins that failed.
    pub when_unauthenticated: bool,
    /// Run for `mode=no-auth` lookups.
    pub when_no_auth: bool,
}

impl LuaFilter {
    /// `(authenticated, unauthenticated, no_auth)` as Nauthilus reads the flags: all three
    /// unset means `(true, true, false)`.
    pub fn modes(&self) -> (bool, bool, bool) {
        if !self.when_authenticated && !self.when_unauthenticated && !self.when_no_auth {
            (true, true, false)
        } else {
            (
                self.when_authenticated,
                self.when_unauthenticated,
                self.when_no_auth,
            )
        }
    }
}

/// One entry of `lua.actions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LuaAction {
    /// When the action runs: `brute_force` (a ban), `lua` (a Lua feature triggered), `tls_encryption`, `relay_domains`, `rbl` (that feature triggered) or `post` (after every answer). Required.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["brute_force", "rbl", "tls_encryption", "relay_domains", "lua", "post"], "x-required" = true))]
    pub action_type: String,
    /// Name used in logs. Required.
    #[schemars(extend("x-required" = true))]
    pub name: String,
    /// The script (defines `nauthilus_call_action`); relative paths are relative to the config file. Required.
    #[schemars(schema_with = "crate::schema::path", extend("x-required" = true))]
    pub script_path: String,
}

/// One entry of `lua.custom_hooks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LuaHook {
    /// Path below `/api/v1/custom/` (a leading `/` is ignored). Required.
    #[schemars(extend("x-required" = true))]
    pub http_location: String,
    /// HTTP method the hook answers: HEAD, GET, POST, PUT, DELETE or PATCH. Required.
    #[schemars(extend("x-required" = true))]
    pub http_method: String,
    /// Content type of the request body (read but unused, as in Nauthilus).
    pub content_type: String,
    /// The script (defines `nauthilus_run_hook`); relative paths are relative to the config file. Required.
    #[schemars(schema_with = "crate::schema::path", extend("x-required" = true))]
    pub script_path: String,
    /// Roles a JWT caller needs (any of them, or `admin`); without roles the `authenticate` role.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub roles: Vec<String>,
}

impl Default for LuaHook {
    fn default() -> Self {
        Self {
            http_location: String::new(),
            http_method: String::new(),
            content_type: "application/json".into(),
            script_path: String::new(),
            roles: Vec::new(),
        }
    }
}

impl LuaHook {
    /// The location without its leading `/`.
    pub fn location(&self) -> &str {
        self.http_location.trim_start_matches('/')
    }
}

/// `lua.config`: the default Lua backend, init scripts, module search path and VM pools.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LuaConfig {
    /// Script of the default Lua backend (`lua` in `server.backends`); relative paths are relative to the config file.
    #[schemars(schema_with = "crate::schema::path")]
    pub backend_script_path: String,
    /// Script run (`nauthilus_run_hook`) at start and on every reload, before `init_script_paths`.
    #[schemars(schema_with = "crate::schema::path")]
    pub init_script_path: String,
    /// More init scripts, run in order after `init_script_path`.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub init_script_paths: Vec<String>,
    /// Appended to `package.path` after `/usr/local/share/nauthilus/lua/?.lua;/usr/share/nauthilus/lua/?.lua;/usr/app/lua-plugins.d/share/?.lua`.
    #[schemars(example = "/etc/nauthilus/lua/lib/?.lua")]
    pub package_path: String,
    /// Backend VMs (calls of the default Lua backend at once); 0 = `number_of_workers`, else 10.
    #[schemars(range(max = 1024))]
    pub backend_number_of_workers: u16,
    /// Deprecated name of `backend_number_of_workers`.
    #[schemars(range(max = 1024))]
    pub number_of_workers: u16,
    /// Action VMs (actions running at once).
    #[schemars(range(min = 1, max = 1024))]
    pub action_number_of_workers: u16,
    /// Most logins waiting for a backend VM (0 = unlimited); more are a temporary failure.
    #[schemars(range(max = 1_000_000))]
    pub queue_length: u32,
    /// Feature VMs; 0 = the backend worker count.
    #[schemars(range(max = 1024))]
    pub feature_vm_pool_size: u16,
    /// Filter VMs; 0 = the backend worker count.
    #[schemars(range(max = 1024))]
    pub filter_vm_pool_size: u16,
    /// Hook and init VMs; 0 = the backend worker count.
    #[schemars(range(max = 1024))]
    pub hook_vm_pool_size: u16,
    /// Prefix length `nauthilus_misc.scoped_ip` reduces IPv6 addresses to (0 = off).
    #[schemars(range(max = 128))]
    pub ip_scoping_v6_cidr: u8,
    /// Prefix length `nauthilus_misc.scoped_ip` reduces IPv4 addresses to (0 = off).
    #[schemars(range(max = 32))]
    pub ip_scoping_v4_cidr: u8,
    /// Most memory one Lua VM may allocate, in MiB; a script allocating more fails (a temporary failure).
    #[schemars(range(min = 1, max = 65536))]
    pub vm_memory_limit: u32,
}

impl Default for LuaConfig {
    fn default() -> Self {
        Self {
            backend_script_path: String::new(),
            init_script_path: String::new(),
            init_script_paths: Vec::new(),
            package_path: String::new(),
            backend_number_of_workers: 0,
            number_of_workers: 0,
            action_number_of_workers: 10,
            queue_length: 0,
            feature_vm_pool_size: 0,
            filter_vm_pool_size: 0,
            hook_vm_pool_size: 0,
            ip_scoping_v6_cidr: 0,
            ip_scoping_v4_cidr: 0,
            vm_memory_limit: 64,
        }
    }
}

impl LuaConfig {
    /// Nauthilus' fixed module search path, before `package_path`.
    pub const DEFAULT_PACKAGE_PATH: &'static str = "/usr/local/share/nauthilus/lua/?.lua;/usr/share/nauthilus/lua/?.lua;/usr/app/lua-plugins.d/share/?.lua";

    /// Backend workers: `backend_number_of_workers`, else `number_of_workers`, else 10.
    pub fn backend_workers(&self) -> usize {
        [self.backend_number_of_workers, self.number_of_workers]
            .into_iter()
            .find(|n| *n > 0)
            .map_or(10, usize::from)
    }

    /// `size`, or the backend worker count when it is 0.
    fn pool(&self, size: u16) -> usize {
        if size == 0 {
            self.backend_workers()
        } else {
            usize::from(size)
        }
    }

    /// Feature VM pool size.
    pub fn feature_pool(&self) -> usize {
        self.pool(self.feature_vm_pool_size)
    }

    /// Filter VM pool size.
    pub fn filter_pool(&self) -> usize {
        self.pool(self.filter_vm_pool_size)
    }

    /// Hook (and init) VM pool size.
    pub fn hook_pool(&self) -> usize {
        self.pool(self.hook_vm_pool_size)
    }

    /// Action VM pool size.
    pub fn action_pool(&self) -> usize {
        usize::from(self.action_number_of_workers.max(1))
    }

    /// The full `package.path`: the fixed defaults, then `package_path`.
    pub fn full_package_path(&self) -> String {
        if self.package_path.is_empty() {
            Self::DEFAULT_PACKAGE_PATH.to_owned()
        } else {
            format!("{};{}", Self::DEFAULT_PACKAGE_PATH, self.package_path)
        }
    }

    /// Every init script, `init_script_path` first.
    pub fn init_scripts(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.init_script_path)
            .chain(self.init_script_paths.iter())
            .filter(|p| !p.is_empty())
    }
}

/// One entry of `lua.optional_lua_backends`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LuaBackendConfig {
    /// Script of this backend; relative paths are relative to the config file. Required.
    #[schemars(schema_with = "crate::schema::path", extend("x-required" = true))]
    pub backend_script_path: String,
    /// Backend VMs; 0 = `number_of_workers`, else 10.
    #[schemars(range(max = 1024))]
    pub backend_number_of_workers: u16,
    /// Deprecated name of `backend_number_of_workers`.
    #[schemars(range(max = 1024))]
    pub number_of_workers: u16,
    /// Most logins waiting for a backend VM (0 = unlimited).
    #[schemars(range(max = 1_000_000))]
    pub queue_length: u32,
}

impl LuaBackendConfig {
    /// Backend workers: `backend_number_of_workers`, else `number_of_workers`, else 10.
    pub fn backend_workers(&self) -> usize {
        [self.backend_number_of_workers, self.number_of_workers]
            .into_iter()
            .find(|n| *n > 0)
            .map_or(10, usize::from)
    }
}

/// One entry of `lua.search`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LuaSearch {
    /// Protocols this search serves, matched exactly (`default` = requests that name no protocol). Required.
    #[schemars(schema_with = "crate::schema::str_list", extend("x-required" = true))]
    pub protocol: Vec<String>,
    /// Name of the positive-cache namespace for users found here. Required.
    #[schemars(extend("x-required" = true))]
    pub cache_name: String,
    /// Lua backend this search belongs to: a key of `lua.optional_lua_backends`, or `__meta_default__` for `lua.config`.
    pub backend_name: String,
}

impl Default for LuaSearch {
    fn default() -> Self {
        Self {
            protocol: Vec::new(),
            cache_name: String::new(),
            backend_name: LuaSection::DEFAULT_BACKEND.into(),
        }
    }
}
