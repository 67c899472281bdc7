//! `nauthilus_dns.resolve(name[, type = "A"])` on the `server.dns` resolver (hickory):
//! A/AAAA → `{ips}`, MX → `{{host, pref}}`, NS/TXT/PTR → `{strings}`, CNAME → string; errors
//! `(nil, message)`. Names come back absolute, with their trailing dot, as Go returns them.

use std::sync::Arc;

use mlua::{Lua, Table, Value};
use nauthilus_core::features::DnsRecord;

use super::nil_err;
use crate::Shared;

pub(super) fn module(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let shared = shared.clone();
    t.raw_set(
        "resolve",
        lua.create_async_function(move |lua, (name, rtype): (String, Option<String>)| {
            let shared = shared.clone();
            async move {
                let rtype = rtype.unwrap_or_else(|| "A".into()).to_ascii_uppercase();
                let dns = match &shared.dns {
                    Ok(dns) => dns.clone(),
                    Err(e) => return nil_err(&lua, e),
                };
                let records = match dns.lookup(&name, &rtype).await {
                    Ok(r) => r,
                    Err(e) => return nil_err(&lua, format!("lookup {name} {rtype}: {e}")),
                };
                if rtype == "CNAME" {
                    let first = records.into_iter().find_map(|r| match r {
                        DnsRecord::Name(n) => Some(n),
                        _ => None,
                    });
                    return match first {
                        Some(n) => Ok((Value::String(lua.create_string(n)?), Value::Nil)),
                        None => nil_err(&lua, format!("lookup {name} CNAME: no such record")),
                    };
                }
                let out = lua.create_table()?;
                for r in records {
                    match r {
                        DnsRecord::Addr(ip) => out.raw_push(ip.to_string())?,
                        DnsRecord::Name(n) | DnsRecord::Text(n) => out.raw_push(n)?,
                        DnsRecord::Mx { host, preference } => {
                            let mx = lua.create_table()?;
                            mx.raw_set("host", host)?;
                            mx.raw_set("pref", f64::from(preference))?;
                            out.raw_push(mx)?;
                        }
                    }
                }
                Ok((Value::Table(out), Value::Nil))
            }
        })?,
    )?;
    Ok(t)
}
