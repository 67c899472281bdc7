//! The modules scripts `require` (lua-api.md §3). Process-wide modules are preloaded once per
//! VM; request-scoped ones are built once per VM too, but bound into the call's environment
//! and `package.loaded` only for the duration of a call (outside it `require` gives `{}`).

mod backend;
pub(crate) use backend::BackendResult;
mod brute_force;
mod cache;
mod codecs;
mod context;
mod db;
mod dns;
mod http;
mod ldap;
mod mail;
pub mod metrics;
mod misc;
mod net;
mod otel;
mod redis;
mod redis_pools;
mod soft_allowlist;
mod template;
mod time;

use std::sync::Arc;

use mlua::{Lua, Table, Value};

use crate::Shared;
use crate::vm::{CallState, Kind};

/// Request-scoped module names, and the kinds they are bound for.
fn scoped(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Backend => &[
            "nauthilus_context",
            "nauthilus_redis",
            "nauthilus_backend_result",
            "nauthilus_brute_force",
            "nauthilus_opentelemetry",
        ],
        Kind::Filter => &[
            "nauthilus_context",
            "nauthilus_redis",
            "nauthilus_backend_result",
            "nauthilus_backend",
            "nauthilus_http_response",
            "nauthilus_brute_force",
            "nauthilus_opentelemetry",
        ],
        // Features and synchronous actions may add headers to the login's answer.
        Kind::Feature | Kind::Action => &[
            "nauthilus_context",
            "nauthilus_redis",
            "nauthilus_http_response",
            "nauthilus_brute_force",
            "nauthilus_opentelemetry",
        ],
        Kind::PostAction => &[
            "nauthilus_context",
            "nauthilus_redis",
            "nauthilus_brute_force",
            "nauthilus_opentelemetry",
        ],
        Kind::Hook => &[
            "nauthilus_context",
            "nauthilus_redis",
            "nauthilus_http_request",
            "nauthilus_http_response",
            "nauthilus_brute_force",
            "nauthilus_opentelemetry",
        ],
        Kind::Init => &[
            "nauthilus_context",
            "nauthilus_redis",
            "nauthilus_brute_force",
            "nauthilus_opentelemetry",
        ],
    }
}

const SCOPED_REGISTRY: &str = "nauthilus:request_modules";

/// Lua modules shipped with nauthilus-rs, found after `package.path` (a file of the same name
/// on the path wins).
const BUILTIN_LUA: &[(&str, &str)] = &[("nauthilus_util", include_str!("../../lua/nauthilus_util.lua"))];

/// Installs every module into a new VM.
pub(crate) fn install(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<()> {
    let globals = lua.globals();
    let package: Table = globals.get("package")?;
    let preload: Table = package.get("preload")?;
    let loaded: Table = package.get("loaded")?;

    let process: Vec<(&str, Table)> = vec![
        ("json", codecs::json(lua)?),
        ("base64", codecs::base64(lua)?),
        ("crypto", codecs::crypto(lua)?),
        ("glua_crypto", codecs::crypto(lua)?),
        ("strings", codecs::strings(lua)?),
        ("regexp", codecs::regexp(lua)?),
        ("re", codecs::regexp(lua)?),
        ("time", time::module(lua)?),
        ("glua_http", http::module(lua, shared)?),
        ("http", http::module(lua, shared)?),
        ("nauthilus_password", misc::password(lua, shared)?),
        ("nauthilus_misc", misc::misc(lua, shared)?),
        ("nauthilus_prometheus", metrics::module(lua)?),
        ("nauthilus_cache", cache::module(lua)?),
        ("db", db::module(lua, shared)?),
        ("tcp", net::tcp(lua)?),
        ("nauthilus_psnet", net::psnet(lua)?),
        ("nauthilus_dns", dns::module(lua, shared)?),
        ("nauthilus_mail", mail::module(lua)?),
        ("template", template::module(lua)?),
        ("nauthilus_soft_whitelist", soft_allowlist::module(lua)?),
        // Only with an LDAP backend, as in Nauthilus; an empty table otherwise.
        (
            "nauthilus_ldap",
            if shared.ldap.is_empty() {
                lua.create_table()?
            } else {
                ldap::module(lua, shared)?
            },
        ),
    ];
    for (name, table) in process {
        let f = lua.create_function(move |_, ()| Ok(table.clone()))?;
        preload.raw_set(name, f)?;
    }

    let request: Vec<(&str, Table)> = vec![
        ("nauthilus_context", context::module(lua)?),
        ("nauthilus_redis", redis::module(lua, shared)?),
        ("nauthilus_backend_result", backend::backend_result(lua)?),
        ("nauthilus_backend", backend::backend(lua)?),
        ("nauthilus_http_request", http::request_module(lua)?),
        ("nauthilus_http_response", http::response_module(lua)?),
        ("nauthilus_brute_force", brute_force::module(lua, shared)?),
        ("nauthilus_opentelemetry", otel::module(lua)?),
    ];
    let registry = lua.create_table()?;
    for (name, table) in request {
        registry.raw_set(name, table)?;
        // Outside its scope a request-scoped module is an empty table.
        let f = lua.create_function(|lua, ()| lua.create_table())?;
        preload.raw_set(name, f)?;
    }
    lua.set_named_registry_value(SCOPED_REGISTRY, registry)?;

    // Our own Lua modules, after everything on package.path.
    let loaders: Table = package.get("loaders")?;
    let builtin =
        lua.create_function(
            |lua, name: String| match BUILTIN_LUA.iter().find(|(n, _)| *n == name) {
                Some((n, src)) => Ok(Value::Function(
                    lua.load(*src)
                        .set_name(format!("=[builtin {n}]"))
                        .into_function()?,
                )),
                None => Ok(Value::String(
                    lua.create_string(format!("\n\tno built-in module '{name}'"))?,
                )),
            },
        )?;
    loaders.raw_set(loaders.raw_len() + 1, builtin)?;

    // Kept for pre-1.8 scripts: a no-op that only warns.
    globals.raw_set(
        "dynamic_loader",
        lua.create_function(|_, name: Option<String>| {
            tracing::warn!(
                module = name.unwrap_or_default(),
                "dynamic_loader is obsolete; use require"
            );
            Ok(())
        })?,
    )?;
    let _ = loaded;
    Ok(())
}

/// Binds the request-scoped modules of `kind` into `env` and `package.loaded`.
pub(crate) fn bind_request_scoped(lua: &Lua, kind: Kind, env: &Table) -> mlua::Result<()> {
    let registry: Table = lua.named_registry_value(SCOPED_REGISTRY)?;
    let loaded: Table = lua.globals().get::<Table>("package")?.get("loaded")?;
    for name in scoped(kind) {
        let module: Table = registry.raw_get(*name)?;
        env.raw_set(*name, module.clone())?;
        loaded.raw_set(*name, module)?;
    }
    Ok(())
}

/// Removes the request-scoped modules from `package.loaded` again.
pub(crate) fn unbind_request_scoped(lua: &Lua) -> mlua::Result<()> {
    let registry: Table = lua.named_registry_value(SCOPED_REGISTRY)?;
    let loaded: Table = lua.globals().get::<Table>("package")?.get("loaded")?;
    for pair in registry.pairs::<String, Value>() {
        let (name, _) = pair?;
        loaded.raw_set(name, Value::Nil)?;
    }
    Ok(())
}

/// `nauthilus_builtin` for `kind` (hooks and init have none).
pub(crate) fn builtin(lua: &Lua, kind: Kind) -> mlua::Result<Option<Table>> {
    let t = lua.create_table()?;
    match kind {
        Kind::Feature => {
            t.raw_set("FEATURE_TRIGGER_NO", false)?;
            t.raw_set("FEATURE_TRIGGER_YES", true)?;
            t.raw_set("FEATURES_ABORT_NO", false)?;
            t.raw_set("FEATURES_ABORT_YES", true)?;
            t.raw_set("FEATURE_RESULT_OK", 0)?;
            t.raw_set("FEATURE_RESULT_FAIL", 1)?;
        }
        Kind::Filter => {
            t.raw_set("FILTER_ACCEPT", false)?;
            t.raw_set("FILTER_REJECT", true)?;
            t.raw_set("FILTER_RESULT_OK", 0)?;
            t.raw_set("FILTER_RESULT_FAIL", 1)?;
        }
        Kind::Action | Kind::PostAction => {
            t.raw_set("ACTION_RESULT_OK", 0)?;
            t.raw_set("ACTION_RESULT_FAIL", 1)?;
        }
        Kind::Backend => {
            t.raw_set("BACKEND_RESULT_OK", 0)?;
            t.raw_set("BACKEND_RESULT_FAIL", 1)?;
        }
        Kind::Hook | Kind::Init => return Ok(None),
    }
    t.raw_set(
        "custom_log_add",
        lua.create_function(|lua, (key, value): (String, Value)| {
            let value = match &value {
                Value::Boolean(_) | Value::Number(_) | Value::Integer(_) | Value::String(_) => {
                    crate::value::scalar_string(&value).unwrap_or_default()
                }
                _ => "UNSUPPORTED".to_owned(),
            };
            with_state(lua, |s| s.scratch.with(|r| r.log_fields.push((key, value))));
            Ok(())
        })?,
    )?;
    if kind != Kind::Action && kind != Kind::PostAction {
        t.raw_set(
            "status_message_set",
            lua.create_function(|lua, msg: String| {
                with_state(lua, |s| s.scratch.with(|r| r.status_message = Some(msg)));
                Ok(())
            })?,
        )?;
    }
    Ok(Some(t))
}

/// Runs `f` on the call state, if a call is running.
pub(crate) fn with_state<T>(lua: &Lua, f: impl FnOnce(&mut CallState) -> T) -> Option<T> {
    lua.app_data_mut::<CallState>().map(|mut s| f(&mut s))
}

/// `(nil, message)`, the module error convention.
pub(crate) fn nil_err(lua: &Lua, message: impl AsRef<str>) -> mlua::Result<(Value, Value)> {
    Ok((Value::Nil, Value::String(lua.create_string(message.as_ref())?)))
}
