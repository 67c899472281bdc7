//! Typed Nauthilus configuration: YAML in the Nauthilus v1.12 layout, `NAUTHILUS_*` environment
//! overrides, validation that reports every problem at once with its key path, and the catalogue
//! of implemented keys that the reference docs are generated from.

pub mod catalogue;
mod coerce;
mod diagnostic;
pub mod duration;
mod env;
mod known_keys;
mod loader;
pub mod model;
pub mod reference;
mod validate;

pub use diagnostic::{ConfigErrors, Diagnostic, Severity};
pub use duration::ConfigDuration;
pub use loader::{LoadedConfig, SEARCH_PATHS, find_config_file, load_file, load_str};
pub use model::*;

#[cfg(test)]
mod drift_tests {
    //! The catalogue, the typed defaults, the reference docs and the example config must agree.

    use serde_json::Value;

    use crate::catalogue::{KEYS, Kind};
    use crate::coerce::coerce;
    use crate::model::Config;

    fn lookup<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
        path.split('.').try_fold(tree, |node, seg| node.get(seg))
    }

    #[test]
    fn catalogue_defaults_are_the_typed_defaults() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        for key in KEYS.iter().filter(|k| !k.path.contains('*')) {
            let actual =
                lookup(&defaults, key.path).unwrap_or_else(|| panic!("{} missing from Config", key.path));
            if key.default.is_empty() {
                let empty = match actual {
                    Value::String(s) => s.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    _ => false,
                };
                assert!(
                    empty,
                    "{}: catalogue says no default, Config has {actual}",
                    key.path
                );
                continue;
            }
            let documented = coerce(key.kind, &Value::String(key.default.into()))
                .unwrap()
                .unwrap();
            let typed = coerce(key.kind, actual).unwrap().unwrap();
            assert_eq!(
                documented, typed,
                "{}: documented default differs from Config::default()",
                key.path
            );
        }
    }

    #[test]
    fn every_typed_leaf_is_in_the_catalogue() {
        fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
            match v {
                Value::Object(m) if !m.is_empty() => {
                    for (k, v) in m {
                        let p = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        leaves(v, &p, out);
                    }
                }
                Value::Object(_) => {} // free-form maps (nginx_backends) are empty by default
                _ => out.push(prefix.to_owned()),
            }
        }
        let mut paths = Vec::new();
        leaves(&serde_json::to_value(Config::default()).unwrap(), "", &mut paths);
        for p in paths {
            assert!(
                crate::catalogue::find(&p).is_some(),
                "{p} is in Config but not in the catalogue"
            );
        }
        assert!(
            KEYS.iter()
                .all(|k| !matches!(k.kind, Kind::Enum(w) if w.is_empty()))
        );
    }
}
