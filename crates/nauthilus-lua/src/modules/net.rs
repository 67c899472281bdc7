//! Network modules: `tcp` (gopher-lua-libs: `tcp.open("host:port")` → conn with `:write`,
//! `:read([max])`, `:close`) and `nauthilus_psnet` (connection targets whose established TCP
//! connections are counted from the kernel's socket table, `/proc/net/tcp{,6}`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::nil_err;

/// Longest wait to connect (the call's own time limit still applies to reads and writes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest single `read`.
const MAX_READ: usize = 1 << 20;

struct Conn(Arc<tokio::sync::Mutex<Option<TcpStream>>>);

fn err_value(lua: &Lua, e: impl std::fmt::Display) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(e.to_string())?))
}

impl UserData for Conn {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_async_method("write", |lua, this, data: mlua::String| {
            let conn = this.0.clone();
            let data = data.as_bytes().to_vec();
            async move {
                let mut guard = conn.lock().await;
                let Some(stream) = guard.as_mut() else {
                    return err_value(&lua, "tcp: connection closed");
                };
                match stream.write_all(&data).await {
                    Ok(()) => Ok(Value::Nil),
                    Err(e) => err_value(&lua, format!("tcp: {e}")),
                }
            }
        });
        methods.add_async_method("read", |lua, this, max: Option<f64>| {
            let conn = this.0.clone();
            async move {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let max = max
                    .filter(|m| m.is_finite() && *m >= 1.0)
                    .map_or(4096, |m| (m as usize).min(MAX_READ));
                let mut guard = conn.lock().await;
                let Some(stream) = guard.as_mut() else {
                    return nil_err(&lua, "tcp: connection closed");
                };
                let mut buf = vec![0u8; max];
                match stream.read(&mut buf).await {
                    Ok(n) => Ok((Value::String(lua.create_string(&buf[..n])?), Value::Nil)),
                    Err(e) => nil_err(&lua, format!("tcp: {e}")),
                }
            }
        });
        methods.add_async_method("close", |_, this, ()| {
            let conn = this.0.clone();
            async move {
                if let Some(mut s) = conn.lock().await.take() {
                    let _ = s.shutdown().await;
                }
                Ok(Value::Nil)
            }
        });
    }
}

pub(super) fn tcp(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "open",
        lua.create_async_function(|lua, address: String| async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address.as_str())).await {
                Ok(Ok(stream)) => {
                    let conn = Conn(Arc::new(tokio::sync::Mutex::new(Some(stream))));
                    Ok((Value::UserData(lua.create_userdata(conn)?), Value::Nil))
                }
                Ok(Err(e)) => nil_err(&lua, format!("tcp: {address}: {e}")),
                Err(_) => nil_err(
                    &lua,
                    format!("tcp: {address}: no connection within {CONNECT_TIMEOUT:?}"),
                ),
            }
        })?,
    )?;
    Ok(t)
}

/// A registered target: which end of a connection it is, and its description.
#[derive(Clone)]
struct Target {
    remote: bool,
    #[allow(dead_code)]
    description: String,
}

fn targets() -> &'static Mutex<HashMap<String, Target>> {
    static T: OnceLock<Mutex<HashMap<String, Target>>> = OnceLock::new();
    T.get_or_init(Mutex::default)
}

pub(super) fn psnet(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "register_connection_target",
        lua.create_function(
            |_, (target, direction, description): (String, Option<String>, Option<String>)| {
                let remote = !direction.is_some_and(|d| d.eq_ignore_ascii_case("local"));
                targets().lock().unwrap_or_else(|e| e.into_inner()).insert(
                    target,
                    Target {
                        remote,
                        description: description.unwrap_or_default(),
                    },
                );
                Ok(())
            },
        )?,
    )?;
    t.raw_set(
        "get_connection_target",
        lua.create_async_function(|lua, target: String| async move {
            let found = targets()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&target)
                .cloned();
            let Some(found) = found else {
                return nil_err(&lua, "Target not registered");
            };
            let addrs: Vec<SocketAddr> = match tokio::net::lookup_host(target.as_str()).await {
                Ok(a) => a.collect(),
                Err(e) => return nil_err(&lua, format!("{target}: {e}")),
            };
            let count = established()
                .iter()
                .filter(|(local, remote)| addrs.contains(if found.remote { remote } else { local }))
                .count();
            #[allow(clippy::cast_precision_loss)]
            Ok((Value::Number(count as f64), Value::Nil))
        })?,
    )?;
    Ok(t)
}

/// Established TCP connections (local, remote) of this network namespace.
fn established() -> Vec<(SocketAddr, SocketAddr)> {
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            out.extend(text.lines().skip(1).filter_map(parse_line));
        }
    }
    out
}

/// One line of `/proc/net/tcp{,6}` if its state is ESTABLISHED (01).
fn parse_line(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let mut cols = line.split_whitespace().skip(1);
    let local = cols.next()?;
    let remote = cols.next()?;
    (cols.next()? == "01").then_some(())?;
    Some((parse_addr(local)?, parse_addr(remote)?))
}

/// `0100007F:1F90` (IPv4, little-endian words) or 32 hex digits for IPv6.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_le_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(b);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_socket_lines_parse() {
        let line =
            "   0: 0100007F:1F90 0200007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 1 1";
        let (l, r) = parse_line(line).unwrap();
        assert_eq!(l, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(r, "127.0.0.2:50000".parse().unwrap());
        let listen = "   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1";
        assert!(parse_line(listen).is_none());
        let v6 = parse_addr("0000000000000000FFFF00000100007F:0050").unwrap();
        assert_eq!(v6, "127.0.0.1:80".parse().unwrap());
        let loop6 = parse_addr("00000000000000000000000001000000:0050").unwrap();
        assert_eq!(loop6, "[::1]:80".parse().unwrap());
    }
}
