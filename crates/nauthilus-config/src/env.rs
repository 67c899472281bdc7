//! `NAUTHILUS_*` environment overrides: `NAUTHILUS_` + the key path upper-cased with dots as
//! underscores (`server.redis.master.address` → `NAUTHILUS_SERVER_REDIS_MASTER_ADDRESS`).
//! An override wins over the file. The environment is passed in, never read here.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::catalogue::{self, env_var_for};
use crate::diagnostic::Diagnostic;
use crate::known_keys;

/// Variables Nauthilus reads directly that are not configuration keys.
const NOT_KEYS: &[&str] = &["NAUTHILUS_TERM_THEME", "NAUTHILUS_EXPERIMENTAL_ML"];

/// Which key path each applied variable set, so diagnostics can name the variable.
pub type EnvOrigins = HashMap<String, String>;

/// Writes every `NAUTHILUS_*` override into `tree`; returns where values came from and warnings
/// about variables that set nothing.
pub fn apply_overrides<I>(tree: &mut Map<String, Value>, env: I) -> (EnvOrigins, Vec<Diagnostic>)
where
    I: IntoIterator<Item = (String, String)>,
{
    let by_env: HashMap<String, &'static str> = catalogue::keys()
        .iter()
        .filter_map(|k| k.env_var().map(|v| (v, k.path.as_str())))
        .collect();
    let mut origins = EnvOrigins::new();
    let mut warnings = Vec::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("NAUTHILUS_"))
        .collect();
    vars.sort();
    for (var, value) in vars {
        if let Some(path) = by_env.get(&var) {
            if let Err(e) = insert(tree, path, Value::String(value)) {
                warnings.push(Diagnostic::error(*path, e).from_env(Some(&var)));
            } else {
                origins.insert((*path).to_owned(), var);
            }
        } else if NOT_KEYS.contains(&var.as_str()) {
            continue;
        } else if let Some(path) = known_nauthilus_path(&var) {
            warnings.push(
                Diagnostic::warning(
                    path,
                    "Nauthilus key that nauthilus-rs does not implement yet; ignored",
                )
                .from_env(Some(&var)),
            );
        } else {
            warnings.push(Diagnostic::warning(
                var.clone(),
                "environment variable names no configuration key; ignored",
            ));
        }
    }
    (origins, warnings)
}

fn known_nauthilus_path(var: &str) -> Option<String> {
    known_keys::all().find(|path| !path.contains('*') && env_var_for(path) == var)
}

fn insert(tree: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), String> {
    let mut segments: Vec<&str> = path.split('.').collect();
    let Some(last) = segments.pop() else { return Ok(()) };
    let mut node = tree;
    let mut walked = String::new();
    for seg in segments {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(seg);
        let entry = node
            .entry(seg.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        node = match entry {
            Value::Object(map) => map,
            _ => return Err(format!("cannot override: {walked} in the file is not a mapping")),
        };
    }
    node.insert(last.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn overrides_create_nested_keys() {
        let mut tree = Map::new();
        let (origins, warnings) = apply_overrides(
            &mut tree,
            env(&[("NAUTHILUS_SERVER_REDIS_MASTER_ADDRESS", "10.0.0.1:6379")]),
        );
        assert!(warnings.is_empty());
        assert_eq!(
            Value::Object(tree),
            json!({"server": {"redis": {"master": {"address": "10.0.0.1:6379"}}}})
        );
        assert_eq!(
            origins["server.redis.master.address"],
            "NAUTHILUS_SERVER_REDIS_MASTER_ADDRESS"
        );
    }

    #[test]
    fn unimplemented_and_unknown_variables_warn() {
        let mut tree = Map::new();
        let (_, warnings) = apply_overrides(
            &mut tree,
            env(&[
                ("NAUTHILUS_LDAP_CONFIG_NUMBER_OF_WORKERS", "4"),
                ("NAUTHILUS_SERVR_ADDRESS", "x"),
                ("HOME", "/root"),
            ]),
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(warnings[0].path, "ldap.config.number_of_workers");
        assert!(warnings[1].message.contains("names no configuration key"));
    }
}
