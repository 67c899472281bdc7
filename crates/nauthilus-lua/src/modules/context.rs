//! `nauthilus_context`: values shared by the stages of one request, deep-copied in and out.

use mlua::{Lua, Table, Value};

use super::with_state;
use crate::value::{from_json, to_json};

pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "context_set",
        lua.create_function(|lua, (key, value): (String, Value)| {
            let json = to_json(&value, false, 0).map_err(mlua::Error::runtime)?;
            with_state(lua, |s| {
                s.scratch.with(|r| {
                    if json.is_null() {
                        r.context.remove(&key);
                    } else {
                        r.context.insert(key, json);
                    }
                })
            });
            Ok(())
        })?,
    )?;
    t.raw_set(
        "context_get",
        lua.create_function(|lua, key: String| {
            let value = with_state(lua, |s| s.scratch.with(|r| r.context.get(&key).cloned())).flatten();
            match value {
                Some(v) => from_json(lua, &v),
                None => Ok(Value::Nil),
            }
        })?,
    )?;
    t.raw_set(
        "context_delete",
        lua.create_function(|lua, key: String| {
            with_state(lua, |s| s.scratch.with(|r| r.context.remove(&key)));
            Ok(())
        })?,
    )?;
    Ok(t)
}
