//! Third-party modules scripts `require`: `json`, `base64`, `crypto`/`glua_crypto`, `strings`,
//! `regexp`/`re` (the parts of gopher-lua-libs and gluacrypto the Nauthilus plugins use).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use mlua::{Lua, MultiValue, String as LuaString, Table, Value};

use super::nil_err;
use crate::value::{from_json, to_json};

pub(super) fn json(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, v: Value| match to_json(&v, true, 0) {
            Ok(j) => Ok((Value::String(lua.create_string(j.to_string())?), Value::Nil)),
            Err(e) => nil_err(lua, e),
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: LuaString| {
            match serde_json::from_slice::<serde_json::Value>(&s.as_bytes()) {
                Ok(j) => Ok((from_json(lua, &j)?, Value::Nil)),
                Err(e) => nil_err(lua, e.to_string()),
            }
        })?,
    )?;
    Ok(t)
}

pub(super) fn base64(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let engines: [(&str, &'static base64::engine::GeneralPurpose); 4] = [
        ("StdEncoding", &STANDARD),
        ("RawStdEncoding", &STANDARD_NO_PAD),
        ("URLEncoding", &URL_SAFE),
        ("RawURLEncoding", &URL_SAFE_NO_PAD),
    ];
    for (name, engine) in engines {
        let enc = lua.create_table()?;
        enc.raw_set(
            "encode_to_string",
            lua.create_function(move |_, (_this, s): (Value, LuaString)| Ok(engine.encode(s.as_bytes())))?,
        )?;
        enc.raw_set(
            "decode_string",
            lua.create_function(move |lua, (_this, s): (Value, LuaString)| {
                match engine.decode(s.as_bytes()) {
                    Ok(bytes) => Ok((Value::String(lua.create_string(bytes)?), Value::Nil)),
                    Err(e) => nil_err(lua, e.to_string()),
                }
            })?,
        )?;
        t.raw_set(name, enc)?;
    }
    Ok(t)
}

fn digest<D: sha2::Digest>(data: &[u8]) -> String {
    hex::encode(D::digest(data))
}

pub(super) fn crypto(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "md5",
        lua.create_function(|_, s: LuaString| {
            Ok(hex::encode(<md5::Md5 as md5::Digest>::digest(&s.as_bytes()[..])))
        })?,
    )?;
    t.raw_set(
        "sha1",
        lua.create_function(|_, s: LuaString| Ok(digest::<sha1::Sha1>(&s.as_bytes())))?,
    )?;
    t.raw_set(
        "sha256",
        lua.create_function(|_, s: LuaString| Ok(digest::<sha2::Sha256>(&s.as_bytes())))?,
    )?;
    t.raw_set(
        "sha512",
        lua.create_function(|_, s: LuaString| Ok(digest::<sha2::Sha512>(&s.as_bytes())))?,
    )?;
    t.raw_set(
        "hmac",
        lua.create_function(|lua, (alg, data, key): (String, LuaString, LuaString)| {
            use hmac::{Hmac, KeyInit, Mac};
            let (data, key) = (data.as_bytes(), key.as_bytes());
            let out = match alg.to_ascii_lowercase().as_str() {
                "sha1" => Hmac::<sha1::Sha1>::new_from_slice(&key)
                    .map(|m| m.chain_update(&data[..]).finalize().into_bytes().to_vec()),
                "sha256" => Hmac::<sha2::Sha256>::new_from_slice(&key)
                    .map(|m| m.chain_update(&data[..]).finalize().into_bytes().to_vec()),
                "sha512" => Hmac::<sha2::Sha512>::new_from_slice(&key)
                    .map(|m| m.chain_update(&data[..]).finalize().into_bytes().to_vec()),
                other => return nil_err(lua, format!("hmac: unsupported algorithm {other}")),
            };
            match out {
                Ok(mac) => Ok((Value::String(lua.create_string(hex::encode(mac))?), Value::Nil)),
                Err(e) => nil_err(lua, e.to_string()),
            }
        })?,
    )?;
    Ok(t)
}

pub(super) fn strings(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "split",
        lua.create_function(|lua, (s, sep): (String, String)| {
            let parts: Vec<&str> = if sep.is_empty() {
                s.split("").filter(|p| !p.is_empty()).collect()
            } else {
                s.split(sep.as_str()).collect()
            };
            lua.create_sequence_from(parts)
        })?,
    )?;
    t.raw_set(
        "has_prefix",
        lua.create_function(|_, (s, p): (String, String)| Ok(s.starts_with(&p)))?,
    )?;
    t.raw_set(
        "has_suffix",
        lua.create_function(|_, (s, p): (String, String)| Ok(s.ends_with(&p)))?,
    )?;
    t.raw_set(
        "contains",
        lua.create_function(|_, (s, p): (String, String)| Ok(s.contains(&p)))?,
    )?;
    t.raw_set(
        "trim_space",
        lua.create_function(|_, s: String| Ok(s.trim().to_owned()))?,
    )?;
    t.raw_set(
        "trim",
        lua.create_function(|_, (s, cut): (String, String)| {
            Ok(s.trim_matches(|c| cut.contains(c)).to_owned())
        })?,
    )?;
    t.raw_set(
        "trim_prefix",
        lua.create_function(|_, (s, p): (String, String)| Ok(s.strip_prefix(&p).unwrap_or(&s).to_owned()))?,
    )?;
    t.raw_set(
        "trim_suffix",
        lua.create_function(|_, (s, p): (String, String)| Ok(s.strip_suffix(&p).unwrap_or(&s).to_owned()))?,
    )?;
    t.raw_set(
        "fields",
        lua.create_function(|lua, s: String| lua.create_sequence_from(s.split_whitespace()))?,
    )?;
    Ok(t)
}

fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

pub(super) fn regexp(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "match",
        lua.create_function(|lua, (pattern, s): (String, String)| match compile(&pattern) {
            Ok(re) => Ok((Value::Boolean(re.is_match(&s)), Value::Nil)),
            Err(e) => nil_err(lua, e),
        })?,
    )?;
    t.raw_set(
        "find_all_string_submatch",
        lua.create_function(|lua, (pattern, s, _n): (String, String, MultiValue)| {
            let re = match compile(&pattern) {
                Ok(re) => re,
                Err(e) => return nil_err(lua, e),
            };
            let out = lua.create_table()?;
            for (i, caps) in re.captures_iter(&s).enumerate() {
                let groups: Vec<String> = caps
                    .iter()
                    .map(|m| m.map(|m| m.as_str().to_owned()).unwrap_or_default())
                    .collect();
                out.raw_set(i + 1, lua.create_sequence_from(groups)?)?;
            }
            Ok((Value::Table(out), Value::Nil))
        })?,
    )?;
    t.raw_set(
        "replace_all",
        lua.create_function(
            |lua, (pattern, s, with): (String, String, String)| match compile(&pattern) {
                Ok(re) => Ok((
                    Value::String(lua.create_string(re.replace_all(&s, with.as_str()).as_bytes())?),
                    Value::Nil,
                )),
                Err(e) => nil_err(lua, e),
            },
        )?,
    )?;
    Ok(t)
}
