//! Typed Nauthilus configuration: YAML in the Nauthilus v1.12 layout, `NAUTHILUS_*` environment
//! overrides, validation that reports every problem at once with its key path. The typed model
//! (`model/*.rs`) declares every key once; its JSON Schema ([`schema`]) yields the key catalogue,
//! the reference docs, the example config and the schema editors check `nauthilus.yml` with.

// Tests may read the clock directly; the code under test takes it as an argument.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod catalogue;
pub mod check_backchannel;
mod check_brute_force;
mod check_features;
mod check_ldap;
mod check_observability;
mod check_sql;
mod check_transport;
mod coerce;
mod diagnostic;
pub mod duration;
mod env;
mod known_keys;
mod loader;
pub mod model;
pub mod reference;
pub mod schema;
mod validate;

pub use diagnostic::{ConfigErrors, Diagnostic, Severity};
pub use duration::ConfigDuration;
pub use loader::{LoadedConfig, SEARCH_PATHS, find_config_file, load_file, load_str};
pub use model::*;
pub use schema::{json_schema, json_schema_text};

#[cfg(test)]
mod drift_tests {
    //! The catalogue is read off the schema; it must still cover every typed leaf with its default.

    use serde_json::Value;

    use crate::catalogue::{Kind, keys};
    use crate::coerce::coerce;
    use crate::model::Config;

    fn lookup<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
        path.split('.').try_fold(tree, |node, seg| node.get(seg))
    }

    #[test]
    fn catalogue_defaults_are_the_typed_defaults() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        for key in keys().iter().filter(|k| !k.is_pattern()) {
            let actual =
                lookup(&defaults, &key.path).unwrap_or_else(|| panic!("{} missing from Config", key.path));
            if key.default.is_empty() {
                let empty = match actual {
                    Value::String(s) => s.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    _ => false,
                };
                assert!(
                    empty,
                    "{}: catalogue says no default, Config has {actual}",
                    key.path
                );
                continue;
            }
            let documented = coerce(&key.kind, &Value::String(key.default.clone()))
                .unwrap()
                .unwrap();
            let typed = coerce(&key.kind, actual).unwrap().unwrap();
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
            keys()
                .iter()
                .all(|k| !matches!(&k.kind, Kind::Enum(w) if w.is_empty()))
        );
        let undocumented: Vec<_> = keys()
            .iter()
            .filter(|k| k.doc.is_empty())
            .map(|k| &k.path)
            .collect();
        assert!(
            undocumented.is_empty(),
            "every key has a doc comment: {undocumented:?}"
        );
    }

    #[test]
    fn kinds_and_bounds_come_from_the_model() {
        let kind = |path: &str| crate::catalogue::find(path).unwrap().kind.clone();
        assert_eq!(kind("server.address"), Kind::HostPort);
        assert_eq!(kind("server.redis.password_nonce"), Kind::Secret);
        assert_eq!(
            kind("server.redis.database_number"),
            Kind::UInt { min: 0, max: 15 }
        );
        assert_eq!(kind("max_login_attempts"), Kind::UInt { min: 1, max: 255 });
        assert_eq!(kind("server.redis.dial_timeout"), Kind::Duration { max_secs: 60 });
        assert_eq!(
            kind("brute_force.scale_factor"),
            Kind::Float { min: 0.1, max: 10.0 }
        );
        assert_eq!(kind("server.backends"), Kind::BackendList);
        assert_eq!(kind("brute_force.ip_whitelist"), Kind::NetList);
        assert_eq!(kind("server.redis.cluster.addresses"), Kind::HostPortList);
        assert_eq!(kind("server.default_http_request_header.ssl"), Kind::HeaderName);
        assert_eq!(
            kind("ldap.search[0].scope"),
            Kind::Enum(vec!["base".into(), "one".into(), "sub".into()])
        );
        assert_eq!(
            kind("server.log.level").describe(),
            "none \\| error \\| warn \\| notice \\| info \\| debug"
        );
        let period = crate::catalogue::find("brute_force.buckets[3].period").unwrap();
        assert!(period.required && period.default.is_empty());
        assert_eq!(
            crate::catalogue::find("ldap.optional_ldap_pools.mail.retry_base")
                .unwrap()
                .default,
            "200ms"
        );
    }
}

#[cfg(test)]
mod docs_tests {
    //! `docs/configuration.md` (its key table), `docs/nauthilus.schema.json` and
    //! `examples/nauthilus.yml` are generated from the model and must be up to date.
    //! `NAUTHILUS_BLESS=1 cargo test -p nauthilus-config` rewrites them.

    use std::path::PathBuf;

    use serde_json::Value;

    use crate::catalogue::{keys, path_matches};

    const BEGIN: &str = "<!-- BEGIN GENERATED KEYS";
    const END: &str = "<!-- END GENERATED KEYS -->";

    fn repo(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
    }

    /// Compares `path` (between `start` and `end` bytes of its text) with `generated`; rewrites
    /// it under `NAUTHILUS_BLESS`, fails otherwise.
    fn check_generated(path: &str, generated: &str, region: impl Fn(&str) -> (usize, usize)) {
        let file = repo(path);
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let (start, end) = region(&text);
        if text[start..end] == *generated {
            return;
        }
        if std::env::var_os("NAUTHILUS_BLESS").is_some() {
            std::fs::write(&file, format!("{}{generated}{}", &text[..start], &text[end..])).unwrap();
        } else {
            panic!(
                "{path} is out of date: regenerate it with NAUTHILUS_BLESS=1 cargo test -p nauthilus-config"
            );
        }
    }

    #[test]
    fn reference_docs_list_every_key() {
        check_generated(
            "docs/configuration.md",
            &crate::reference::markdown_table(),
            |text| {
                let start = text.find(BEGIN).expect("begin marker");
                let start = start + text[start..].find("-->\n").expect("end of begin marker") + 4;
                (start, text.find(END).expect("end marker"))
            },
        );
    }

    #[test]
    fn the_published_schema_is_current() {
        check_generated(
            "docs/nauthilus.schema.json",
            &crate::schema::json_schema_text(),
            |t| (0, t.len()),
        );
    }

    #[test]
    fn the_example_config_is_current() {
        check_generated("examples/nauthilus.yml", &crate::reference::example_yaml(), |t| {
            (0, t.len())
        });
    }

    #[test]
    fn the_quickstart_config_is_clean() {
        let loaded = crate::load_file(&repo("examples/quickstart.yml"), Vec::new())
            .unwrap_or_else(|e| panic!("{:?}", e.errors));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert!(loaded.config.server.has_feature(crate::Feature::BruteForce));
    }

    #[test]
    fn the_example_config_is_clean_and_complete() {
        // The generated text, which `the_example_config_is_current` keeps equal to the file (read
        // here, it could race with a blessing rewrite).
        let text = crate::reference::example_yaml();
        let (_, warnings) = crate::load_str(&text, &repo("examples"), Vec::new())
            .unwrap_or_else(|e| panic!("{:?}", e.errors));
        assert!(warnings.is_empty(), "{warnings:?}");
        let raw: Value = serde_saphyr::from_str(&text).unwrap();
        let mut present = Vec::new();
        crate::leaf_paths(&raw, "", &mut present);
        for key in keys() {
            assert!(
                present.iter().any(|p| path_matches(&key.path, p)
                    // A map keyed by user names is one key; the names may contain dots.
                    || (key.kind == crate::catalogue::Kind::NetMap
                        && p.starts_with(&format!("{}.", key.path)))),
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
