//! The binary itself: `--config-check` reports every error in one run; `--config-schema` prints
//! the published schema; `--version` answers.

use std::process::Command;

fn nauthilus(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nauthilus"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn config_check_reports_two_errors_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nauthilus.yml");
    std::fs::write(&path, "server:\n  adress: 127.0.0.1:9080\n  max_concurrent_requests: lots\n  backends: [passwd_file]\npasswd_file:\n  path: users\n").unwrap();
    let out = nauthilus(&["--config", path.to_str().unwrap(), "--config-check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: server.adress: unknown key (did you mean `server.address`?)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: server.max_concurrent_requests: expected a whole number"),
        "{stderr}"
    );
    assert!(stderr.contains("2 configuration error(s)"), "{stderr}");
}

#[test]
fn config_check_warns_about_unimplemented_nauthilus_keys_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users"), "a:{PLAIN}b\n").unwrap();
    let path = dir.path().join("nauthilus.yml");
    std::fs::write(
        &path,
        "server:\n  backends: [passwd_file]\npasswd_file:\n  path: users\noauth2:\n  clients: []\n",
    )
    .unwrap();
    let out = nauthilus(&["--config", path.to_str().unwrap(), "--config-check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: oauth2: Nauthilus key that nauthilus-rs does not implement yet"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
}

#[test]
fn config_check_loads_the_passwd_file_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users"), "a:{PLAIN}b\nbroken\n").unwrap();
    let path = dir.path().join("nauthilus.yml");
    std::fs::write(
        &path,
        "server:\n  backends: [passwd_file]\npasswd_file:\n  path: users\n",
    )
    .unwrap();
    let out = nauthilus(&["--config", path.to_str().unwrap(), "--config-check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}

#[test]
fn env_overrides_reach_the_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nauthilus.yml");
    std::fs::write(&path, "server:\n  backends: [cache]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nauthilus"))
        .args(["--config", path.to_str().unwrap(), "--config-check"])
        .env("NAUTHILUS_SERVER_ADDRESS", "not-an-address")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("server.address (from NAUTHILUS_SERVER_ADDRESS)"),
        "{stderr}"
    );
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let out = nauthilus(&["--config", "/nonexistent/nauthilus.yml", "--config-check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/nauthilus.yml: cannot read"));
}

#[test]
fn config_schema_prints_the_published_schema() {
    let out = nauthilus(&["--config-schema"]);
    assert!(out.status.success());
    let published = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/nauthilus.schema.json"
    ))
    .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == published,
        "docs/nauthilus.schema.json differs from --config-schema: NAUTHILUS_BLESS=1 cargo test -p nauthilus-config"
    );
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["properties"]["server"]["$ref"], "#/$defs/ServerConfig");
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn version_prints_the_version() {
    let out = nauthilus(&["--version"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(&format!("nauthilus {}", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn config_check_reads_redis_tls_files_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users"), "a:{PLAIN}b\n").unwrap();
    let path = dir.path().join("nauthilus.yml");
    let yaml = "server:\n  backends: [cache, passwd_file]\n  redis:\n    master: {address: '127.0.0.1:1'}\n    password_nonce: 0123456789abcdef\n    tls: {enabled: true, ca_file: missing-ca.pem}\npasswd_file:\n  path: users\n";
    std::fs::write(&path, yaml).unwrap();
    let out = nauthilus(&["--config", path.to_str().unwrap(), "--config-check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("server.redis:") && stderr.contains("missing-ca.pem"),
        "{stderr}"
    );
}

#[test]
fn config_check_checks_ldap_filters_uris_and_tls_files_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nauthilus.yml");
    std::fs::write(
        &path,
        "server:\n  backends: [ldap]\nldap:\n  config:\n    server_uri: [ldap://127.0.0.1:1, 'http://x']\n    tls_ca_cert: /nonexistent/ca.pem\n  search:\n    - protocol: default\n      base_dn: dc=example,dc=test\n      filter: {user: '(uid=%{nope})'}\n      mapping: {account_field: uid}\n",
    )
    .unwrap();
    let out = nauthilus(&["--config", path.to_str().unwrap(), "--config-check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: ldap.search[0].filter.user: unknown macro %{nope}"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: ldap.config.server_uri: \"http://x\""),
        "{stderr}"
    );
    assert!(stderr.contains("error: ldap.config.tls_ca_cert:"), "{stderr}");
}
