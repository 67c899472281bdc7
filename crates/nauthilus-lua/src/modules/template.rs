//! `template` (gopher-lua-libs): `template.choose("mustache")` → an engine whose
//! `:render(tpl, vars)` → (text, nil) or (nil, err). Mustache through the `mustache` crate; the
//! variables are the Lua table as JSON (nested tables are sections, lists iterate).

use mlua::{Lua, Table, UserData, UserDataMethods, Value};

use super::nil_err;
use crate::value::to_json;

/// The mustache engine `template.choose` returns.
struct Mustache;

impl UserData for Mustache {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("render", |lua, _, (tpl, vars): (String, Value)| {
            let data = match to_json(&vars, false, 0) {
                Ok(serde_json::Value::Null) => serde_json::json!({}),
                // An empty table reads as an empty list; as variables it is an empty map.
                Ok(serde_json::Value::Array(a)) if a.is_empty() => serde_json::json!({}),
                Ok(v) => v,
                Err(e) => return nil_err(lua, format!("template: {e}")),
            };
            let rendered = mustache::compile_str(&tpl)
                .map_err(|e| e.to_string())
                .and_then(|t| t.render_to_string(&data).map_err(|e| e.to_string()));
            match rendered {
                Ok(text) => Ok((Value::String(lua.create_string(text)?), Value::Nil)),
                Err(e) => nil_err(lua, format!("template: {e}")),
            }
        });
    }
}

pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "choose",
        lua.create_function(|lua, name: String| {
            if name.eq_ignore_ascii_case("mustache") {
                Ok((Value::UserData(lua.create_userdata(Mustache)?), Value::Nil))
            } else {
                nil_err(lua, format!("template: unknown engine {name:?} (mustache)"))
            }
        })?,
    )?;
    Ok(t)
}
