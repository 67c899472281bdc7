//! The JSON Schema of the configuration file, generated from the typed model (`model/*.rs`) by
//! `schemars`. It is the one declaration of every key: the catalogue (validation, `NAUTHILUS_*`
//! overrides), the reference docs, the example config and `nauthilus --config-schema` all read it.
//!
//! A field declares its key with a doc comment (the one-line meaning) and, where the Rust type
//! alone does not say enough, attributes:
//! - `#[schemars(range(min = 1, max = 1024))]`: bounds of a number, or the longest duration in
//!   seconds for a [`ConfigDuration`](crate::ConfigDuration);
//! - `#[schemars(schema_with = "crate::schema::host_port")]` (or `secret`, `path`, `header_name`,
//!   `str_list`, `host_port_list`, `net_list`, `net_map`, `feature_list`, `backend_list`): what a string means;
//! - `#[schemars(extend("enum" = ["a", "b"]))]`: a string that is one of a few words;
//! - `#[schemars(extend("x-required" = true))]`: a key without a default that must be given;
//! - `#[schemars(example = ...)]`: the value `examples/nauthilus.yml` shows instead of the default.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::Value;

use crate::model::Config;

/// Caches, bans and counting windows may last up to a year, as in Nauthilus.
pub(crate) const YEAR_SECS: u64 = 8760 * 3600;

/// Marks a key that must be given (schema: listed in its object's `required`).
pub(crate) const REQUIRED_MARK: &str = "x-required";

/// `host:port` (IPv6 in brackets); empty means "use the default".
pub(crate) const HOST_PORT_PATTERN: &str = r"^$|^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]*):[0-9]{1,5}$";

/// A string that must never be echoed (passwords, nonces).
pub fn secret(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "writeOnly": true})
}

/// A file system path; relative paths are relative to the configuration file.
pub fn path(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "format": "path"})
}

/// `host:port`.
pub fn host_port(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "format": "host-port", "pattern": HOST_PORT_PATTERN})
}

/// An HTTP header name (a token).
pub fn header_name(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "format": "header-name", "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]*$"})
}

/// A list, or one string of comma-separated items (as Nauthilus and its variables write it).
fn list_of(items: Value) -> Schema {
    json_schema!({"type": ["array", "string"], "items": items})
}

/// A list of strings.
pub fn str_list(_: &mut SchemaGenerator) -> Schema {
    list_of(serde_json::json!({"type": "string"}))
}

/// A list of `host:port`.
pub fn host_port_list(_: &mut SchemaGenerator) -> Schema {
    list_of(serde_json::json!({"type": "string", "format": "host-port", "pattern": HOST_PORT_PATTERN}))
}

/// A list of IP addresses and networks.
pub fn net_list(_: &mut SchemaGenerator) -> Schema {
    list_of(serde_json::json!({"type": "string", "format": "ip-network"}))
}

/// A mapping of user names to lists of IP addresses and networks (`soft_whitelist`); a key of
/// its own, so user names keep their dots and case.
pub fn net_map(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "format": "net-map",
        "additionalProperties": {"type": ["array", "string"], "items": {"type": "string", "format": "ip-network"}},
    })
}

/// `server.features`: feature names, or `{name, when_no_auth}` mappings.
pub fn feature_list(_: &mut SchemaGenerator) -> Schema {
    list_of(serde_json::json!({
        "format": "feature",
        "anyOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "when_no_auth": {"type": "boolean", "default": false},
                },
                "required": ["name"],
            },
        ],
    }))
}

/// A list of backend names.
pub fn backend_list(generator: &mut SchemaGenerator) -> Schema {
    list_of(generator.subschema_for::<crate::model::BackendName>().to_value())
}

/// The JSON Schema (draft 2020-12) of `nauthilus.yml`: unknown keys are refused
/// (`additionalProperties: false`), required keys are listed, defaults and descriptions given.
pub fn json_schema() -> Value {
    let mut schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Config>()
        .to_value();
    close_objects(&mut schema);
    if let Value::Object(root) = &mut schema {
        root.insert("title".into(), "nauthilus.yml".into());
        root.insert(
            "description".into(),
            "Configuration of nauthilus-rs (Nauthilus v1.12 layout). Generated from the typed model; see docs/configuration.md.".into(),
        );
    }
    schema
}

/// The schema as the pretty-printed text that `docs/nauthilus.schema.json` holds.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Follows a `$ref` into `$defs` (one level; schemars never chains them).
pub(crate) fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    node.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| root.get("$defs")?.get(name))
        .unwrap_or(node)
}

/// Refuses unknown keys in every object with named keys, and turns `x-required` marks into the
/// object's `required` list (a required key has no default). Walks subschemas only, never
/// `default` or `examples` values.
fn close_objects(schema: &mut Value) {
    let Value::Object(obj) = schema else { return };
    for keyword in ["additionalProperties", "items"] {
        if let Some(sub) = obj.get_mut(keyword) {
            close_objects(sub);
        }
    }
    for keyword in ["properties", "$defs"] {
        if let Some(Value::Object(subs)) = obj.get_mut(keyword) {
            subs.values_mut().for_each(close_objects);
        }
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(subs)) = obj.get_mut(keyword) {
            subs.iter_mut().for_each(close_objects);
        }
    }
    let Some(Value::Object(props)) = obj.get_mut("properties") else {
        return;
    };
    let mut required = Vec::new();
    for (name, prop) in props.iter_mut() {
        if let Value::Object(p) = prop
            && p.remove(REQUIRED_MARK).is_some()
        {
            p.remove("default");
            required.push(Value::String(name.clone()));
        }
    }
    obj.entry("additionalProperties").or_insert(Value::Bool(false));
    if !required.is_empty() {
        obj.insert("required".into(), Value::Array(required));
    }
}
