//! `nauthilus_ldap`: searches and modifications through the server's own LDAP pools (the
//! lookup connections of `ldap.config` = `default`, or `ldap.optional_ldap_pools.<name>`).
//! Only pools of LDAP backends listed in `server.backends` exist, as in Nauthilus.
//!
//! - `ldap_search({pool_name, session, basedn, filter, scope = sub|one|base, attributes,
//!   raw_result})` → `({attr = {values…}}, nil)` (attributes of all entries merged) or with
//!   `raw_result` `({{dn, attributes = {…}}…}, nil)`;
//! - `ldap_modify({pool_name, session, dn, operation = add|delete|replace, attributes})` →
//!   `("OK", nil)`;
//! - `ldap_endpoint([pool])` → `(host, port, nil)` or `(nil, nil, err)`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use ldap3::{Mod, Scope, SearchEntry};
use mlua::{Lua, Table, Value};
use nauthilus_backends::ldap::LdapPool;

use super::nil_err;
use crate::Shared;

fn pool(shared: &Shared, t: &Table) -> mlua::Result<Result<Arc<LdapPool>, String>> {
    let name: Option<String> = t.get("pool_name")?;
    let name = name.filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
    Ok(shared
        .ldap
        .get(&name)
        .cloned()
        .ok_or_else(|| format!("ldap pool not active: {name}")))
}

fn string_list(v: Value) -> mlua::Result<Vec<String>> {
    Ok(match v {
        Value::Nil => Vec::new(),
        Value::Table(t) => t
            .sequence_values::<Value>()
            .map(|v| v.map(|v| crate::value::scalar_string(&v).unwrap_or_default()))
            .collect::<mlua::Result<_>>()?,
        other => vec![crate::value::scalar_string(&other).unwrap_or_default()],
    })
}

async fn search(lua: Lua, shared: Arc<Shared>, t: Table) -> mlua::Result<(Value, Value)> {
    let pool = match pool(&shared, &t)? {
        Ok(p) => p,
        Err(e) => return nil_err(&lua, e),
    };
    let base: String = t.get::<Option<String>>("basedn")?.unwrap_or_default();
    let filter: String = t
        .get::<Option<String>>("filter")?
        .unwrap_or_else(|| "(objectClass=*)".into());
    let scope = match t
        .get::<Option<String>>("scope")?
        .as_deref()
        .map(str::to_ascii_lowercase)
    {
        None => Scope::Subtree,
        Some(s) => match s.as_str() {
            "sub" | "subtree" | "" => Scope::Subtree,
            "one" | "onelevel" | "single" => Scope::OneLevel,
            "base" => Scope::Base,
            other => return nil_err(&lua, format!("ldap_search: unknown scope {other:?}")),
        },
    };
    let mut attributes = string_list(t.get("attributes")?)?;
    if attributes.is_empty() {
        attributes.push("*".into());
    }
    let raw: bool = t.get::<Option<bool>>("raw_result")?.unwrap_or(false);
    let timeout = pool.settings().search_timeout;
    let mut conn = match pool.lookup().await {
        Ok(c) => c,
        Err(e) => return nil_err(&lua, e.to_string()),
    };
    let result = conn
        .ldap()
        .with_timeout(timeout)
        .search(&base, scope, &filter, attributes)
        .await;
    let (entries, outcome) = match result {
        Ok(ldap3::SearchResult(entries, outcome)) => {
            conn.release();
            (entries, outcome)
        }
        Err(e) => {
            pool.discard_idle();
            return nil_err(&lua, format!("ldap_search: {e}"));
        }
    };
    // 32 = noSuchObject: an empty result, not an error (as a search finding nothing).
    if outcome.rc != 0 && outcome.rc != 32 {
        return nil_err(
            &lua,
            format!("ldap_search: server answered {} {}", outcome.rc, outcome.text),
        );
    }
    let entries: Vec<SearchEntry> = entries.into_iter().map(SearchEntry::construct).collect();
    let out = lua.create_table()?;
    if raw {
        for e in entries {
            let entry = lua.create_table()?;
            entry.raw_set("dn", e.dn.as_str())?;
            entry.raw_set("attributes", attrs(&lua, e.attrs.into_iter().collect())?)?;
            out.raw_push(entry)?;
        }
    } else {
        let mut merged: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in entries {
            merged.entry("dn".into()).or_default().push(e.dn);
            for (k, v) in e.attrs {
                merged.entry(k).or_default().extend(v);
            }
        }
        return Ok((Value::Table(attrs(&lua, merged)?), Value::Nil));
    }
    Ok((Value::Table(out), Value::Nil))
}

fn attrs(lua: &Lua, map: BTreeMap<String, Vec<String>>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (k, v) in map {
        t.raw_set(k, lua.create_sequence_from(v)?)?;
    }
    Ok(t)
}

async fn modify(lua: Lua, shared: Arc<Shared>, t: Table) -> mlua::Result<(Value, Value)> {
    let pool = match pool(&shared, &t)? {
        Ok(p) => p,
        Err(e) => return nil_err(&lua, e),
    };
    let dn: String = t.get::<Option<String>>("dn")?.unwrap_or_default();
    if dn.is_empty() {
        return nil_err(&lua, "ldap_modify: dn is required");
    }
    let operation: String = t.get::<Option<String>>("operation")?.unwrap_or_default();
    let attributes: Option<Table> = t.get("attributes")?;
    let mut mods = Vec::new();
    if let Some(attributes) = attributes {
        for pair in attributes.pairs::<String, Value>() {
            let (name, values) = pair?;
            let values: HashSet<String> = string_list(values)?.into_iter().collect();
            mods.push(match operation.to_ascii_lowercase().as_str() {
                "add" => Mod::Add(name, values),
                "delete" => Mod::Delete(name, values),
                "replace" => Mod::Replace(name, values),
                other => {
                    return nil_err(
                        &lua,
                        format!("ldap_modify: unknown operation {other:?} (add, delete, replace)"),
                    );
                }
            });
        }
    }
    if mods.is_empty() {
        return nil_err(&lua, "ldap_modify: no attributes given");
    }
    let timeout = pool.settings().search_timeout;
    let mut conn = match pool.lookup().await {
        Ok(c) => c,
        Err(e) => return nil_err(&lua, e.to_string()),
    };
    match conn.ldap().with_timeout(timeout).modify(&dn, mods).await {
        Ok(result) => {
            conn.release();
            if result.rc == 0 {
                Ok((Value::String(lua.create_string("OK")?), Value::Nil))
            } else {
                nil_err(
                    &lua,
                    format!("ldap_modify: server answered {} {}", result.rc, result.text),
                )
            }
        }
        Err(e) => {
            pool.discard_idle();
            nil_err(&lua, format!("ldap_modify: {e}"))
        }
    }
}

/// Host and port of a server URL (`ldap://h:389`, `ldaps://h`, `ldapi://…` has none).
fn endpoint(url: &str) -> Result<(String, u16), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("invalid LDAP server_uri: {url}"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let default = if scheme.eq_ignore_ascii_case("ldaps") {
        636
    } else {
        389
    };
    let bad = || format!("invalid LDAP server_uri: {url}");
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, tail) = v6.split_once(']').ok_or_else(bad)?;
            match tail.strip_prefix(':') {
                Some(p) => (host, p.parse().map_err(|_| bad())?),
                None => (host, default),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
            None => (authority, default),
        },
    };
    if host.is_empty() {
        return Err(format!("invalid LDAP server_uri: {url}"));
    }
    Ok((host.to_owned(), port))
}

pub(super) fn module(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let sh = shared.clone();
    t.raw_set(
        "ldap_search",
        lua.create_async_function(move |lua, t: Table| search(lua, sh.clone(), t))?,
    )?;
    let sh = shared.clone();
    t.raw_set(
        "ldap_modify",
        lua.create_async_function(move |lua, t: Table| modify(lua, sh.clone(), t))?,
    )?;
    let sh = shared.clone();
    t.raw_set(
        "ldap_endpoint",
        lua.create_function(move |lua, name: Option<String>| {
            let name = name.filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
            let err = |m: String| -> mlua::Result<(Value, Value, Value)> {
                Ok((Value::Nil, Value::Nil, Value::String(lua.create_string(m)?)))
            };
            let Some(pool) = sh.ldap.get(&name) else {
                return err(format!("ldap pool not active: {name}"));
            };
            let Some(url) = pool.settings().servers.first() else {
                return err(format!("no LDAP server_uri configured for pool: {name}"));
            };
            match endpoint(url) {
                Ok((host, port)) => Ok((
                    Value::String(lua.create_string(host)?),
                    Value::Number(f64::from(port)),
                    Value::Nil,
                )),
                Err(e) => err(e),
            }
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn endpoints_default_the_port_by_scheme() {
        assert_eq!(
            endpoint("ldap://dir.example.test").unwrap(),
            ("dir.example.test".into(), 389)
        );
        assert_eq!(
            endpoint("ldaps://dir.example.test/").unwrap(),
            ("dir.example.test".into(), 636)
        );
        assert_eq!(
            endpoint("ldap://127.0.0.1:3389").unwrap(),
            ("127.0.0.1".into(), 3389)
        );
        assert_eq!(endpoint("ldap://[::1]:3389").unwrap(), ("::1".into(), 3389));
        assert_eq!(endpoint("ldaps://[::1]").unwrap(), ("::1".into(), 636));
        assert!(endpoint("dir.example.test").is_err());
    }
}
