//! `nauthilus_brute_force`: run-time tolerations (process-wide, they win over
//! `brute_force.custom_tolerations`), a client's toleration counters, and the bans covering an
//! address, on the server's own brute-force state.
//!
//! - `set_custom_tolerations({{ip_address, tolerate_percent, tolerate_ttl="30m"}…})` replaces
//!   the list; `set_custom_toleration(t)` adds or replaces one; `delete_custom_toleration(ip)`;
//!   `get_custom_tolerations()` → the list. Invalid entries raise an error.
//! - `get_tolerate_map(ip)` → `{positive=n, negative=n}` (successes and failures counted for
//!   tolerations in their period).
//! - `is_ip_address_blocked(ip)` → `({rule names}, nil)` when a ban covers `ip`, `(nil, nil)`
//!   when none does (or brute force is off), `(nil, err)` when the state cannot be read.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mlua::{Lua, Table, Value};
use nauthilus_core::brute_force::toleration::{RuntimeToleration, runtime};

use super::http::parse_go_duration;
use super::nil_err;
use crate::Shared;

/// `tolerate_ttl` when a script gives none.
const DEFAULT_TTL: Duration = Duration::from_secs(30 * 60);

fn toleration(t: &Table) -> mlua::Result<RuntimeToleration> {
    let ip_address: String = t.get::<Option<String>>("ip_address")?.unwrap_or_default();
    if nauthilus_core::brute_force::network::parse_net(&ip_address).is_none() {
        return Err(mlua::Error::runtime(format!(
            "custom toleration: ip_address {ip_address:?} is no address or network"
        )));
    }
    let percent: f64 = t.get::<Option<f64>>("tolerate_percent")?.unwrap_or(0.0);
    if !(0.0..=100.0).contains(&percent) {
        return Err(mlua::Error::runtime(
            "custom toleration: tolerate_percent must be 0..100",
        ));
    }
    let ttl = match t.get::<Value>("tolerate_ttl")? {
        Value::Nil => DEFAULT_TTL,
        Value::String(s) => parse_go_duration(&s.to_string_lossy())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| mlua::Error::runtime("custom toleration: bad tolerate_ttl"))?,
        Value::Number(n) if n.is_finite() && n > 0.0 => Duration::from_secs_f64(n.min(31_536_000.0)),
        Value::Integer(n) if n > 0 => Duration::from_secs(n.unsigned_abs()),
        _ => return Err(mlua::Error::runtime("custom toleration: bad tolerate_ttl")),
    };
    Ok(RuntimeToleration {
        ip_address,
        percent: format!("{percent:.0}").parse().unwrap_or(0),
        ttl,
    })
}

fn go_ttl(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m}m"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

fn parse_ip(ip: &str) -> Option<IpAddr> {
    nauthilus_core::brute_force::network::parse_client_ip(ip)
}

pub(super) fn module(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "set_custom_tolerations",
        lua.create_function(|_, list: Table| {
            let list = list
                .sequence_values::<Table>()
                .map(|e| e.and_then(|e| toleration(&e)))
                .collect::<mlua::Result<Vec<_>>>()?;
            runtime().replace(list);
            Ok(())
        })?,
    )?;
    t.raw_set(
        "set_custom_toleration",
        lua.create_function(|_, entry: Table| {
            runtime().set(toleration(&entry)?);
            Ok(())
        })?,
    )?;
    t.raw_set(
        "delete_custom_toleration",
        lua.create_function(|_, ip: String| Ok(runtime().delete(&ip)))?,
    )?;
    t.raw_set(
        "get_custom_tolerations",
        lua.create_function(|lua, ()| {
            let out = lua.create_table()?;
            for (i, t) in runtime().list().into_iter().enumerate() {
                let e = lua.create_table()?;
                e.raw_set("ip_address", t.ip_address)?;
                e.raw_set("tolerate_percent", t.percent)?;
                e.raw_set("tolerate_ttl", go_ttl(t.ttl))?;
                out.raw_set(i + 1, e)?;
            }
            Ok(out)
        })?,
    )?;
    let bf = shared.brute_force.clone();
    t.raw_set(
        "get_tolerate_map",
        lua.create_async_function(move |lua, ip: String| {
            let bf = bf.clone();
            async move {
                let out = lua.create_table()?;
                let (Some(bf), Some(ip)) = (bf, parse_ip(&ip)) else {
                    out.raw_set("positive", 0)?;
                    out.raw_set("negative", 0)?;
                    return Ok((Value::Table(out), Value::Nil));
                };
                match bf.toleration_counts(ip).await {
                    Ok((positive, negative)) => {
                        #[allow(clippy::cast_precision_loss)]
                        {
                            out.raw_set("positive", positive as f64)?;
                            out.raw_set("negative", negative as f64)?;
                        }
                        Ok((Value::Table(out), Value::Nil))
                    }
                    Err(e) => nil_err(&lua, format!("get_tolerate_map: {e}")),
                }
            }
        })?,
    )?;
    let bf = shared.brute_force.clone();
    t.raw_set(
        "is_ip_address_blocked",
        lua.create_async_function(move |lua, ip: String| {
            let bf = bf.clone();
            async move {
                let (Some(bf), Some(ip)) = (bf, parse_ip(&ip)) else {
                    return Ok((Value::Nil, Value::Nil));
                };
                match bf.banned_rules(ip).await {
                    Ok(rules) if rules.is_empty() => Ok((Value::Nil, Value::Nil)),
                    Ok(rules) => Ok((Value::Table(lua.create_sequence_from(rules)?), Value::Nil)),
                    Err(e) => nil_err(&lua, format!("is_ip_address_blocked: {e}")),
                }
            }
        })?,
    )?;
    Ok(t)
}
