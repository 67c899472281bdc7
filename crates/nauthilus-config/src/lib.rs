//! Typed Nauthilus configuration: YAML in the Nauthilus v1.12 layout, `NAUTHILUS_*` environment
//! overrides, validation that reports every problem at once with its key path, and the catalogue
//! of implemented keys that the reference docs are generated from.

pub mod catalogue;
mod check_brute_force;
mod check_ldap;
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
        for key in KEYS.iter().filter(|k| !k.is_pattern()) {
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
        let mut paths = Vec::new();
        // Free-form maps (nginx_backends) are empty by default and yield no leaves.
        crate::leaf_paths(&serde_json::to_value(Config::default()).unwrap(), "", &mut paths);
        for p in paths {
            assert!(
                crate::catalogue::find(&p).is_some() || crate::catalogue::is_list_section(&p),
                "{p} is in Config but not in the catalogue"
            );
        }
        assert!(
            KEYS.iter()
                .all(|k| !matches!(k.kind, Kind::Enum(w) if w.is_empty()))
        );
    }
}

#[cfg(test)]
mod docs_tests {
    //! `docs/configuration.md` and `examples/nauthilus.yml` must match the catalogue.
    //! `NAUTHILUS_BLESS=1 cargo test -p nauthilus-config` rewrites the generated docs table.

    use std::path::PathBuf;

    use serde_json::Value;

    use crate::catalogue::{KEYS, path_matches};

    const BEGIN: &str = "<!-- BEGIN GENERATED KEYS";
    const END: &str = "<!-- END GENERATED KEYS -->";

    fn repo(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
    }

    #[test]
    fn reference_docs_list_every_key() {
        let path = repo("docs/configuration.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text.find(BEGIN).expect("begin marker");
        let start = start + text[start..].find("-->\n").expect("end of begin marker") + 4;
        let end = text.find(END).expect("end marker");
        let generated = crate::reference::markdown_table();
        if text[start..end] != generated {
            if std::env::var_os("NAUTHILUS_BLESS").is_some() {
                std::fs::write(&path, format!("{}{generated}{}", &text[..start], &text[end..])).unwrap();
            } else {
                panic!(
                    "docs/configuration.md is out of date: run NAUTHILUS_BLESS=1 cargo test -p nauthilus-config"
                );
            }
        }
    }

    #[test]
    fn the_quickstart_config_is_clean() {
        let loaded = crate::load_file(&repo("examples/quickstart.yml"), Vec::new())
            .unwrap_or_else(|e| panic!("{:?}", e.errors));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert!(loaded.config.server.has_feature("brute_force"));
    }

    #[test]
    fn the_example_config_is_clean_and_complete() {
        let path = repo("examples/nauthilus.yml");
        let loaded = crate::load_file(&path, Vec::new()).unwrap_or_else(|e| panic!("{:?}", e.errors));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let raw: Value = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut present = Vec::new();
        crate::leaf_paths(&raw, "", &mut present);
        for key in KEYS {
            assert!(
                present.iter().any(|p| path_matches(key.path, p)),
                "examples/nauthilus.yml lacks {}",
                key.path
            );
        }
    }
}

/// Every leaf path of a JSON tree (`server.log.level`, `brute_force.buckets[0].name`, ...), for
/// the drift tests. A list of mappings is walked item by item; other lists are leaves.
#[cfg(test)]
fn leaf_paths(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Array(items) if !items.is_empty() && items.iter().all(|i| i.is_object()) => {
            for (i, item) in items.iter().enumerate() {
                leaf_paths(item, &format!("{prefix}[{i}]"), out);
            }
        }
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_paths(v, &p, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}
