//! `nauthilus_redis` on the server's own Redis (`server.redis`: standalone, Sentinel or
//! Cluster, through the store's pool). Missing keys read as `(nil, "redis: nil")`; uploaded
//! scripts go into a process-wide name → SHA registry used by `redis_run_script`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use mlua::{Lua, MultiValue, Table, Value};
use nauthilus_store::Store;
use redis::Value as RV;

use super::nil_err;
use super::redis_pools::{self, store_for};
use crate::Shared;
use crate::value::number_string;

/// Names uploaded with `redis_upload_script`: name → (sha, source).
fn scripts() -> &'static Mutex<HashMap<String, (String, String)>> {
    static S: OnceLock<Mutex<HashMap<String, (String, String)>>> = OnceLock::new();
    S.get_or_init(Mutex::default)
}

/// How a command's reply is handed to Lua.
#[derive(Clone, Copy)]
enum Shape {
    Plain,
    Bool,
    /// A flat field/value array as a map (HGETALL).
    Pairs,
    /// Values keyed by the requested names (HMGET: fields after the key; MGET: the keys).
    ByArgs {
        skip: usize,
    },
    Number,
}

/// A Lua argument as go-redis formats it: integral numbers without `.0`, booleans 1/0, nil "".
fn arg_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Nil => Some(Vec::new()),
        Value::Boolean(b) => Some(if *b { b"1".to_vec() } else { b"0".to_vec() }),
        Value::Integer(i) => Some(i.to_string().into_bytes()),
        Value::Number(n) => Some(number_string(*n).into_bytes()),
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// Arguments flattened: lists are expanded; maps become name, value pairs.
fn flatten(args: &[Value], out: &mut Vec<Vec<u8>>) -> mlua::Result<()> {
    for a in args {
        match a {
            Value::Table(t) => {
                if crate::value::is_array(t)?.is_some() {
                    for v in t.clone().sequence_values::<Value>() {
                        let v = v?;
                        out.push(
                            arg_bytes(&v)
                                .ok_or_else(|| mlua::Error::runtime("redis: unsupported argument"))?,
                        );
                    }
                } else {
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (k, v) = pair?;
                        out.push(
                            arg_bytes(&k)
                                .ok_or_else(|| mlua::Error::runtime("redis: unsupported argument"))?,
                        );
                        out.push(
                            arg_bytes(&v)
                                .ok_or_else(|| mlua::Error::runtime("redis: unsupported argument"))?,
                        );
                    }
                }
            }
            other => {
                out.push(arg_bytes(other).ok_or_else(|| mlua::Error::runtime("redis: unsupported argument"))?)
            }
        }
    }
    Ok(())
}

/// A reply as a Lua value (nil stays nil).
fn to_lua(lua: &Lua, v: &RV) -> mlua::Result<Value> {
    Ok(match v {
        RV::Nil => Value::Nil,
        RV::Int(i) => Value::Number(format!("{i}").parse::<f64>().unwrap_or_default()),
        RV::BulkString(b) => Value::String(lua.create_string(b)?),
        RV::SimpleString(s) => Value::String(lua.create_string(s)?),
        RV::Okay => Value::String(lua.create_string("OK")?),
        RV::Double(d) => Value::Number(*d),
        RV::Boolean(b) => Value::Boolean(*b),
        RV::Array(items) | RV::Set(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        RV::Map(pairs) => {
            let t = lua.create_table()?;
            for (k, v) in pairs {
                t.raw_set(to_lua(lua, k)?, to_lua(lua, v)?)?;
            }
            Value::Table(t)
        }
        RV::VerbatimString { text, .. } => Value::String(lua.create_string(text)?),
        RV::ServerError(e) => return Err(mlua::Error::runtime(format!("redis: {e:?}"))),
        _ => Value::Nil,
    })
}

fn shape_reply(lua: &Lua, shape: Shape, args: &[Vec<u8>], reply: &RV) -> mlua::Result<Value> {
    Ok(match shape {
        Shape::Plain => to_lua(lua, reply)?,
        Shape::Bool => Value::Boolean(match reply {
            RV::Int(i) => *i != 0,
            RV::Boolean(b) => *b,
            RV::Okay => true,
            _ => false,
        }),
        Shape::Number => match to_lua(lua, reply)? {
            Value::String(s) => s
                .to_str()
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .map_or(Value::Nil, Value::Number),
            other => other,
        },
        Shape::Pairs => {
            let t = lua.create_table()?;
            match reply {
                RV::Array(items) => {
                    for pair in items.chunks(2) {
                        if let [k, v] = pair {
                            t.raw_set(to_lua(lua, k)?, to_lua(lua, v)?)?;
                        }
                    }
                }
                RV::Map(pairs) => {
                    for (k, v) in pairs {
                        t.raw_set(to_lua(lua, k)?, to_lua(lua, v)?)?;
                    }
                }
                _ => {}
            }
            Value::Table(t)
        }
        Shape::ByArgs { skip } => {
            let t = lua.create_table()?;
            if let RV::Array(items) = reply {
                for (name, v) in args.iter().skip(skip).zip(items) {
                    t.raw_set(lua.create_string(name)?, to_lua(lua, v)?)?;
                }
            }
            Value::Table(t)
        }
    })
}

async fn send(store: &Store, name: &str, args: &[Vec<u8>]) -> Result<RV, String> {
    let mut cmd = redis::cmd(name);
    for a in args {
        cmd.arg(&a[..]);
    }
    store.raw(&cmd).await.map_err(|e| e.to_string())
}

/// `(value, nil)`, `(nil, "redis: nil")` for a missing value, `(nil, err)` on failure.
fn reply(
    lua: &Lua,
    shape: Shape,
    args: &[Vec<u8>],
    result: Result<RV, String>,
) -> mlua::Result<(Value, Value)> {
    match result {
        Ok(RV::Nil) if !matches!(shape, Shape::Bool) => nil_err(lua, "redis: nil"),
        Ok(v) => Ok((shape_reply(lua, shape, args, &v)?, Value::Nil)),
        Err(e) => nil_err(lua, e),
    }
}

/// Lua names of plain commands: (function, command, shape).
const COMMANDS: &[(&str, &str, Shape)] = &[
    ("redis_incr", "INCR", Shape::Plain),
    ("redis_del", "DEL", Shape::Plain),
    ("redis_rename", "RENAME", Shape::Plain),
    ("redis_expire", "EXPIRE", Shape::Bool),
    ("redis_exists", "EXISTS", Shape::Plain),
    ("redis_mset", "MSET", Shape::Plain),
    ("redis_keys", "KEYS", Shape::Plain),
    ("redis_hget", "HGET", Shape::Plain),
    ("redis_hset", "HSET", Shape::Plain),
    ("redis_hdel", "HDEL", Shape::Plain),
    ("redis_hlen", "HLEN", Shape::Plain),
    ("redis_hgetall", "HGETALL", Shape::Pairs),
    ("redis_hmget", "HMGET", Shape::ByArgs { skip: 1 }),
    ("redis_mget", "MGET", Shape::ByArgs { skip: 0 }),
    ("redis_hincrby", "HINCRBY", Shape::Plain),
    ("redis_hincrbyfloat", "HINCRBYFLOAT", Shape::Number),
    ("redis_hexists", "HEXISTS", Shape::Bool),
    ("redis_sadd", "SADD", Shape::Plain),
    ("redis_sismember", "SISMEMBER", Shape::Bool),
    ("redis_smembers", "SMEMBERS", Shape::Plain),
    ("redis_srem", "SREM", Shape::Plain),
    ("redis_scard", "SCARD", Shape::Plain),
    ("redis_zrem", "ZREM", Shape::Plain),
    ("redis_zrank", "ZRANK", Shape::Plain),
    ("redis_zrevrank", "ZREVRANK", Shape::Plain),
    ("redis_zrange", "ZRANGE", Shape::Plain),
    ("redis_zrevrange", "ZREVRANGE", Shape::Plain),
    ("redis_zremrangebyscore", "ZREMRANGEBYSCORE", Shape::Plain),
    ("redis_zremrangebyrank", "ZREMRANGEBYRANK", Shape::Plain),
    ("redis_zcount", "ZCOUNT", Shape::Plain),
    ("redis_zscore", "ZSCORE", Shape::Number),
    ("redis_zincrby", "ZINCRBY", Shape::Number),
    ("redis_lpush", "LPUSH", Shape::Plain),
    ("redis_rpush", "RPUSH", Shape::Plain),
    ("redis_lpop", "LPOP", Shape::Plain),
    ("redis_rpop", "RPOP", Shape::Plain),
    ("redis_lrange", "LRANGE", Shape::Plain),
    ("redis_llen", "LLEN", Shape::Plain),
    ("redis_pfadd", "PFADD", Shape::Plain),
    ("redis_pfcount", "PFCOUNT", Shape::Plain),
    ("redis_pfmerge", "PFMERGE", Shape::Plain),
];

/// The arguments after the connection (argument 1 is `"default"` or a connection handle).
fn command_args(args: &MultiValue) -> mlua::Result<Vec<Vec<u8>>> {
    let rest: Vec<Value> = args.iter().skip(1).cloned().collect();
    let mut out = Vec::new();
    flatten(&rest, &mut out)?;
    Ok(out)
}

/// `zadd(c, k, {member = score})` or `zadd(c, k, score, member, ...)`.
fn zadd_args(args: &MultiValue) -> mlua::Result<Vec<Vec<u8>>> {
    let key = args.get(1).and_then(arg_bytes).unwrap_or_default();
    let mut out = vec![key];
    match args.get(2) {
        Some(Value::Table(t)) if crate::value::is_array(t)?.is_none() => {
            for pair in t.clone().pairs::<Value, Value>() {
                let (member, score) = pair?;
                out.push(arg_bytes(&score).unwrap_or_default());
                out.push(arg_bytes(&member).unwrap_or_default());
            }
        }
        _ => {
            let rest: Vec<Value> = args.iter().skip(2).cloned().collect();
            flatten(&rest, &mut out)?;
        }
    }
    Ok(out)
}

/// `redis_set(c, k, v[, ttl | {nx, xx, get, keepttl, ex, px, exat, pxat}])`.
fn set_args(args: &MultiValue) -> mlua::Result<(Vec<Vec<u8>>, bool)> {
    let mut out = vec![
        args.get(1).and_then(arg_bytes).unwrap_or_default(),
        args.get(2).and_then(arg_bytes).unwrap_or_default(),
    ];
    let mut conditional = false;
    match args.get(3) {
        Some(Value::Table(opts)) => {
            for flag in ["nx", "xx", "get", "keepttl"] {
                if opts.get::<Option<bool>>(flag)?.unwrap_or(false) {
                    out.push(flag.to_ascii_uppercase().into_bytes());
                    conditional |= flag == "nx" || flag == "xx";
                }
            }
            for opt in ["ex", "px", "exat", "pxat"] {
                if let Some(n) = opts.get::<Option<f64>>(opt)?
                    && n > 0.0
                {
                    out.push(opt.to_ascii_uppercase().into_bytes());
                    out.push(number_string(n.trunc()).into_bytes());
                }
            }
        }
        Some(Value::Number(n)) if *n > 0.0 => {
            out.push(b"EX".to_vec());
            out.push(number_string(n.trunc()).into_bytes());
        }
        Some(Value::Integer(n)) if *n > 0 => {
            out.push(b"EX".to_vec());
            out.push(n.to_string().into_bytes());
        }
        _ => {}
    }
    Ok((out, conditional))
}

/// `EVALSHA` of a registered script, falling back to `EVAL` when Redis lost it.
async fn run_script(
    store: &Store,
    src: &str,
    name: &str,
    keys: Vec<Vec<u8>>,
    argv: Vec<Vec<u8>>,
) -> Result<RV, String> {
    let registered = if src.is_empty() {
        let known = scripts()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned();
        Some(known.ok_or_else(|| format!("redis: no script uploaded as {name:?}"))?)
    } else {
        None
    };
    let build = |cmd: &str, first: &[u8]| {
        let mut c = redis::cmd(cmd);
        c.arg(first).arg(keys.len());
        for k in &keys {
            c.arg(&k[..]);
        }
        for a in &argv {
            c.arg(&a[..]);
        }
        c
    };
    match registered {
        None => store
            .raw(&build("EVAL", src.as_bytes()))
            .await
            .map_err(|e| e.to_string()),
        Some((sha, source)) => match store.raw(&build("EVALSHA", sha.as_bytes())).await {
            Err(e) if e.to_string().contains("NOSCRIPT") => store
                .raw(&build("EVAL", source.as_bytes()))
                .await
                .map_err(|e| e.to_string()),
            other => other.map_err(|e| e.to_string()),
        },
    }
}

fn list_arg(v: Option<&Value>) -> mlua::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    if let Some(v) = v
        && !v.is_nil()
    {
        flatten(std::slice::from_ref(v), &mut out)?;
    }
    Ok(out)
}

pub(super) fn module(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (fname, cmd, shape) in COMMANDS {
        let shared = shared.clone();
        let (cmd, shape) = (*cmd, *shape);
        t.raw_set(
            *fname,
            lua.create_async_function(move |lua, args: MultiValue| {
                let shared = shared.clone();
                async move {
                    let a = command_args(&args)?;
                    let result = send(&store_for(&shared, args.front()), cmd, &a).await;
                    reply(&lua, shape, &a, result)
                }
            })?,
        )?;
    }
    let s = shared.clone();
    t.raw_set(
        "redis_ping",
        lua.create_async_function(move |lua, args: MultiValue| {
            let s = s.clone();
            async move {
                let store = store_for(&s, args.front());
                reply(&lua, Shape::Plain, &[], send(&store, "PING", &[]).await)
            }
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "redis_get",
        lua.create_async_function(move |lua, args: MultiValue| {
            let s = s.clone();
            async move {
                let key = vec![args.get(1).and_then(arg_bytes).unwrap_or_default()];
                let want = args.get(2).and_then(crate::value::scalar_string);
                match send(&store_for(&s, args.front()), "GET", &key).await {
                    Ok(RV::BulkString(b)) => {
                        let text = String::from_utf8_lossy(&b).into_owned();
                        let v = match want.as_deref() {
                            Some("number") => text.trim().parse::<f64>().map_or(Value::Nil, Value::Number),
                            Some("bool") => {
                                Value::Boolean(matches!(text.as_str(), "1" | "true" | "TRUE" | "True"))
                            }
                            _ => Value::String(lua.create_string(&b)?),
                        };
                        Ok((v, Value::Nil))
                    }
                    other => reply(&lua, Shape::Plain, &key, other),
                }
            }
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "redis_set",
        lua.create_async_function(move |lua, args: MultiValue| {
            let s = s.clone();
            async move {
                let (a, conditional) = set_args(&args)?;
                match send(&store_for(&s, args.front()), "SET", &a).await {
                    // SET NX/XX that did not set: (nil, nil).
                    Ok(RV::Nil) if conditional => Ok((Value::Nil, Value::Nil)),
                    other => reply(&lua, Shape::Plain, &a, other),
                }
            }
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "redis_zadd",
        lua.create_async_function(move |lua, args: MultiValue| {
            let s = s.clone();
            async move {
                let a = zadd_args(&args)?;
                let r = send(&store_for(&s, args.front()), "ZADD", &a).await;
                reply(&lua, Shape::Plain, &a, r)
            }
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "redis_zrangebyscore",
        lua.create_async_function(move |lua, args: MultiValue| {
            let s = s.clone();
            async move {
                let mut a = command_args(&args)?;
                if a.len() >= 5 {
                    a.insert(3, b"LIMIT".to_vec());
                    a.truncate(6);
                }
                let r = send(&store_for(&s, args.front()), "ZRANGEBYSCORE", &a).await;
                reply(&lua, Shape::Plain, &a, r)
            }
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "redis_scan",
        lua.create_async_function(move |lua, args: MultiValue| {
            let s = s.clone();
            async move {
                let mut a = vec![args.get(1).and_then(arg_bytes).unwrap_or_else(|| b"0".to_vec())];
                if let Some(m) = args.get(2).and_then(arg_bytes).filter(|m| !m.is_empty()) {
                    a.push(b"MATCH".to_vec());
                    a.push(m);
                }
                if let Some(c) = args.get(3).and_then(arg_bytes).filter(|c| !c.is_empty()) {
                    a.push(b"COUNT".to_vec());
                    a.push(c);
                }
                match send(&store_for(&s, args.front()), "SCAN", &a).await {
                    Ok(RV::Array(parts)) if parts.len() == 2 => {
                        let out = lua.create_table()?;
                        let cursor = match to_lua(&lua, &parts[0])? {
                            Value::String(s) => s
                                .to_str()
                                .ok()
                                .and_then(|s| s.parse::<f64>().ok())
                                .unwrap_or_default(),
                            Value::Number(n) => n,
                            _ => 0.0,
                        };
                        out.raw_set("cursor", cursor)?;
                        out.raw_set("keys", to_lua(&lua, &parts[1])?)?;
                        Ok((Value::Table(out), Value::Nil))
                    }
                    other => reply(&lua, Shape::Plain, &a, other),
                }
            }
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "redis_upload_script",
        lua.create_async_function(move |lua, (c, src, name): (Value, String, String)| {
            let s = s.clone();
            async move {
                let mut cmd = redis::cmd("SCRIPT");
                cmd.arg("LOAD").arg(&src);
                match store_for(&s, Some(&c)).raw(&cmd).await {
                    Ok(v) => {
                        let sha = match &v {
                            RV::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                            RV::SimpleString(s) => s.clone(),
                            _ => return nil_err(&lua, "redis: unexpected SCRIPT LOAD reply"),
                        };
                        scripts()
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(name, (sha.clone(), src));
                        Ok((Value::String(lua.create_string(sha)?), Value::Nil))
                    }
                    Err(e) => nil_err(&lua, e.to_string()),
                }
            }
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "redis_run_script",
        lua.create_async_function(move |lua, args: MultiValue| {
            let s = s.clone();
            async move {
                let src = args
                    .get(1)
                    .and_then(crate::value::scalar_string)
                    .unwrap_or_default();
                let name = args
                    .get(2)
                    .and_then(crate::value::scalar_string)
                    .unwrap_or_default();
                let keys = list_arg(args.get(3))?;
                let rest: Vec<Value> = args.iter().skip(4).cloned().collect();
                let mut argv = Vec::new();
                flatten(&rest, &mut argv)?;
                let r = run_script(&store_for(&s, args.front()), &src, &name, keys, argv).await;
                reply(&lua, Shape::Plain, &[], r)
            }
        })?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "redis_pipeline",
        lua.create_async_function(move |lua, (c, _mode, cmds): (Value, Value, Table)| {
            let s = s.clone();
            async move { pipeline(&lua, &store_for(&s, Some(&c)), cmds).await }
        })?,
    )?;
    t.raw_set(
        "get_redis_connection",
        lua.create_function(|lua, name: Option<String>| {
            let name = name.filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
            if redis_pools::known(&name) {
                Ok((Value::String(lua.create_string(name)?), Value::Nil))
            } else {
                nil_err(lua, format!("redis pool {name:?} is not registered"))
            }
        })?,
    )?;
    t.raw_set("register_redis_pool", redis_pools::register(lua)?)?;
    Ok(t)
}

/// `redis_pipeline(c, mode, {{cmd, ...}, ...})` → `{{ok, value, err}, ...}`, one round trip.
async fn pipeline(lua: &Lua, store: &Store, cmds: Table) -> mlua::Result<(Value, Value)> {
    let mut entries: Vec<(String, Vec<Vec<u8>>, Shape)> = Vec::new();
    let mut scripted = Vec::new();
    for (i, entry) in cmds.sequence_values::<Table>().enumerate() {
        let entry = entry?;
        let name = entry.get::<String>(1)?.to_ascii_lowercase();
        let values: Vec<Value> = entry
            .sequence_values::<Value>()
            .skip(1)
            .collect::<mlua::Result<_>>()?;
        if name == "run_script" {
            scripted.push(i);
            entries.push((name, Vec::new(), Shape::Plain));
            continue;
        }
        let mut a = Vec::new();
        flatten(&values, &mut a)?;
        let shape = match name.as_str() {
            "hgetall" => Shape::Pairs,
            "expire" | "hexists" | "sismember" => Shape::Bool,
            "zscore" | "zincrby" | "hincrbyfloat" => Shape::Number,
            "mget" => Shape::ByArgs { skip: 0 },
            _ => Shape::Plain,
        };
        entries.push((name, a, shape));
    }
    let out = lua.create_table()?;
    let push = |i: usize, result: Result<RV, String>, args: &[Vec<u8>], shape: Shape| -> mlua::Result<()> {
        let r = lua.create_table()?;
        match result {
            Ok(v) => {
                r.raw_set("ok", true)?;
                if !matches!(v, RV::Nil) {
                    r.raw_set("value", shape_reply(lua, shape, args, &v)?)?;
                }
            }
            Err(e) => {
                r.raw_set("ok", false)?;
                r.raw_set("err", e)?;
            }
        }
        out.raw_set(i + 1, r)
    };
    let mut pipe = redis::pipe();
    for (name, a, _) in entries.iter().filter(|(n, _, _)| n != "run_script") {
        let c = pipe.cmd(&name.to_ascii_uppercase());
        for x in a {
            c.arg(&x[..]);
        }
    }
    let plain_count = entries.len() - scripted.len();
    let replies = if plain_count > 0 {
        store.raw_pipeline(&pipe).await.map_err(|e| e.to_string())
    } else {
        Ok(Vec::new())
    };
    let mut replies_iter = match &replies {
        Ok(r) => r.clone().into_iter(),
        Err(_) => Vec::new().into_iter(),
    };
    for (i, (name, a, shape)) in entries.iter().enumerate() {
        if name == "run_script" {
            let entry: Table = cmds.get(i + 1)?;
            let src: String = entry.get::<Option<String>>(2)?.unwrap_or_default();
            let sname: String = entry.get::<Option<String>>(3)?.unwrap_or_default();
            let keys = list_arg(Some(&entry.get::<Value>(4)?))?;
            let argv = list_arg(Some(&entry.get::<Value>(5)?))?;
            let r = run_script(store, &src, &sname, keys, argv).await;
            push(i, r, &[], Shape::Plain)?;
            continue;
        }
        let result = match &replies {
            Ok(_) => replies_iter
                .next()
                .ok_or_else(|| "redis: missing reply".to_owned()),
            Err(e) => Err(e.clone()),
        };
        push(i, result, a, *shape)?;
    }
    Ok((Value::Table(out), Value::Nil))
}
