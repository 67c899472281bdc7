//! `nauthilus_backend_result` (backend and filters) and `nauthilus_backend` (filters).

use std::collections::BTreeMap;

use mlua::{AnyUserData, Lua, Table, UserData, UserDataMethods, Value};

use super::with_state;
use crate::value::attribute_values;

/// What a Lua backend (or a filter's `apply_backend_result`) reports about a user.
#[derive(Clone, Debug, Default)]
pub struct BackendResult {
    pub authenticated: bool,
    pub user_found: bool,
    pub account_field: String,
    pub totp_secret_field: String,
    pub totp_recovery_field: String,
    pub unique_user_id_field: String,
    pub display_name_field: String,
    pub attributes: BTreeMap<String, Vec<String>>,
}

macro_rules! accessor {
    ($methods:ident, $name:literal, $field:ident, bool) => {
        $methods.add_method_mut($name, |_, this, v: Option<bool>| {
            if let Some(v) = v {
                this.$field = v;
            }
            Ok(this.$field)
        });
    };
    ($methods:ident, $name:literal, $field:ident, string) => {
        $methods.add_method_mut($name, |_, this, v: Option<String>| {
            if let Some(v) = v {
                this.$field = v;
            }
            Ok(this.$field.clone())
        });
    };
}

impl UserData for BackendResult {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        accessor!(methods, "authenticated", authenticated, bool);
        accessor!(methods, "user_found", user_found, bool);
        accessor!(methods, "account_field", account_field, string);
        accessor!(methods, "totp_secret_field", totp_secret_field, string);
        accessor!(methods, "totp_recovery_field", totp_recovery_field, string);
        accessor!(methods, "unique_user_id_field", unique_user_id_field, string);
        accessor!(methods, "display_name_field", display_name_field, string);
        methods.add_method_mut("attributes", |lua, this, v: Option<Table>| {
            if let Some(t) = v {
                if crate::value::is_array(&t)?.is_some_and(|n| n > 0) {
                    return Err(mlua::Error::runtime(
                        "attributes: expected a table of name = value, got a list",
                    ));
                }
                let mut attrs = BTreeMap::new();
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    let key = crate::value::scalar_string(&k)
                        .ok_or_else(|| mlua::Error::runtime("attributes: names must be strings"))?;
                    attrs.insert(key, attribute_values(&v).map_err(mlua::Error::runtime)?);
                }
                this.attributes = attrs;
            }
            let out = lua.create_table()?;
            for (k, values) in &this.attributes {
                let list = lua.create_sequence_from(values.iter().map(String::as_str))?;
                out.raw_set(k.as_str(), list)?;
            }
            Ok(out)
        });
    }
}

pub(super) fn backend_result(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("new", lua.create_function(|_, ()| Ok(BackendResult::default()))?)?;
    Ok(t)
}

pub(super) fn backend(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    // Backend server monitoring is not implemented: no servers are known.
    t.raw_set(
        "get_backend_servers",
        lua.create_function(|lua, ()| lua.create_table())?,
    )?;
    t.raw_set(
        "select_backend_server",
        lua.create_function(|lua, (host, port): (String, f64)| {
            if !(1.0..=65535.0).contains(&port) || port.fract() != 0.0 {
                return Err(mlua::Error::runtime(format!(
                    "select_backend_server: bad port {port}"
                )));
            }
            let port = format!("{port:.0}").parse::<u16>().unwrap_or_default();
            with_state(lua, |s| s.filter.upstream = Some((host, port)));
            Ok(())
        })?,
    )?;
    t.raw_set(
        "apply_backend_result",
        lua.create_function(|lua, ud: AnyUserData| {
            let result = ud.borrow::<BackendResult>()?;
            let attrs: Vec<_> = result
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            with_state(lua, |s| s.filter.add.extend(attrs));
            Ok(())
        })?,
    )?;
    t.raw_set(
        "remove_from_backend_result",
        lua.create_function(|lua, names: Table| {
            let mut list = Vec::new();
            for v in names.sequence_values::<Value>() {
                if let Some(s) = crate::value::scalar_string(&v?) {
                    list.push(s);
                }
            }
            with_state(lua, |s| s.filter.remove.extend(list));
            Ok(())
        })?,
    )?;
    Ok(t)
}
