//! Named Redis pools of `nauthilus_redis`: `register_redis_pool(name, mode, settings)` connects
//! a [`Store`] (standalone, Sentinel or Cluster, as for `server.redis`) into a process-wide
//! registry; `get_redis_connection(name)` hands out its name, and every command whose first
//! argument names a registered pool runs there ("default" or anything else: the server's own).
//! `tls_enabled` (with `tls_cert_file`/`tls_key_file` for a client certificate, and our
//! `tls_ca_file`/`tls_skip_verify`) connects over TLS as `server.redis.tls` does.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use mlua::{Lua, Table, Value};
use nauthilus_config::RedisConfig;
use nauthilus_store::Store;

use super::nil_err;
use crate::Shared;

fn pools() -> &'static Mutex<HashMap<String, Store>> {
    static P: OnceLock<Mutex<HashMap<String, Store>>> = OnceLock::new();
    P.get_or_init(Mutex::default)
}

/// The store a command's connection argument selects.
pub(super) fn store_for(shared: &Shared, conn: Option<&Value>) -> Store {
    if let Some(Value::String(name)) = conn
        && let Ok(name) = name.to_str()
        && &*name != "default"
        && let Some(store) = pools().lock().unwrap_or_else(|e| e.into_inner()).get(&*name)
    {
        return store.clone();
    }
    shared.store.clone()
}

/// True when `name` is "default" or a registered pool.
pub(super) fn known(name: &str) -> bool {
    name.is_empty()
        || name == "default"
        || pools()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(name)
}

/// `server.redis`-style settings from a script's table.
fn config(mode: &str, t: &Table) -> mlua::Result<Result<RedisConfig, String>> {
    let s = |k: &str| -> mlua::Result<String> { Ok(t.get::<Option<String>>(k)?.unwrap_or_default()) };
    let list = |k: &str| -> mlua::Result<Vec<String>> {
        Ok(match t.get::<Value>(k)? {
            Value::Table(l) => l
                .sequence_values::<Value>()
                .filter_map(|v| v.ok().as_ref().and_then(crate::value::scalar_string))
                .collect(),
            Value::String(one) => vec![one.to_string_lossy()],
            _ => Vec::new(),
        })
    };
    let mut c = RedisConfig::default();
    // TLS as for `server.redis.tls`: the Nauthilus keys plus `tls_ca_file` and
    // `tls_skip_verify` (nauthilus-rs), so a private CA can be trusted.
    c.tls.enabled = t.get::<Option<bool>>("tls_enabled")?.unwrap_or(false);
    c.tls.cert = s("tls_cert_file")?;
    c.tls.key = s("tls_key_file")?;
    c.tls.ca_file = s("tls_ca_file")?;
    c.tls.skip_verify = t.get::<Option<bool>>("tls_skip_verify")?.unwrap_or(false);
    if !c.tls.enabled && (!c.tls.cert.is_empty() || !c.tls.key.is_empty() || !c.tls.ca_file.is_empty()) {
        return Ok(Err(
            "tls_cert_file, tls_key_file and tls_ca_file need tls_enabled".into(),
        ));
    }
    if c.tls.cert.is_empty() != c.tls.key.is_empty() {
        return Ok(Err("tls_cert_file and tls_key_file go together".into()));
    }
    let db: Option<f64> = t.get("db")?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    if let Some(db) = db.filter(|d| d.is_finite() && *d >= 0.0 && *d <= 255.0) {
        c.database_number = db as u8;
    }
    let pool_size: Option<f64> = t.get("pool_size")?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    if let Some(n) = pool_size
        .filter(|n| n.is_finite() && *n >= 1.0)
        .and_then(|n| std::num::NonZeroU16::new(n.min(1024.0) as u16))
    {
        c.pool_size = n;
    }
    let mut addresses = list("addresses")?;
    let address = s("address")?;
    if !address.is_empty() {
        addresses.insert(0, address);
    }
    if addresses.is_empty() {
        return Ok(Err("address or addresses is required".into()));
    }
    match mode {
        "standalone" => {
            c.master.address = addresses.remove(0);
            c.master.username = s("username")?;
            c.master.password = s("password")?;
        }
        // Replica reads are not separated: both modes use the master Sentinel names.
        "sentinel" | "sentinel_replica" => {
            c.sentinels.master = s("master_name")?;
            c.sentinels.addresses = addresses;
            c.sentinels.username = s("sentinel_username")?;
            c.sentinels.password = s("sentinel_password")?;
            c.master.username = s("username")?;
            c.master.password = s("password")?;
            if c.sentinels.master.is_empty() {
                return Ok(Err("master_name is required for sentinel".into()));
            }
        }
        "cluster" => {
            c.cluster.addresses = addresses;
            c.cluster.username = s("username")?;
            c.cluster.password = s("password")?;
        }
        other => {
            return Ok(Err(format!(
                "unknown mode {other:?} (standalone, sentinel, sentinel_replica, cluster)"
            )));
        }
    }
    Ok(Ok(c))
}

/// `register_redis_pool(name, mode, settings)` → `("OK", nil)` or `(nil, err)`. A name that is
/// already registered keeps its pool (init scripts run again on reload).
pub(super) fn register(lua: &Lua) -> mlua::Result<mlua::Function> {
    lua.create_async_function(
        |lua, (name, mode, settings): (String, String, Table)| async move {
            if name.is_empty() || name == "default" {
                return nil_err(
                    &lua,
                    "register_redis_pool: the name \"default\" is the server's own pool",
                );
            }
            if known(&name) {
                return Ok((Value::String(lua.create_string("OK")?), Value::Nil));
            }
            let config = match config(&mode.to_ascii_lowercase(), &settings)? {
                Ok(c) => c,
                Err(e) => return nil_err(&lua, format!("register_redis_pool {name}: {e}")),
            };
            match Store::connect(&config).await {
                Ok(store) => {
                    pools()
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(name)
                        .or_insert(store);
                    Ok((Value::String(lua.create_string("OK")?), Value::Nil))
                }
                Err(e) => nil_err(&lua, format!("register_redis_pool {name}: {e}")),
            }
        },
    )
}
