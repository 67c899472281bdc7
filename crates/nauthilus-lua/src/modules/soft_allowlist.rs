//! `nauthilus_soft_whitelist`: run-time soft allowlists (process-wide), read where the
//! pipeline reads the configured `soft_whitelist` entries (`relay_domains`, `rbl`) and by
//! brute force (`brute_force`: the user is not counted nor banned from that network).
//!
//! `soft_whitelist_set(user, net, feature)` → `("OK", nil)`, or the single value
//! `"invalid feature category"` (an unknown feature) or `(nil, err)` (no address or network);
//! `soft_whitelist_get(user, feature)` → list of networks; `soft_whitelist_delete(user, net,
//! feature)`.

use mlua::{Lua, Table, Value};
use nauthilus_core::features::soft_allowlist::{SoftAllowlistError, feature_named, global};

use super::nil_err;

const INVALID_FEATURE: &str = "invalid feature category";

pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "soft_whitelist_set",
        lua.create_function(|lua, (user, net, feature): (String, String, String)| {
            let Some(feature) = feature_named(&feature) else {
                return Ok((Value::String(lua.create_string(INVALID_FEATURE)?), Value::Nil));
            };
            match global().set(&user, &net, feature) {
                Ok(()) => Ok((Value::String(lua.create_string("OK")?), Value::Nil)),
                Err(SoftAllowlistError::Feature) => {
                    Ok((Value::String(lua.create_string(INVALID_FEATURE)?), Value::Nil))
                }
                Err(e) => nil_err(lua, e.to_string()),
            }
        })?,
    )?;
    t.raw_set(
        "soft_whitelist_get",
        lua.create_function(|lua, (user, feature): (String, String)| {
            let nets = feature_named(&feature)
                .map(|f| global().get(&user, f))
                .unwrap_or_default();
            lua.create_sequence_from(nets)
        })?,
    )?;
    t.raw_set(
        "soft_whitelist_delete",
        lua.create_function(|_, (user, net, feature): (String, String, String)| {
            if let Some(feature) = feature_named(&feature) {
                global().delete(&user, &net, feature);
            }
            Ok(())
        })?,
    )?;
    Ok(t)
}
