#![allow(clippy::disallowed_methods)]
//! The published JSON Schema (what `nauthilus --config-schema` prints) accepts the shipped
//! configurations and refuses what the loader refuses: misspelt keys and out-of-range values.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::path::PathBuf;

use serde_json::{Value, json};

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&nauthilus_config::json_schema()).expect("the schema is valid JSON Schema")
}

fn yaml_file(path: &str) -> Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path);
    serde_saphyr::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

fn problems(instance: &Value) -> Vec<String> {
    validator()
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_shipped_configs_are_valid() {
    for path in ["examples/nauthilus.yml", "examples/quickstart.yml"] {
        let problems = problems(&yaml_file(path));
        assert!(problems.is_empty(), "{path}: {problems:?}");
    }
}

#[test]
fn a_misspelt_key_is_refused() {
    let mut config = yaml_file("examples/quickstart.yml");
    config["server"]["adress"] = json!("127.0.0.1:9080");
    let problems = problems(&config);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("/server: ") && problems[0].contains("adress"),
        "{problems:?}"
    );
}

#[test]
fn an_out_of_range_value_is_refused() {
    let mut config = yaml_file("examples/quickstart.yml");
    config["brute_force"]["buckets"][0]["cidr"] = json!(129);
    config["server"]["redis"] =
        json!({"database_number": 16, "dial_timeout": 61, "tls": {"min_tls_version": "tls1.1"}});
    let problems = problems(&config);
    let paths: Vec<&str> = problems.iter().map(|p| p.split(": ").next().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "/server/redis/database_number",
            "/server/redis/dial_timeout",
            "/server/redis/tls/min_tls_version",
            "/brute_force/buckets/0/cidr",
        ],
        "{problems:?}"
    );
}

#[test]
fn a_bucket_without_its_required_keys_is_refused() {
    let mut config = yaml_file("examples/quickstart.yml");
    config["brute_force"]["buckets"] = json!([{"name": "b", "ipv4": true}]);
    let problems = problems(&config);
    assert!(problems.iter().any(|p| p.contains("period")), "{problems:?}");
}

#[test]
fn durations_and_comma_lists_are_written_as_the_loader_reads_them() {
    let v = validator();
    let config = |redis: Value| json!({"server": {"backends": "cache, passwd_file", "redis": redis}});
    assert!(v.is_valid(&config(
        json!({"dial_timeout": "1m", "read_timeout": 1.5, "write_timeout": "250ms"})
    )));
    assert!(!v.is_valid(&config(json!({"dial_timeout": "1d"}))));
    assert!(!v.is_valid(&config(json!({"master": {"address": "localhost"}}))));
    assert!(!v.is_valid(&json!({"server": {"backends": ["lmdb"]}})));
    assert!(v.is_valid(&json!({"server": {"backends": ["sql", "sql(pfa)"]}})));
    assert!(v.is_valid(&json!({"server": {"backends": ["lua", "lua(sql)"]}})));
}
