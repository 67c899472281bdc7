//! The catalogue of every configuration key nauthilus-rs implements: its path, type, default and
//! one-line meaning, read off the JSON Schema of the typed model ([`crate::schema`]). Validation,
//! `NAUTHILUS_*` overrides, the reference docs and the example config all read this one table;
//! nothing here is written per key.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::schema::resolve;

/// What values a key accepts.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Any scalar, taken as a string.
    Str,
    /// A string whose value must never be echoed (passwords, nonces).
    Secret,
    /// A file system path.
    Path,
    /// `true` or `false`.
    Bool,
    /// A whole number within the bounds.
    UInt { min: u64, max: u64 },
    /// A whole number within bounds that allow negative numbers.
    Int { min: i64, max: i64 },
    /// A decimal number within the bounds.
    Float { min: f64, max: f64 },
    /// A Go duration string or a number of seconds, at most `max_secs`.
    Duration { max_secs: u64 },
    /// `host:port` (IPv6 in brackets).
    HostPort,
    /// An HTTP header name.
    HeaderName,
    /// One of a fixed set of lower-case words.
    Enum(Vec<String>),
    /// A list of strings (a single string is a one-item list).
    StrList,
    /// A list of `host:port` addresses (a single string is a one-item list).
    HostPortList,
    /// A list of backend names (`server.backends`).
    BackendList,
    /// A list of IP addresses and networks (`192.0.2.0/24`, `2001:db8::1`).
    NetList,
    /// User names mapped to lists of IP addresses and networks (`soft_whitelist`).
    NetMap,
    /// `server.features`: names, or `{name, when_no_auth}` mappings.
    FeatureList,
}

impl Kind {
    /// How the type is written in the reference docs.
    pub fn describe(&self) -> String {
        match self {
            Self::Str => "string".into(),
            Self::Secret => "string (secret)".into(),
            Self::Path => "path".into(),
            Self::Bool => "bool".into(),
            Self::UInt { min, max } => format!("integer {min}..{max}"),
            Self::Int { min, max } => format!("integer {min}..{max}"),
            Self::Float { min, max } => format!("number {min}..{max}"),
            Self::Duration { .. } => "duration".into(),
            Self::HostPort => "host:port".into(),
            Self::HeaderName => "header name".into(),
            Self::Enum(words) => words.join(" \\| "),
            Self::StrList => "list of strings".into(),
            Self::HostPortList => "list of host:port".into(),
            Self::BackendList => "list of backend names".into(),
            Self::NetList => "list of IP addresses or networks".into(),
            Self::NetMap => "map of user name to list of IP addresses or networks".into(),
            Self::FeatureList => "list of feature names or {name, when_no_auth}".into(),
        }
    }
}

/// One implemented configuration key.
#[derive(Clone, Debug)]
pub struct Key {
    /// Dotted path; `*` stands for a free-form map key (e.g. a protocol name) and `name[]` for
    /// any item of a list of mappings (`brute_force.buckets[].name`).
    pub path: String,
    /// Accepted values.
    pub kind: Kind,
    /// The default, as written in YAML; empty when there is none.
    pub default: String,
    /// What the key does, in one line.
    pub doc: String,
    /// The key must be given (inside its list item or section).
    pub required: bool,
}

impl Key {
    /// The `NAUTHILUS_*` environment variable that overrides this key, if it has one
    /// (keys under free-form maps and inside list items have none).
    pub fn env_var(&self) -> Option<String> {
        (!self.is_pattern()).then(|| env_var_for(&self.path))
    }

    /// True for keys under a free-form map or inside list items (a pattern, not one path).
    pub fn is_pattern(&self) -> bool {
        self.path.contains('*') || self.path.contains("[]")
    }
}

/// The environment variable name for a dotted key path.
pub fn env_var_for(path: &str) -> String {
    format!("NAUTHILUS_{}", path.replace('.', "_").to_ascii_uppercase())
}

/// Every implemented key, in the order the model declares them.
pub fn keys() -> &'static [Key] {
    static KEYS: OnceLock<Vec<Key>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let schema = crate::schema::json_schema();
        let mut out = Vec::new();
        collect(&schema, &schema, "", false, &mut out);
        out
    })
}

/// Walks one property schema: sections, maps (`*`) and lists of mappings (`[]`) are entered,
/// everything else is a key.
fn collect(root: &Value, node: &Value, path: &str, required: bool, out: &mut Vec<Key>) {
    let schema = resolve(root, node);
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    // A map whose keys are data (user names) is one key, checked as one value.
    let leaf_map = schema.get("format").and_then(Value::as_str) == Some("net-map");
    if let Some(Value::Object(props)) = schema.get("properties") {
        let required_names = schema.get("required").and_then(Value::as_array);
        for (name, prop) in props {
            let required = required_names.is_some_and(|r| r.iter().any(|n| n == name));
            collect(root, prop, &join(name), required, out);
        }
    } else if let Some(items) = schema
        .get("additionalProperties")
        .filter(|v| v.is_object() && !leaf_map)
    {
        collect(root, items, &join("*"), false, out);
    } else if schema.get("type").and_then(Value::as_str) == Some("array")
        && let Some(items) = schema.get("items")
        && resolve(root, items).get("properties").is_some()
    {
        collect(root, items, &format!("{path}[]"), false, out);
    } else {
        let Value::Object(map) = schema else { return };
        let text = |key: &str| {
            node.get(key)
                .or_else(|| schema.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        out.push(Key {
            path: path.to_owned(),
            kind: kind_of(map),
            default: node.get("default").map(default_text).unwrap_or_default(),
            doc: text("description"),
            required,
        });
    }
}

/// The YAML spelling of a default value (empty for none).
fn default_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(default_text).collect::<Vec<_>>().join(", "),
        Value::Null | Value::Object(_) => String::new(),
        other => other.to_string(),
    }
}

/// What values a key's schema accepts (see the helpers in [`crate::schema`]).
fn kind_of(schema: &Map<String, Value>) -> Kind {
    let format = schema.get("format").and_then(Value::as_str).unwrap_or_default();
    let has_type = |ty: &str| match schema.get("type") {
        Some(Value::String(s)) => s == ty,
        Some(Value::Array(types)) => types.iter().any(|t| t == ty),
        _ => false,
    };
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    let ubound = |key: &str, or: u64| schema.get(key).and_then(Value::as_u64).unwrap_or(or);
    if schema.get("writeOnly") == Some(&Value::Bool(true)) {
        return Kind::Secret;
    }
    match format {
        "duration" => {
            return Kind::Duration {
                max_secs: ubound("maximum", u64::MAX),
            };
        }
        "host-port" => return Kind::HostPort,
        "header-name" => return Kind::HeaderName,
        "path" => return Kind::Path,
        "net-map" => return Kind::NetMap,
        _ => {}
    }
    if let Some(Value::Array(words)) = schema.get("enum") {
        return Kind::Enum(
            words
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        );
    }
    if has_type("array") {
        let item_format = schema
            .get("items")
            .and_then(|i| i.get("format"))
            .and_then(Value::as_str);
        return match item_format {
            Some("host-port") => Kind::HostPortList,
            Some("backend") => Kind::BackendList,
            Some("ip-network") => Kind::NetList,
            Some("feature") => Kind::FeatureList,
            _ => Kind::StrList,
        };
    }
    if has_type("boolean") {
        Kind::Bool
    } else if has_type("integer") && bound("minimum").is_some_and(|m| m < 0.0) {
        Kind::Int {
            min: schema.get("minimum").and_then(Value::as_i64).unwrap_or(i64::MIN),
            max: schema.get("maximum").and_then(Value::as_i64).unwrap_or(i64::MAX),
        }
    } else if has_type("integer") {
        Kind::UInt {
            min: ubound("minimum", 0),
            max: ubound("maximum", u64::MAX),
        }
    } else if has_type("number") {
        Kind::Float {
            min: bound("minimum").unwrap_or(f64::MIN),
            max: bound("maximum").unwrap_or(f64::MAX),
        }
    } else {
        Kind::Str
    }
}

/// The implemented key at `path` (with concrete map keys), if any.
pub fn find(path: &str) -> Option<&'static Key> {
    keys().iter().find(|k| path_matches(&k.path, path))
}

/// True when some implemented key lies strictly below `path`.
pub fn is_section(path: &str) -> bool {
    keys().iter().any(|k| pattern_has_prefix(&k.path, path))
}

/// True when `path` is a list of mappings (`brute_force.buckets`): its items are walked as
/// sections named `path[0]`, `path[1]`, ...
pub fn is_list_section(path: &str) -> bool {
    let items = format!("{path}[]");
    keys().iter().any(|k| pattern_has_prefix(&k.path, &items))
}

/// Does a catalogue pattern (with `*` and `name[]` segments) match a concrete path?
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let (mut p, mut c) = (pattern.split('.'), path.split('.'));
    loop {
        match (p.next(), c.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if segment_matches(a, b) => {}
            _ => return false,
        }
    }
}

fn pattern_has_prefix(pattern: &str, prefix: &str) -> bool {
    let mut p = pattern.split('.');
    for seg in prefix.split('.') {
        match p.next() {
            Some(a) if segment_matches(a, seg) => {}
            _ => return false,
        }
    }
    p.next().is_some()
}

/// `*` matches any segment; `name[]` matches `name[]` and `name[<index>]`.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    if pattern == segment {
        return true;
    }
    if pattern == "*" {
        // A list (`name[]`) is never a free-form map key.
        return !segment.ends_with("[]");
    }
    let Some(list) = pattern.strip_suffix("[]") else {
        return false;
    };
    segment
        .strip_prefix(list)
        .and_then(|rest| rest.strip_prefix('['))
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_the_nauthilus_rule() {
        let key = find("server.redis.master.address").unwrap();
        assert_eq!(
            key.env_var().as_deref(),
            Some("NAUTHILUS_SERVER_REDIS_MASTER_ADDRESS")
        );
        assert_eq!(find("server.nginx_backends.imap.port").unwrap().env_var(), None);
    }

    #[test]
    fn wildcards_match_one_segment() {
        assert!(path_matches(
            "server.nginx_backends.*.port",
            "server.nginx_backends.imap.port"
        ));
        assert!(!path_matches(
            "server.nginx_backends.*.port",
            "server.nginx_backends.port"
        ));
        assert!(is_section("server.nginx_backends.sieve"));
        assert!(is_section("server"));
        assert!(!is_section("server.address"));
    }

    #[test]
    fn list_items_match_by_index() {
        assert!(segment_matches("buckets[]", "buckets[0]"));
        assert!(segment_matches("buckets[]", "buckets[12]"));
        assert!(!segment_matches("buckets[]", "buckets[]x"));
        assert!(!segment_matches("buckets[]", "buckets[a]"));
        assert!(!segment_matches("buckets[]", "buckets"));
        assert!(!segment_matches("buckets", "buckets[0]"));
    }

    #[test]
    fn paths_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in keys() {
            assert!(seen.insert(&k.path), "duplicate key {}", k.path);
        }
    }
}
