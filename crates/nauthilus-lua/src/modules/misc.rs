//! `nauthilus_password` and `nauthilus_misc`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mlua::{Lua, MultiValue, Table, Value};
use nauthilus_backends::password::PasswordHash;
use rand::Rng;
use sha2::Digest;

use crate::Shared;

pub(super) fn password(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "compare_passwords",
        lua.create_function(
            |lua, (hash, plain): (String, mlua::String)| match PasswordHash::parse(&hash) {
                Ok(h) => Ok((Value::Boolean(h.verify(&plain.as_bytes())), Value::Nil)),
                Err(e) => Ok((
                    Value::Boolean(false),
                    Value::String(lua.create_string(e.to_string())?),
                )),
            },
        )?,
    )?;
    t.raw_set(
        "check_password_policy",
        lua.create_function(|_, (policy, pw): (Table, String)| {
            let need = |k: &str| -> mlua::Result<usize> {
                let v: Option<f64> = policy.get(k)?;
                Ok(format!("{:.0}", v.unwrap_or_default().max(0.0))
                    .parse()
                    .unwrap_or_default())
            };
            let count = |f: fn(&char) -> bool| pw.chars().filter(f).count();
            let ok = pw.chars().count() >= need("min_length")?
                && count(char::is_ascii_uppercase) >= need("min_upper")?
                && count(char::is_ascii_lowercase) >= need("min_lower")?
                && count(char::is_ascii_digit) >= need("min_number")?
                && count(|c| !c.is_alphanumeric()) >= need("min_special")?;
            Ok((ok, Value::Nil))
        })?,
    )?;
    let nonce = shared.password_nonce.clone();
    t.raw_set(
        "generate_password_hash",
        lua.create_function(move |_, pw: mlua::String| {
            let mut h = sha2::Sha256::new();
            h.update(nonce.as_bytes());
            h.update([0u8]);
            h.update(&pw.as_bytes()[..]);
            Ok(hex::encode(h.finalize())[..8].to_owned())
        })?,
    )?;
    Ok(t)
}

pub(super) fn misc(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "wait_random",
        lua.create_async_function(|_, (min, max): (f64, f64)| async move {
            let clampf = |v: f64| {
                if v.is_finite() {
                    v.clamp(0.0, 60_000.0)
                } else {
                    0.0
                }
            };
            let (lo, hi) = (clampf(min), clampf(max));
            let ms = if hi > lo {
                rand::rng().random_range(lo..hi)
            } else {
                lo
            };
            tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
            Ok(ms.floor())
        })?,
    )?;
    t.raw_set(
        "get_country_name",
        lua.create_function(|_, iso: Value| {
            let code = crate::value::scalar_string(&iso).unwrap_or_default();
            Ok(country_name(&code))
        })?,
    )?;
    let (v4, v6) = shared.ip_scoping;
    t.raw_set(
        "scoped_ip",
        lua.create_function(move |_, args: MultiValue| {
            let ip = args
                .iter()
                .rev()
                .find_map(crate::value::scalar_string)
                .unwrap_or_default();
            Ok(scoped_ip(&ip, v4, v6))
        })?,
    )?;
    Ok(t)
}

/// `ip` reduced to its network when scoping is on for its family (`a.b.c.0/24`), else as is.
pub(crate) fn scoped_ip(ip: &str, v4: u8, v6: u8) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) if v4 > 0 => {
            ipnet::Ipv4Net::new(a, v4.min(32)).map_or(ip.to_owned(), |n| n.trunc().to_string())
        }
        Ok(IpAddr::V6(a)) if v6 > 0 => {
            ipnet::Ipv6Net::new(a, v6.min(128)).map_or(ip.to_owned(), |n| n.trunc().to_string())
        }
        _ => ip.to_owned(),
    }
}

/// The English short name of an ISO 3166-1 alpha-2 (or alpha-3) code, "Unknown" otherwise.
pub(crate) fn country_name(code: &str) -> &'static str {
    let code = code.trim();
    isocountry::CountryCode::for_alpha2_caseless(code)
        .or_else(|_| isocountry::CountryCode::for_alpha3_caseless(code))
        .map_or("Unknown", |c| c.name())
}
