#![allow(clippy::disallowed_methods)]
//! Property-based fuzzing of the configuration loader: whatever the text, the values at real
//! key paths or the `NAUTHILUS_*` overrides, loading never panics and ends in either a
//! configuration or errors that each name a key path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::collections::BTreeMap;
use std::path::Path;

use nauthilus_config::catalogue::{Key, keys as catalogue_keys};
use nauthilus_config::{ConfigErrors, Diagnostic, load_str};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 384,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Every error names where it is: a key path, or `<yaml>` for text that is not YAML.
fn check_result(result: &Result<(nauthilus_config::Config, Vec<Diagnostic>), ConfigErrors>) {
    let Err(errors) = result else {
        return;
    };
    assert!(!errors.errors.is_empty(), "an Err without errors");
    for error in &errors.errors {
        assert!(!error.path.trim().is_empty(), "error without a key path: {error}");
        assert!(
            !error.message.trim().is_empty(),
            "error without a message: {error}"
        );
        // `<config>` is the fallback for a value the checks let through but the typed model
        // refuses; the checks must catch every bad value with its key path first.
        assert_ne!(
            error.path, "<config>",
            "a value passed the checks but not the model: {error}"
        );
    }
}

/// YAML-ish text: keys, colons, indentation, flow collections, quotes, anchors and tags.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("server".to_owned()),
        Just("redis".to_owned()),
        Just("ldap".to_owned()),
        Just("brute_force".to_owned()),
        Just("address".to_owned()),
        Just("backends".to_owned()),
        Just(": ".to_owned()),
        Just(":".to_owned()),
        Just("\n".to_owned()),
        Just("\n  ".to_owned()),
        Just("\n    ".to_owned()),
        Just("- ".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(", ".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("<<: *a".to_owned()),
        Just("!!str ".to_owned()),
        Just("!!binary ".to_owned()),
        Just("~".to_owned()),
        Just("#".to_owned()),
        Just("|\n".to_owned()),
        Just("---\n".to_owned()),
        Just("1e999".to_owned()),
        Just("-1".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("true".to_owned()),
        Just("10s".to_owned()),
        ".{0,8}",
    ];
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

/// A YAML value of any shape, rendered inline.
fn value() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        Just("~".to_owned()),
        Just("true".to_owned()),
        Just("no".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("65536".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("1.5".to_owned()),
        Just(".nan".to_owned()),
        Just("1e400".to_owned()),
        Just("10s".to_owned()),
        Just("-5m".to_owned()),
        Just("99999999h".to_owned()),
        Just("127.0.0.1:9080".to_owned()),
        Just("[::1]:0".to_owned()),
        Just("192.0.2.0/24".to_owned()),
        Just("ldap://127.0.0.1".to_owned()),
        Just("\"\"".to_owned()),
        Just("sub".to_owned()),
        Just("info".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:?}")),
        ".{0,20}".prop_map(|s| format!("{s:?}")),
        "[a-z0-9:./_-]{0,20}",
    ];
    scalar.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            proptest::collection::vec(("[a-z_]{1,10}", inner), 0..3).prop_map(|pairs| {
                let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

/// A YAML document as a tree whose leaves are YAML text.
enum Node {
    Map(BTreeMap<String, Node>),
    List(Vec<Node>),
    Raw(String),
}

impl Node {
    /// A valid configuration to set fuzzed keys into, so that errors come from those keys.
    fn base() -> Self {
        let mut root = Node::Map(BTreeMap::new());
        root.set("server.backends", "x", "[cache, passwd_file]");
        root.set("passwd_file.path", "x", "users.passwd");
        root
    }

    /// Sets `path` (a catalogue pattern) to `value`: `*` becomes `name`, `x[]` a one-item list
    /// of mappings. Whatever stands in the way is replaced.
    fn set(&mut self, path: &str, name: &str, value: &str) {
        let mut node = self;
        let segments: Vec<&str> = path.split('.').collect();
        for (i, segment) in segments.iter().enumerate() {
            let key = if *segment == "*" {
                name
            } else {
                segment.trim_end_matches("[]")
            };
            if !matches!(node, Node::Map(_)) {
                *node = Node::Map(BTreeMap::new());
            }
            let Node::Map(map) = node else { unreachable!() };
            if i + 1 == segments.len() {
                map.insert(key.to_owned(), Node::Raw(value.to_owned()));
                return;
            }
            let child = map
                .entry(key.to_owned())
                .or_insert_with(|| Node::Map(BTreeMap::new()));
            node = if segment.ends_with("[]") {
                if !matches!(child, Node::List(items) if !items.is_empty()) {
                    *child = Node::List(vec![Node::Map(BTreeMap::new())]);
                }
                let Node::List(items) = child else { unreachable!() };
                &mut items[0]
            } else {
                child
            };
        }
    }

    fn render(&self, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match self {
            Node::Raw(value) => out.push_str(&format!(" {value}\n")),
            Node::Map(map) => {
                out.push('\n');
                for (key, child) in map {
                    out.push_str(&format!("{pad}{key}:"));
                    child.render(indent + 2, out);
                }
            }
            Node::List(items) => {
                out.push('\n');
                for item in items {
                    out.push_str(&format!("{pad}-"));
                    item.render(indent + 2, out);
                }
            }
        }
    }

    fn to_yaml(&self) -> String {
        let mut out = String::new();
        self.render(0, &mut out);
        out
    }
}

fn key() -> impl Strategy<Value = Key> {
    proptest::sample::select(catalogue_keys().to_vec())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_loads_or_names_its_errors(text in prop_oneof![yamlish(), ".{0,200}"]) {
        let result = load_str(&text, Path::new("/nonexistent"), Vec::new());
        check_result(&result);
    }

    #[test]
    fn arbitrary_values_at_real_keys_load_or_name_their_errors(
        keys in proptest::collection::vec((key(), "[a-z]{1,6}", value()), 1..4),
    ) {
        let mut document = Node::base();
        for (key, name, value) in &keys {
            document.set(&key.path, name, value);
        }
        let text = document.to_yaml();
        let result = load_str(&text, Path::new("/nonexistent"), Vec::new());
        check_result(&result);
        // Errors come from the keys that were set (cross-checks name `server.backends`).
        if let Err(errors) = &result {
            let related = |path: &str| {
                path == "<yaml>"
                    || path.starts_with("server.backends")
                    || keys.iter().any(|(key, _, _)| path.starts_with(key.path.split('.').next().unwrap()))
            };
            prop_assert!(
                errors.errors.iter().all(|e| related(&e.path)),
                "{text}\nan error not about the keys set: {:?}", errors.errors
            );
        }
    }

    #[test]
    fn arbitrary_environment_overrides_load_or_name_their_variable(
        key in key().prop_filter("keys with an environment variable", |k| k.env_var().is_some()),
        value in prop_oneof![".{0,30}", value()],
    ) {
        let var = key.env_var().unwrap();
        let base = Node::base().to_yaml();
        let result = load_str(&base, Path::new("/nonexistent"), vec![(var.clone(), value.clone())]);
        check_result(&result);
        // An error about the overridden key says which variable set it.
        if let Err(errors) = &result {
            for error in errors.errors.iter().filter(|e| e.path == key.path) {
                prop_assert_eq!(error.env_var.as_deref(), Some(var.as_str()), "{}={:?}: {}", var, value, error);
            }
        }
    }
}

/// Found by this suite: a tagged empty key (`!!str : `) was reported without a key path.
#[test]
fn a_tagged_empty_key_names_where_it_is() {
    let result = load_str("!!str : ", Path::new("/nonexistent"), Vec::new());
    check_result(&result);
}
