//! What is generated from the typed model for people: the Markdown key table in
//! `docs/configuration.md`, the commented example `examples/nauthilus.yml` and the published JSON
//! Schema `docs/nauthilus.schema.json`. Tests keep the checked-in files identical to these
//! (`NAUTHILUS_BLESS=1 cargo test -p nauthilus-config` rewrites them).

use serde_json::{Map, Value};

use crate::catalogue::keys;
use crate::schema::{json_schema, resolve};

/// The generated reference table (one row per implemented key).
pub fn markdown_table() -> String {
    let mut out =
        String::from("| key | type | default | environment variable | meaning |\n|---|---|---|---|---|\n");
    for key in keys() {
        let default = if key.default.is_empty() {
            "—".to_owned()
        } else {
            format!("`{}`", key.default)
        };
        let env = key.env_var().map_or_else(|| "—".to_owned(), |v| format!("`{v}`"));
        out.push_str(&format!(
            "| `{}` | {} | {default} | {env} | {} |\n",
            key.path,
            key.kind.describe(),
            key.doc
        ));
    }
    out
}

const EXAMPLE_HEADER: &str = "\
# yaml-language-server: $schema=../docs/nauthilus.schema.json
# Every key nauthilus-rs implements, each under a comment saying what it does. Values are the
# defaults, except where an example is more telling (backends, features, buckets, LDAP, ...).
# Each key without `*` or `[]` in its path can be overridden by NAUTHILUS_<PATH>, e.g.
# NAUTHILUS_SERVER_ADDRESS (docs/configuration.md).
# GENERATED from crates/nauthilus-config/src/model: do not edit by hand; regenerate with
#   NAUTHILUS_BLESS=1 cargo test -p nauthilus-config
";

/// The commented example configuration: every key with its example value or default.
pub fn example_yaml() -> String {
    let schema = json_schema();
    let mut out = String::from(EXAMPLE_HEADER);
    write_section(&schema, &schema, &Value::Null, 0, true, &mut out);
    out
}

/// Writes the keys of an object schema; `value` holds example values given further up. `docs`
/// off (a list's later items) writes only the keys `value` gives, without comments.
fn write_section(root: &Value, schema: &Value, value: &Value, indent: usize, docs: bool, out: &mut String) {
    let pad = " ".repeat(indent);
    let Some(Value::Object(props)) = schema.get("properties") else {
        return;
    };
    for (name, prop) in props
        .iter()
        .filter(|(name, _)| docs || value.get(name.as_str()).is_some())
    {
        // An example given higher up wins over this key's own example, which wins over its
        // default; a section's default never hides the examples of its keys.
        let given = value
            .get(name)
            .or_else(|| prop.get("examples").and_then(|e| e.get(0)));
        let v = given
            .or_else(|| prop.get("default"))
            .cloned()
            .unwrap_or(Value::Null);
        if docs && let Some(doc) = prop.get("description").and_then(Value::as_str) {
            out.push_str(&format!("{pad}# {doc}\n"));
        }
        let sub = resolve(root, prop);
        if sub.get("properties").is_some() {
            out.push_str(&format!("{pad}{name}:\n"));
            write_section(root, sub, given.unwrap_or(&Value::Null), indent + 2, docs, out);
        } else if let Some(item) = sub.get("additionalProperties").filter(|a| a.is_object()) {
            let entries = v.as_object().cloned().unwrap_or_default();
            if entries.is_empty() {
                out.push_str(&format!("{pad}{name}: {{}}\n"));
            } else {
                out.push_str(&format!("{pad}{name}:\n"));
            }
            let item = resolve(root, item);
            for (key, entry) in &entries {
                if item.get("properties").is_some() {
                    out.push_str(&format!("{pad}  {key}:\n"));
                    write_section(root, item, entry, indent + 4, docs, out);
                } else {
                    out.push_str(&format!("{pad}  {key}: {}\n", scalar(entry, false)));
                }
            }
        } else if let (Some(item), Value::Array(items)) = (sub.get("items"), &v)
            && resolve(root, item).get("properties").is_some()
            && !items.is_empty()
        {
            out.push_str(&format!("{pad}{name}:\n"));
            for (i, entry) in items.iter().enumerate() {
                let mut text = String::new();
                write_section(
                    root,
                    resolve(root, item),
                    entry,
                    indent + 4,
                    docs && i == 0,
                    &mut text,
                );
                out.push_str(&as_list_item(&text, indent + 2));
            }
        } else {
            out.push_str(&format!("{pad}{name}: {}\n", scalar(&v, false)));
        }
    }
}

/// Turns a mapping written at `indent + 2` into a list item: its leading comments move to the
/// dash's column and its first key follows the dash.
fn as_list_item(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut dashed = false;
    for line in text.lines() {
        let body = line.trim_start();
        if !dashed && body.starts_with('#') {
            out.push_str(&format!("{pad}{body}\n"));
        } else if !dashed {
            out.push_str(&format!("{pad}- {body}\n"));
            dashed = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A value in YAML: strings plain where that reads back as the same string, lists in flow style.
fn scalar(v: &Value, in_flow: bool) -> String {
    match v {
        Value::String(s) if reads_back(s, in_flow) => s.clone(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| scalar(i, true)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(m) if m.is_empty() => "{}".to_owned(),
        Value::Null => "~".to_owned(),
        other => other.to_string(),
    }
}

fn reads_back(s: &str, in_flow: bool) -> bool {
    let text = if in_flow {
        format!("k: [{s}]\n")
    } else {
        format!("k: {s}\n")
    };
    let expected = if in_flow {
        Value::Array(vec![Value::String(s.to_owned())])
    } else {
        Value::String(s.to_owned())
    };
    !s.is_empty()
        && !s.starts_with([':', '-', '?', '!', '&', '*', '%', '@', '`', '|', '>'])
        && !s.contains(['\n', '"', '\''])
        && serde_saphyr::from_str::<Map<String, Value>>(&text).is_ok_and(|m| m.get("k") == Some(&expected))
}
