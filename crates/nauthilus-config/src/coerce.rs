//! Checks one value against its key's `Kind` and turns it into the canonical JSON shape the typed
//! model deserialises (so file values and `NAUTHILUS_*` strings go through one path).

use serde_json::Value;

use crate::catalogue::Kind;
use crate::duration::{format_duration, parse_duration};
use crate::model::BackendName;

/// The canonical value, or a message saying what was expected. `Ok(None)` means "unset: use the
/// default" (a YAML `null`).
pub fn coerce(kind: &Kind, value: &Value) -> Result<Option<Value>, String> {
    if value.is_null() {
        return Ok(None);
    }
    // As in Nauthilus, an empty string leaves these at their default.
    let empty = value.as_str().is_some_and(|s| s.trim().is_empty());
    if empty && matches!(kind, Kind::HostPort | Kind::HeaderName | Kind::Enum(_)) {
        return Ok(None);
    }
    let canonical = match kind {
        Kind::Str | Kind::Path => Value::String(scalar(value, kind)?),
        Kind::Secret => Value::String(scalar(value, kind).map_err(|_| "expected a string".to_owned())?),
        Kind::HeaderName => Value::String(header_name(&scalar(value, kind)?)?),
        Kind::HostPort => Value::String(host_port(&scalar(value, kind)?)?),
        Kind::Bool => Value::Bool(boolean(value)?),
        Kind::UInt { min, max } => Value::from(unsigned(value, *min, *max)?),
        Kind::Int { min, max } => Value::from(signed(value, *min, *max)?),
        Kind::NetMap => net_map(value)?,
        Kind::FeatureList => Value::Array(feature_list(value)?),
        Kind::Float { min, max } => Value::from(decimal(value, *min, *max)?),
        Kind::Duration { max_secs } => Value::String(duration(value, *max_secs)?),
        Kind::Enum(words) => Value::String(word(&scalar(value, kind)?, words)?),
        Kind::StrList => Value::Array(list(value)?.into_iter().map(Value::String).collect()),
        Kind::HostPortList => {
            let items = list(value)?;
            let mut out = Vec::with_capacity(items.len());
            let mut bad = Vec::new();
            for item in items {
                match host_port(&item) {
                    Ok(hp) => out.push(Value::String(hp)),
                    Err(e) => bad.push(e),
                }
            }
            if !bad.is_empty() {
                return Err(bad.join("; "));
            }
            Value::Array(out)
        }
        Kind::NetList => net_list(value)?,
        Kind::BackendList => {
            let items = list(value)?;
            let mut bad = Vec::new();
            let mut names = Vec::with_capacity(items.len());
            for item in &items {
                match item.parse::<BackendName>() {
                    Ok(name) => names.push(Value::String(name.to_string())),
                    Err(e) => bad.push(e),
                }
            }
            if !bad.is_empty() {
                return Err(bad.join("; "));
            }
            Value::Array(names)
        }
    };
    Ok(Some(canonical))
}

fn net_list(value: &Value) -> Result<Value, String> {
    let items = list(value)?;
    let bad: Vec<String> = items
        .iter()
        .filter(|i| !is_ip_or_network(i))
        .map(|i| format!("{i:?} is not an IP address or network"))
        .collect();
    if !bad.is_empty() {
        return Err(bad.join("; "));
    }
    Ok(Value::Array(
        items
            .into_iter()
            .map(|s| Value::String(s.trim().to_owned()))
            .collect(),
    ))
}

/// User name → networks; the names are kept as written (case and dots are data here).
fn net_map(value: &Value) -> Result<Value, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "expected a mapping of user names to lists of networks, found {}",
            shape(value)
        ));
    };
    let mut out = serde_json::Map::new();
    let mut bad = Vec::new();
    for (user, nets) in map {
        match net_list(nets) {
            Ok(v) => {
                out.insert(user.clone(), v);
            }
            Err(e) => bad.push(format!("{user:?}: {e}")),
        }
    }
    if bad.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(bad.join("; "))
    }
}

/// `server.features` items in one shape, `{name, when_no_auth}`; names are trimmed and
/// lower-cased (whether a feature exists is checked later, per item).
fn feature_list(value: &Value) -> Result<Vec<Value>, String> {
    let item = |i: usize, v: &Value| -> Result<Value, String> {
        let (name, when_no_auth) = match v {
            Value::String(s) => (s.as_str(), false),
            Value::Object(m) => {
                if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "name" | "when_no_auth")) {
                    return Err(format!("item {i}: unknown key {k:?} (known: name, when_no_auth)"));
                }
                let Some(Value::String(name)) = m.get("name") else {
                    return Err(format!("item {i}: `name` (a string) is required"));
                };
                let when = match m.get("when_no_auth") {
                    None | Some(Value::Null) => false,
                    Some(w) => boolean(w).map_err(|e| format!("item {i}: when_no_auth: {e}"))?,
                };
                (name.as_str(), when)
            }
            other => {
                return Err(format!(
                    "item {i}: expected a feature name or {{name, when_no_auth}}, found {}",
                    shape(other)
                ));
            }
        };
        Ok(serde_json::json!({"name": name.trim().to_ascii_lowercase(), "when_no_auth": when_no_auth}))
    };
    match value {
        Value::String(_) => list(value)?
            .iter()
            .enumerate()
            .map(|(i, n)| item(i, &Value::String(n.clone())))
            .collect(),
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| item(i, v)).collect(),
        _ => Err(format!("expected a list, found {}", shape(value))),
    }
}

fn signed(value: &Value, min: i64, max: i64) -> Result<i64, String> {
    let n = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(n) => Err(format!("{n} is out of range {min}..{max}")),
        None => Err(format!("expected a whole number {min}..{max}, found {value}")),
    }
}

fn scalar(value: &Value, kind: &Kind) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("expected {}, found {}", kind.describe(), shape(value))),
    }
}

fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn decimal(value: &Value, min: f64, max: f64) -> Result<f64, String> {
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n.is_finite() && (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a number {min}..{max}, found {value}")),
    }
}

/// `192.0.2.1`, `192.0.2.0/24`, `2001:db8::/32`.
pub fn is_ip_or_network(s: &str) -> bool {
    let s = s.trim();
    match s.split_once('/') {
        None => s.parse::<std::net::IpAddr>().is_ok(),
        Some((ip, len)) => match (ip.parse::<std::net::IpAddr>(), len.parse::<u8>()) {
            (Ok(std::net::IpAddr::V4(_)), Ok(l)) => l <= 32,
            (Ok(std::net::IpAddr::V6(_)), Ok(l)) => l <= 128,
            _ => false,
        },
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(format!("expected true or false, found {s:?}")),
        },
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        _ => Err(format!("expected true or false, found {}", shape(value))),
    }
}

fn unsigned(value: &Value, min: u64, max: u64) -> Result<u64, String> {
    let n = match value {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("expected a whole number {min}..{max}, found {n}"))?,
        Value::String(s) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("expected a whole number {min}..{max}, found {s:?}"))?,
        _ => {
            return Err(format!(
                "expected a whole number {min}..{max}, found {}",
                shape(value)
            ));
        }
    };
    if n < min || n > max {
        return Err(format!("{n} is out of range {min}..{max}"));
    }
    Ok(n)
}

fn duration(value: &Value, max_secs: u64) -> Result<String, String> {
    let d = match value {
        Value::String(s) => parse_duration(s)?,
        Value::Number(n) => parse_duration(&n.to_string())?,
        _ => {
            return Err(format!(
                "expected a duration such as \"30s\", found {}",
                shape(value)
            ));
        }
    };
    if d.as_secs_f64() > max_secs as f64 {
        return Err(format!(
            "{} is longer than the maximum {}",
            format_duration(d),
            format_duration(std::time::Duration::from_secs(max_secs))
        ));
    }
    Ok(format_duration(d))
}

fn word(s: &str, words: &[String]) -> Result<String, String> {
    let w = s.trim().to_ascii_lowercase();
    if words.contains(&w) {
        Ok(w)
    } else {
        Err(format!("{s:?} is not one of: {}", words.join(", ")))
    }
}

fn list(value: &Value) -> Result<Vec<String>, String> {
    match value {
        // A single string is a comma-separated list, as Nauthilus (and its env variables) write it.
        Value::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.trim().to_owned()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(format!("item {i}: expected a string, found {}", shape(other))),
            })
            .collect(),
        _ => Err(format!("expected a list, found {}", shape(value))),
    }
}

/// `host:port` with a numeric port; IPv6 hosts in brackets. An empty host means all interfaces.
pub fn host_port(s: &str) -> Result<String, String> {
    let s = s.trim();
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!(
            "{s:?} is not host:port (e.g. \"127.0.0.1:6379\", \"[::1]:6379\")"
        ));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!("{s:?} has an invalid port {port:?}"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(format!(
            "{s:?}: write IPv6 addresses in brackets, e.g. \"[::1]:{port}\""
        ));
    }
    if host.contains(char::is_whitespace) {
        return Err(format!("{s:?}: the host contains white space"));
    }
    Ok(s.to_owned())
}

fn header_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if s.is_empty() || !s.chars().all(is_token) {
        return Err(format!("{s:?} is not a valid HTTP header name"));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_strings_become_typed_values() {
        assert_eq!(coerce(&Kind::Bool, &json!("TRUE")), Ok(Some(json!(true))));
        assert_eq!(
            coerce(&Kind::UInt { min: 1, max: 9 }, &json!("7")),
            Ok(Some(json!(7)))
        );
        assert_eq!(
            coerce(&Kind::Duration { max_secs: 10_000 }, &json!(3600)),
            Ok(Some(json!("1h")))
        );
        assert_eq!(
            coerce(&Kind::StrList, &json!("a, b,,c")),
            Ok(Some(json!(["a", "b", "c"])))
        );
        assert_eq!(
            coerce(&Kind::BackendList, &json!("Cache,passwd_file")),
            Ok(Some(json!(["cache", "passwd_file"])))
        );
    }

    #[test]
    fn wrong_values_say_what_was_expected() {
        let e = coerce(&Kind::UInt { min: 1, max: 9 }, &json!("many")).unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        assert!(
            coerce(&Kind::UInt { min: 1, max: 9 }, &json!(10))
                .unwrap_err()
                .contains("out of range")
        );
        assert!(coerce(&Kind::HostPort, &json!("localhost")).is_err());
        assert!(coerce(&Kind::HostPort, &json!("::1:80")).is_err());
        assert!(coerce(&Kind::HostPort, &json!("[::1]:80")).is_ok());
        assert!(coerce(&Kind::Enum(vec!["a".into(), "b".into()]), &json!("c")).is_err());
        assert!(coerce(&Kind::HeaderName, &json!("Bad Header")).is_err());
        assert!(
            coerce(&Kind::Duration { max_secs: 60 }, &json!("2m"))
                .unwrap_err()
                .contains("maximum")
        );
        assert!(
            coerce(&Kind::BackendList, &json!(["lmdb"]))
                .unwrap_err()
                .contains("unknown backend")
        );
        assert!(coerce(&Kind::Str, &json!({"a": 1})).is_err());
    }

    #[test]
    fn features_take_both_shapes() {
        assert_eq!(
            coerce(
                &Kind::FeatureList,
                &json!(["RBL", {"name": "tls_encryption", "when_no_auth": true}])
            ),
            Ok(Some(json!([
                {"name": "rbl", "when_no_auth": false},
                {"name": "tls_encryption", "when_no_auth": true},
            ])))
        );
        assert_eq!(
            coerce(&Kind::FeatureList, &json!("brute_force, rbl")),
            Ok(Some(json!([
                {"name": "brute_force", "when_no_auth": false},
                {"name": "rbl", "when_no_auth": false},
            ])))
        );
        assert!(coerce(&Kind::FeatureList, &json!([{"when_no_auth": true}])).is_err());
        assert!(coerce(&Kind::FeatureList, &json!([{"name": "rbl", "colour": 1}])).is_err());
        assert!(coerce(&Kind::FeatureList, &json!([7])).is_err());
    }

    #[test]
    fn net_maps_keep_user_names() {
        assert_eq!(
            coerce(&Kind::NetMap, &json!({"Alice@Example.net": "192.0.2.0/24, ::1"})),
            Ok(Some(json!({"Alice@Example.net": ["192.0.2.0/24", "::1"]})))
        );
        assert!(coerce(&Kind::NetMap, &json!({"a": ["nonsense"]})).is_err());
        assert!(coerce(&Kind::Int { min: -100, max: 100 }, &json!(-101)).is_err());
        assert_eq!(
            coerce(&Kind::Int { min: -100, max: 100 }, &json!("-7")),
            Ok(Some(json!(-7)))
        );
    }

    #[test]
    fn secrets_are_not_echoed() {
        let e = coerce(&Kind::Secret, &json!(["hunter2"])).unwrap_err();
        assert!(!e.contains("hunter2"));
    }

    #[test]
    fn null_means_default() {
        assert_eq!(coerce(&Kind::Str, &Value::Null), Ok(None));
        assert_eq!(coerce(&Kind::HostPort, &json!("")), Ok(None));
        assert_eq!(coerce(&Kind::HeaderName, &json!(" ")), Ok(None));
    }
}
