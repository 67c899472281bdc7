//! `nauthilus_cache`: one process-wide key/value store with TTLs, shared by every VM; values
//! are deep-copied (as JSON) in and out.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use mlua::{Function, Lua, Table, Value};
use serde_json::Value as Json;

use crate::value::{from_json, to_json};

#[derive(Default)]
struct Cache {
    entries: HashMap<String, (Json, Option<Instant>)>,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

fn with<T>(f: impl FnOnce(&mut Cache) -> T) -> T {
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    let now = nauthilus_core::clock::instant();
    c.entries.retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
    f(&mut c)
}

fn json(v: &Value) -> mlua::Result<Json> {
    to_json(v, false, 0).map_err(mlua::Error::runtime)
}

pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "cache_set",
        lua.create_function(|_, (k, v, ttl): (String, Value, Option<f64>)| {
            let v = json(&v)?;
            let exp = ttl
                .filter(|s| *s > 0.0 && s.is_finite())
                .map(|s| nauthilus_core::clock::instant() + Duration::from_secs_f64(s.min(1e9)));
            with(|c| c.entries.insert(k, (v, exp)));
            Ok("OK")
        })?,
    )?;
    t.raw_set(
        "cache_get",
        lua.create_function(
            |lua, k: String| match with(|c| c.entries.get(&k).map(|e| e.0.clone())) {
                Some(v) => from_json(lua, &v),
                None => Ok(Value::Nil),
            },
        )?,
    )?;
    t.raw_set(
        "cache_delete",
        lua.create_function(|_, k: String| Ok(with(|c| c.entries.remove(&k).is_some())))?,
    )?;
    t.raw_set(
        "cache_exists",
        lua.create_function(|_, k: String| Ok(with(|c| c.entries.contains_key(&k))))?,
    )?;
    t.raw_set(
        "cache_keys",
        lua.create_function(|lua, ()| {
            lua.create_sequence_from(with(|c| c.entries.keys().cloned().collect::<Vec<_>>()))
        })?,
    )?;
    t.raw_set(
        "cache_size",
        lua.create_function(|_, ()| Ok(with(|c| c.entries.len())))?,
    )?;
    t.raw_set(
        "cache_flush",
        lua.create_function(|_, ()| {
            with(|c| c.entries.clear());
            Ok(())
        })?,
    )?;
    t.raw_set(
        "cache_push",
        lua.create_function(|_, (k, v): (String, Value)| {
            let v = json(&v)?;
            Ok(with(|c| {
                let entry = c.entries.entry(k).or_insert((Json::Array(Vec::new()), None));
                if !entry.0.is_array() {
                    entry.0 = Json::Array(Vec::new());
                }
                match &mut entry.0 {
                    Json::Array(items) => {
                        items.push(v);
                        items.len()
                    }
                    _ => 0,
                }
            }))
        })?,
    )?;
    t.raw_set(
        "cache_pop_all",
        lua.create_function(|lua, k: String| {
            let items = with(|c| c.entries.remove(&k).map(|e| e.0));
            match items {
                Some(v @ Json::Array(_)) => from_json(lua, &v),
                _ => Ok(Value::Table(lua.create_table()?)),
            }
        })?,
    )?;
    t.raw_set(
        "cache_update",
        lua.create_function(|lua, (k, f): (String, Function)| {
            let old = with(|c| c.entries.get(&k).map(|e| e.0.clone()));
            let old = match old {
                Some(v) => from_json(lua, &v)?,
                None => Value::Nil,
            };
            let new: Value = f.call(old)?;
            let stored = json(&new)?;
            with(|c| c.entries.insert(k, (stored, None)));
            Ok(new)
        })?,
    )?;
    Ok(t)
}
