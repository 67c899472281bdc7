//! `nauthilus_prometheus`: script metrics in one process-wide registry, rendered in the
//! Prometheus text format by [`render`] (for `/metrics`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use mlua::{AnyUserData, Lua, MultiValue, Table, UserData, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

#[derive(Debug, Default, Clone)]
struct Observations {
    value: f64,
    count: u64,
    sum: f64,
    buckets: Vec<u64>,
}

#[derive(Debug)]
struct Vector {
    kind: Kind,
    help: String,
    labels: Vec<String>,
    series: BTreeMap<Vec<String>, Observations>,
}

/// Histogram buckets: exponential from 1 ms, factor 1.75, 15 buckets (as Nauthilus).
fn buckets() -> Vec<f64> {
    let mut b = Vec::with_capacity(15);
    let mut v = 0.001;
    for _ in 0..15 {
        b.push(v);
        v *= 1.75;
    }
    b
}

fn registry() -> &'static Mutex<HashMap<String, Vector>> {
    static R: OnceLock<Mutex<HashMap<String, Vector>>> = OnceLock::new();
    R.get_or_init(Mutex::default)
}

fn with<T>(f: impl FnOnce(&mut HashMap<String, Vector>) -> T) -> T {
    f(&mut registry().lock().unwrap_or_else(|e| e.into_inner()))
}

/// Every script metric in the Prometheus text exposition format.
pub fn render() -> String {
    let bounds = buckets();
    with(|r| {
        let mut out = String::new();
        let mut names: Vec<&String> = r.keys().collect();
        names.sort();
        for name in names {
            let Some(v) = r.get(name) else { continue };
            let kind = match v.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
                Kind::Summary => "summary",
            };
            let _ = writeln!(out, "# HELP {name} {}", v.help.replace('\n', " "));
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (values, o) in &v.series {
                let labels = label_text(&v.labels, values, None);
                match v.kind {
                    Kind::Counter | Kind::Gauge => {
                        let _ = writeln!(out, "{name}{labels} {}", o.value);
                    }
                    Kind::Histogram => {
                        for (i, b) in bounds.iter().enumerate() {
                            let l = label_text(&v.labels, values, Some(&b.to_string()));
                            let _ =
                                writeln!(out, "{name}_bucket{l} {}", o.buckets.get(i).copied().unwrap_or(0));
                        }
                        let l = label_text(&v.labels, values, Some("+Inf"));
                        let _ = writeln!(out, "{name}_bucket{l} {}", o.count);
                        let _ = writeln!(out, "{name}_sum{labels} {}", o.sum);
                        let _ = writeln!(out, "{name}_count{labels} {}", o.count);
                    }
                    Kind::Summary => {
                        let _ = writeln!(out, "{name}_sum{labels} {}", o.sum);
                        let _ = writeln!(out, "{name}_count{labels} {}", o.count);
                    }
                }
            }
        }
        out
    })
}

fn label_text(names: &[String], values: &[String], le: Option<&str>) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| {
            format!(
                "{n}=\"{}\"",
                v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
            )
        })
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn create(kind: Kind, name: String, help: String, labels: Option<Table>) -> mlua::Result<()> {
    if !valid_name(&name) {
        return Err(mlua::Error::runtime(format!("invalid metric name {name:?}")));
    }
    let mut names = Vec::new();
    if let Some(t) = labels {
        for v in t.sequence_values::<String>() {
            let v = v?;
            if !valid_name(&v) {
                return Err(mlua::Error::runtime(format!("invalid label name {v:?}")));
            }
            names.push(v);
        }
    }
    with(|r| {
        r.entry(name).or_insert(Vector {
            kind,
            help,
            labels: names,
            series: BTreeMap::new(),
        });
    });
    Ok(())
}

/// Applies `f` to the series `labels` of `name`; unknown metrics only warn.
fn update(name: &str, labels: Option<Table>, f: impl FnOnce(Kind, &mut Observations)) -> mlua::Result<()> {
    let given: HashMap<String, String> = match labels {
        Some(t) => t
            .pairs::<String, Value>()
            .map(|p| p.map(|(k, v)| (k, crate::value::scalar_string(&v).unwrap_or_default())))
            .collect::<mlua::Result<_>>()?,
        None => HashMap::new(),
    };
    with(|r| match r.get_mut(name) {
        Some(v) => {
            let values: Vec<String> = v
                .labels
                .iter()
                .map(|l| given.get(l).cloned().unwrap_or_default())
                .collect();
            let kind = v.kind;
            let bucket_count = if kind == Kind::Histogram { 15 } else { 0 };
            let o = v.series.entry(values).or_insert_with(|| Observations {
                buckets: vec![0; bucket_count],
                ..Observations::default()
            });
            f(kind, o);
        }
        None => tracing::warn!(metric = name, "lua: metric not registered"),
    });
    Ok(())
}

fn observe(kind: Kind, o: &mut Observations, value: f64) {
    o.count += 1;
    o.sum += value;
    if kind == Kind::Histogram {
        for (i, b) in buckets().iter().enumerate() {
            if value <= *b
                && let Some(c) = o.buckets.get_mut(i)
            {
                *c += 1;
            }
        }
    }
}

/// A running timer (`start_histogram_timer`).
struct Timer {
    name: String,
    labels: HashMap<String, String>,
    started: Instant,
}

impl UserData for Timer {}

pub(super) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (fname, kind) in [
        ("create_counter_vec", Kind::Counter),
        ("create_gauge_vec", Kind::Gauge),
        ("create_histogram_vec", Kind::Histogram),
        ("create_summary_vec", Kind::Summary),
    ] {
        t.raw_set(
            fname,
            lua.create_function(move |_, (name, help, labels): (String, String, Option<Table>)| {
                create(kind, name, help, labels)
            })?,
        )?;
    }
    t.raw_set(
        "increment_counter",
        lua.create_function(|_, (name, labels): (String, Option<Table>)| {
            update(&name, labels, |_, o| o.value += 1.0)
        })?,
    )?;
    t.raw_set(
        "touch_counter",
        lua.create_function(|_, (name, labels): (String, Option<Table>)| update(&name, labels, |_, _| {}))?,
    )?;
    t.raw_set(
        "add_gauge",
        lua.create_function(|_, (name, v, labels): (String, f64, Option<Table>)| {
            update(&name, labels, |_, o| o.value += v)
        })?,
    )?;
    t.raw_set(
        "sub_gauge",
        lua.create_function(|_, (name, v, labels): (String, f64, Option<Table>)| {
            update(&name, labels, |_, o| o.value -= v)
        })?,
    )?;
    t.raw_set(
        "set_gauge",
        lua.create_function(|_, (name, v, labels): (String, f64, Option<Table>)| {
            update(&name, labels, |_, o| o.value = v)
        })?,
    )?;
    t.raw_set(
        "increment_gauge",
        lua.create_function(|_, (name, labels): (String, Option<Table>)| {
            update(&name, labels, |_, o| o.value += 1.0)
        })?,
    )?;
    t.raw_set(
        "decrement_gauge",
        lua.create_function(|_, (name, labels): (String, Option<Table>)| {
            update(&name, labels, |_, o| o.value -= 1.0)
        })?,
    )?;
    let start = |lua: &Lua, (name, labels): (String, Option<Table>)| -> mlua::Result<MultiValue> {
        if !with(|r| r.contains_key(&name)) {
            // As Nauthilus: nothing at all for an unregistered metric.
            return Ok(MultiValue::new());
        }
        let labels: HashMap<String, String> = match labels {
            Some(t) => t
                .pairs::<String, Value>()
                .map(|p| p.map(|(k, v)| (k, crate::value::scalar_string(&v).unwrap_or_default())))
                .collect::<mlua::Result<_>>()?,
            None => HashMap::new(),
        };
        let ud = lua.create_userdata(Timer {
            name,
            labels,
            started: nauthilus_core::clock::instant(),
        })?;
        Ok(MultiValue::from_vec(vec![Value::UserData(ud), Value::Nil]))
    };
    t.raw_set("start_histogram_timer", lua.create_function(start)?)?;
    t.raw_set("start_summary_timer", lua.create_function(start)?)?;
    t.raw_set(
        "stop_timer",
        lua.create_function(|lua, ud: AnyUserData| {
            let timer = ud.borrow::<Timer>()?;
            let elapsed = timer.started.elapsed().as_secs_f64();
            let labels = lua.create_table()?;
            for (k, v) in &timer.labels {
                labels.raw_set(k.as_str(), v.as_str())?;
            }
            update(&timer.name, Some(labels), |kind, o| observe(kind, o, elapsed))
        })?,
    )?;
    Ok(t)
}
