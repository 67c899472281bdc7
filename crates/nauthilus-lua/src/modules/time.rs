//! `time` (gopher-lua-libs): `unix()` in fractional seconds, `unix_nano()`, `sleep(seconds)`,
//! `format(unix, go_layout, tz)` and `parse(value, go_layout, tz)` with Go reference-time
//! layouts. Time zones: `UTC`/empty and `Local`; other names are an error.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, TimeZone, Utc};
use mlua::{Lua, Table, Value};

use super::nil_err;

const DEFAULT_LAYOUT: &str = "Mon Jan 2 15:04:05 -0700 MST 2006";

/// Go layout elements and their strftime equivalents, longest first.
const TOKENS: &[(&str, &str)] = &[
    ("January", "%B"),
    ("Monday", "%A"),
    ("Z07:00", "%:z"),
    ("-07:00", "%:z"),
    (".000000000", "%.9f"),
    (".999999999", "%.f"),
    (".000000", "%.6f"),
    (".000", "%.3f"),
    ("-0700", "%z"),
    ("2006", "%Y"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("MST", "%Z"),
    ("-07", "%z"),
    ("01", "%m"),
    ("02", "%d"),
    ("_2", "%e"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("06", "%y"),
    ("15", "%H"),
    ("PM", "%p"),
    ("pm", "%P"),
    ("1", "%-m"),
    ("2", "%-d"),
    ("3", "%-I"),
    ("4", "%-M"),
    ("5", "%-S"),
];

/// A Go reference-time layout as a chrono format string.
pub(crate) fn go_layout(layout: &str) -> String {
    let mut out = String::with_capacity(layout.len() * 2);
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (go, strf) in TOKENS {
            if let Some(r) = rest.strip_prefix(go) {
                out.push_str(strf);
                rest = r;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            if c == '%' {
                out.push_str("%%");
            } else {
                out.push(c);
            }
        }
        rest = chars.as_str();
    }
    out
}

fn now_unix() -> f64 {
    nauthilus_core::clock::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("unix", lua.create_function(|_, ()| Ok(now_unix()))?)?;
    t.raw_set(
        "unix_nano",
        lua.create_function(|_, ()| {
            let nanos = nauthilus_core::clock::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            Ok(format!("{nanos}").parse::<f64>().unwrap_or_default())
        })?,
    )?;
    t.raw_set(
        "sleep",
        lua.create_async_function(|_, secs: f64| async move {
            if secs.is_finite() && secs > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(secs.min(3600.0))).await;
            }
            Ok(())
        })?,
    )?;
    t.raw_set(
        "format",
        lua.create_function(|lua, (unix, layout, tz): (f64, Option<String>, Option<String>)| {
            let fmt = go_layout(layout.as_deref().unwrap_or(DEFAULT_LAYOUT));
            let secs = unix.floor();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let (s, ns) = (
                secs as i64,
                ((unix - secs) * 1e9).clamp(0.0, 999_999_999.0) as u32,
            );
            let Some(utc) = Utc.timestamp_opt(s, ns).single() else {
                return nil_err(lua, "time out of range");
            };
            let text = match tz.as_deref().unwrap_or("UTC") {
                "" | "UTC" => utc.format(&fmt).to_string(),
                "Local" => utc.with_timezone(&Local).format(&fmt).to_string(),
                other => return nil_err(lua, format!("unknown time zone {other}")),
            };
            Ok((Value::String(lua.create_string(text)?), Value::Nil))
        })?,
    )?;
    t.raw_set(
        "parse",
        lua.create_function(|lua, (value, layout, tz): (String, String, Option<String>)| {
            let fmt = go_layout(&layout);
            if let Ok(dt) = DateTime::<FixedOffset>::parse_from_str(&value, &fmt) {
                return Ok((
                    Value::Number(epoch(dt.timestamp(), dt.timestamp_subsec_nanos())),
                    Value::Nil,
                ));
            }
            match NaiveDateTime::parse_from_str(&value, &fmt) {
                Ok(naive) => {
                    let dt = match tz.as_deref().unwrap_or("UTC") {
                        "" | "UTC" => naive.and_utc().fixed_offset(),
                        "Local" => match Local.from_local_datetime(&naive).single() {
                            Some(d) => d.fixed_offset(),
                            None => return nil_err(lua, "ambiguous local time"),
                        },
                        other => return nil_err(lua, format!("unknown time zone {other}")),
                    };
                    Ok((
                        Value::Number(epoch(dt.timestamp(), dt.timestamp_subsec_nanos())),
                        Value::Nil,
                    ))
                }
                Err(e) => nil_err(lua, format!("parsing time {value:?} as {layout:?}: {e}")),
            }
        })?,
    )?;
    Ok(t)
}

#[allow(clippy::cast_precision_loss)]
fn epoch(secs: i64, nanos: u32) -> f64 {
    secs as f64 + f64::from(nanos) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_layouts_translate() {
        assert_eq!(go_layout("2006-01-02T15:04:05 -07:00"), "%Y-%m-%dT%H:%M:%S %:z");
        assert_eq!(
            go_layout("Mon, 02 Jan 2006 15:04:05 MST"),
            "%a, %d %b %Y %H:%M:%S %Z"
        );
        assert_eq!(go_layout("100%"), "%-m00%%");
    }
}
