//! `glua_http`/`http` (an HTTP client with timeouts, on one shared connection pool) and, for
//! hooks, `nauthilus_http_request` / `nauthilus_http_response`.

use std::sync::Arc;
use std::time::Duration;

use mlua::{Lua, String as LuaString, Table, Value};

use super::{nil_err, with_state};
use crate::Shared;

/// Largest response body a script may read.
const MAX_BODY: usize = 16 << 20;

/// A Go duration (`10s`, `500ms`, `1m30s`, `2h`) for a request timeout (at most an hour).
fn go_duration(s: &str) -> Option<Duration> {
    parse_go_duration(s).map(|d| d.min(Duration::from_secs(3600)))
}

/// A Go duration (`10s`, `500ms`, `1m30s`, `2h`), at most a year.
pub(super) fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = 0.0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total.min(31_536_000.0)))
}

async fn request(
    lua: Lua,
    client: reqwest::Client,
    method: String,
    url: String,
    opts: Option<Table>,
) -> mlua::Result<(Value, Value)> {
    let method = match reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) {
        Ok(m) => m,
        Err(e) => return nil_err(&lua, e.to_string()),
    };
    let mut url = url;
    if let Some(q) = opts
        .as_ref()
        .map(|o| o.get::<Option<String>>("query"))
        .transpose()?
        .flatten()
    {
        let sep = if url.contains('?') { '&' } else { '?' };
        url = format!("{url}{sep}{q}");
    }
    let mut builder = client.request(method, &url).timeout(Duration::from_secs(10));
    if let Some(o) = &opts {
        if let Some(t) = o.get::<Option<String>>("timeout")? {
            match go_duration(&t) {
                Some(d) => builder = builder.timeout(d),
                None => return nil_err(&lua, format!("bad timeout {t:?}")),
            }
        }
        if let Some(h) = o.get::<Option<Table>>("headers")? {
            for pair in h.pairs::<String, String>() {
                let (k, v) = pair?;
                builder = builder.header(k, v);
            }
        }
        if let Some(body) = o.get::<Option<LuaString>>("body")? {
            builder = builder.body(body.as_bytes().to_vec());
        } else if let Some(form) = o.get::<Option<String>>("form")? {
            builder = builder
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
        }
        if let Some(auth) = o.get::<Option<Table>>("auth")? {
            let user: String = auth.get("user")?;
            let pass: Option<String> = auth.get("pass")?;
            builder = builder.basic_auth(user, pass);
        }
    }
    let response = match builder.send().await {
        Ok(r) => r,
        Err(e) => return nil_err(&lua, e.to_string()),
    };
    let status = response.status().as_u16();
    let final_url = response.url().to_string();
    let headers = lua.create_table()?;
    for (name, value) in response.headers() {
        headers.raw_set(
            name.as_str(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        )?;
    }
    let mut body = Vec::new();
    let mut response = response;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return nil_err(&lua, "response body too large");
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return nil_err(&lua, e.to_string()),
        }
    }
    let t = lua.create_table()?;
    t.raw_set("status_code", status)?;
    t.raw_set("body_size", body.len())?;
    t.raw_set("body", lua.create_string(&body)?)?;
    t.raw_set("headers", headers)?;
    t.raw_set("cookies", lua.create_table()?)?;
    t.raw_set("url", final_url)?;
    Ok((Value::Table(t), Value::Nil))
}

pub(super) fn module(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for method in ["get", "post", "put", "patch", "delete", "head"] {
        let client = shared.http.clone();
        t.raw_set(
            method,
            lua.create_async_function(move |lua, (url, opts): (String, Option<Table>)| {
                request(lua, client.clone(), method.to_owned(), url, opts)
            })?,
        )?;
    }
    let client = shared.http.clone();
    t.raw_set(
        "request",
        lua.create_async_function(move |lua, (method, url, opts): (String, String, Option<Table>)| {
            request(lua, client.clone(), method, url, opts)
        })?,
    )?;
    Ok(t)
}

fn hook_request<T>(lua: &Lua, f: impl FnOnce(&nauthilus_core::HookRequest) -> T) -> Option<T> {
    with_state(lua, |s| s.http_request.clone())
        .flatten()
        .map(|r| f(&r))
}

pub(super) fn request_module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "get_all_http_request_headers",
        lua.create_function(|lua, ()| {
            let out = lua.create_table()?;
            let headers = hook_request(lua, |r| r.headers.clone()).unwrap_or_default();
            for (name, value) in headers {
                let list: Table = match out.raw_get::<Option<Table>>(name.as_str())? {
                    Some(l) => l,
                    None => {
                        let l = lua.create_table()?;
                        out.raw_set(name.as_str(), l.clone())?;
                        l
                    }
                };
                list.raw_set(list.raw_len() + 1, value)?;
            }
            Ok(out)
        })?,
    )?;
    t.raw_set(
        "get_http_request_header",
        lua.create_function(|lua, name: String| {
            let name = name.to_ascii_lowercase();
            let values: Vec<String> = hook_request(lua, |r| {
                r.headers
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default();
            lua.create_sequence_from(values)
        })?,
    )?;
    t.raw_set(
        "get_http_request_body",
        lua.create_function(|lua, ()| {
            lua.create_string(hook_request(lua, |r| r.body.clone()).unwrap_or_default())
        })?,
    )?;
    t.raw_set(
        "get_http_method",
        lua.create_function(|lua, ()| Ok(hook_request(lua, |r| r.method.clone()).unwrap_or_default()))?,
    )?;
    t.raw_set(
        "get_http_path",
        lua.create_function(|lua, ()| Ok(hook_request(lua, |r| r.path.clone()).unwrap_or_default()))?,
    )?;
    t.raw_set(
        "get_http_query_param",
        lua.create_function(|lua, name: String| {
            Ok(hook_request(lua, |r| {
                r.query.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
            })
            .flatten()
            .unwrap_or_default())
        })?,
    )?;
    Ok(t)
}

fn status_u16(n: f64) -> mlua::Result<u16> {
    if (100.0..=999.0).contains(&n) && n.fract() == 0.0 {
        Ok(format!("{n:.0}").parse().unwrap_or(500))
    } else {
        Err(mlua::Error::runtime(format!("bad HTTP status {n}")))
    }
}

fn respond(lua: &Lua, f: impl FnOnce(&mut crate::vm::HttpOut)) {
    with_state(lua, |s| {
        s.http_out.written = true;
        f(&mut s.http_out);
    });
}

/// Header edits: a hook's own response; in a login's features, filters and actions the
/// headers of that login's answer (shared by its stages; the codec's own headers win).
fn edit_headers(lua: &Lua, f: impl FnOnce(&mut Vec<(String, String)>)) {
    with_state(lua, |s| {
        if s.kind == crate::vm::Kind::Hook {
            s.http_out.written = true;
            f(&mut s.http_out.headers);
        } else {
            s.scratch.with(|r| f(&mut r.response_headers));
        }
    });
}

pub(super) fn response_module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "set_http_response_header",
        lua.create_function(|lua, (n, v): (String, String)| {
            edit_headers(lua, |h| {
                h.retain(|(k, _)| !k.eq_ignore_ascii_case(&n));
                h.push((n, v));
            });
            Ok(())
        })?,
    )?;
    t.raw_set(
        "add_http_response_header",
        lua.create_function(|lua, (n, v): (String, String)| {
            edit_headers(lua, |h| h.push((n, v)));
            Ok(())
        })?,
    )?;
    t.raw_set(
        "remove_http_response_header",
        lua.create_function(|lua, n: String| {
            edit_headers(lua, |h| h.retain(|(k, _)| !k.eq_ignore_ascii_case(&n)));
            Ok(())
        })?,
    )?;
    t.raw_set(
        "set_http_status",
        lua.create_function(|lua, code: f64| {
            let code = status_u16(code)?;
            respond(lua, |o| o.status = Some(code));
            Ok(())
        })?,
    )?;
    t.raw_set(
        "write_http_response_body",
        lua.create_function(|lua, body: LuaString| {
            respond(lua, |o| o.body.extend_from_slice(&body.as_bytes()));
            Ok(())
        })?,
    )?;
    t.raw_set(
        "set_http_content_type",
        lua.create_function(|lua, v: String| {
            respond(lua, |o| {
                o.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                o.headers.push(("content-type".into(), v));
            });
            Ok(())
        })?,
    )?;
    let full = |ctype: &'static str| {
        move |lua: &Lua, (code, body): (f64, LuaString)| {
            let code = status_u16(code)?;
            respond(lua, |o| {
                o.status = Some(code);
                o.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                o.headers.push(("content-type".into(), ctype.into()));
                o.body = body.as_bytes().to_vec();
            });
            Ok(())
        }
    };
    t.raw_set("string", lua.create_function(full("text/plain; charset=utf-8"))?)?;
    t.raw_set("html", lua.create_function(full("text/html; charset=utf-8"))?)?;
    t.raw_set(
        "data",
        lua.create_function(|lua, (code, ctype, body): (f64, String, LuaString)| {
            let code = status_u16(code)?;
            respond(lua, |o| {
                o.status = Some(code);
                o.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                o.headers.push(("content-type".into(), ctype));
                o.body = body.as_bytes().to_vec();
            });
            Ok(())
        })?,
    )?;
    t.raw_set(
        "redirect",
        lua.create_function(|lua, (code, location): (f64, String)| {
            let code = status_u16(code)?;
            respond(lua, |o| {
                o.status = Some(code);
                o.headers.push(("location".into(), location));
            });
            Ok(())
        })?,
    )?;
    for (name, code) in [
        ("STATUS_OK", 200),
        ("STATUS_CREATED", 201),
        ("STATUS_NO_CONTENT", 204),
        ("STATUS_MOVED_PERMANENTLY", 301),
        ("STATUS_FOUND", 302),
        ("STATUS_SEE_OTHER", 303),
        ("STATUS_NOT_MODIFIED", 304),
        ("STATUS_BAD_REQUEST", 400),
        ("STATUS_UNAUTHORIZED", 401),
        ("STATUS_FORBIDDEN", 403),
        ("STATUS_NOT_FOUND", 404),
        ("STATUS_METHOD_NOT_ALLOWED", 405),
        ("STATUS_CONFLICT", 409),
        ("STATUS_UNSUPPORTED_MEDIA_TYPE", 415),
        ("STATUS_TOO_MANY_REQUESTS", 429),
        ("STATUS_INTERNAL_SERVER_ERROR", 500),
        ("STATUS_NOT_IMPLEMENTED", 501),
        ("STATUS_BAD_GATEWAY", 502),
        ("STATUS_SERVICE_UNAVAILABLE", 503),
        ("STATUS_GATEWAY_TIMEOUT", 504),
    ] {
        t.raw_set(name, code)?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_durations() {
        assert_eq!(
            super::go_duration("10s"),
            Some(std::time::Duration::from_secs(10))
        );
        assert_eq!(
            super::go_duration("1m30s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            super::go_duration("250ms"),
            Some(std::time::Duration::from_millis(250))
        );
        assert_eq!(super::go_duration("10"), None);
    }
}
