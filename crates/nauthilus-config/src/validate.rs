//! Walks the raw configuration tree against the catalogue: every unknown key, wrong value and
//! unimplemented Nauthilus key is found in one pass, then cross-key rules are checked on the
//! typed result.

use serde_json::{Map, Value};

use crate::catalogue;
use crate::coerce::coerce;
use crate::diagnostic::Diagnostic;
use crate::env::EnvOrigins;
use crate::known_keys;
use crate::model::{BackendName, Config, RedisMode};

/// The tree reduced to implemented keys with canonical values, plus what was found on the way.
pub struct Walked {
    pub tree: Value,
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks every key of `root`.
pub fn walk(root: &Map<String, Value>, origins: &EnvOrigins) -> Walked {
    let mut diagnostics = Vec::new();
    let tree = walk_map(root, "", origins, &mut diagnostics);
    Walked {
        tree: Value::Object(tree),
        diagnostics,
    }
}

fn walk_map(
    map: &Map<String, Value>,
    prefix: &str,
    origins: &EnvOrigins,
    out: &mut Vec<Diagnostic>,
) -> Map<String, Value> {
    let mut result = Map::new();
    for (raw_key, value) in map {
        let key = raw_key.to_ascii_lowercase();
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let env = origins.get(&path).map(String::as_str);
        if result.contains_key(&key) {
            out.push(Diagnostic::error(
                &path,
                "given twice (keys are case-insensitive)",
            ));
            continue;
        }
        if let Some(spec) = catalogue::find(&path) {
            match coerce(&spec.kind, value) {
                Ok(Some(v)) => {
                    result.insert(key, v);
                }
                Ok(None) => {}
                Err(e) => out.push(Diagnostic::error(&path, e).from_env(env)),
            }
        } else if catalogue::is_list_section(&path) {
            match value {
                Value::Array(items) => {
                    let walked = items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, item)| {
                            let item_path = format!("{path}[{i}]");
                            match item {
                                Value::Object(inner) => {
                                    Some(Value::Object(walk_map(inner, &item_path, origins, out)))
                                }
                                _ => {
                                    out.push(Diagnostic::error(
                                        &item_path,
                                        "expected a mapping of keys, found a value",
                                    ));
                                    None
                                }
                            }
                        })
                        .collect();
                    result.insert(key, Value::Array(walked));
                }
                Value::Null => {}
                _ => out.push(Diagnostic::error(
                    &path,
                    "expected a list of mappings (- name: ...)",
                )),
            }
        } else if catalogue::is_section(&path) {
            match value {
                Value::Object(inner) => {
                    result.insert(key, Value::Object(walk_map(inner, &path, origins, out)));
                }
                Value::Null => {}
                other => out.push(Diagnostic::error(
                    &path,
                    format!(
                        "expected a mapping of keys, found {}",
                        if other.is_array() { "a list" } else { "a value" }
                    ),
                )),
            }
        } else if known_keys::is_known(&path) {
            out.push(
                Diagnostic::warning(
                    &path,
                    "Nauthilus key that nauthilus-rs does not implement yet; ignored",
                )
                .from_env(env),
            );
        } else {
            let mut message = "unknown key".to_owned();
            if let Some(s) = suggestion(&path) {
                message.push_str(&format!(" (did you mean `{s}`?)"));
            }
            // An empty key (`: x`, `!!str : x`) still needs a place to be reported at.
            let at = if path.trim().is_empty() || path.ends_with('.') {
                format!("{path}<empty key>")
            } else {
                path
            };
            out.push(Diagnostic::error(&at, message).from_env(env));
        }
    }
    result
}

/// The closest implemented or Nauthilus key with the same parent, if it is close enough.
fn suggestion(path: &str) -> Option<String> {
    let (parent, leaf) = path.rsplit_once('.').unwrap_or(("", path));
    let candidates = catalogue::keys()
        .iter()
        .map(|k| k.path.clone())
        .chain(known_keys::all());
    let mut best: Option<(usize, String)> = None;
    for candidate in candidates {
        let segments: Vec<&str> = candidate.split('.').collect();
        let depth = if parent.is_empty() {
            0
        } else {
            parent.split('.').count()
        };
        let Some(name) = segments.get(depth) else { continue };
        let cand_parent = segments[..depth].join(".");
        if !catalogue::path_matches(&cand_parent, parent) || name.contains('*') {
            continue;
        }
        let d = strsim::levenshtein(leaf, name);
        if d <= 2.max(leaf.len() / 4) && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
            let full = if parent.is_empty() {
                (*name).to_owned()
            } else {
                format!("{parent}.{name}")
            };
            best = Some((d, full));
        }
    }
    best.map(|(_, s)| s)
}

/// Rules across keys, checked on the typed configuration.
pub fn check_semantics(config: &Config, origins: &EnvOrigins) -> Vec<Diagnostic> {
    let env = |path: &str| origins.get(path).map(String::as_str);
    let mut out = Vec::new();
    let server = &config.server;
    if server.backends.is_empty() {
        out.push(Diagnostic::error(
            "server.backends",
            "no backend configured; list at least one, e.g. [cache, passwd_file]",
        ));
    }
    let mut seen = Vec::new();
    for b in &server.backends {
        if seen.contains(b) {
            out.push(
                Diagnostic::error("server.backends", format!("backend {b} is listed twice"))
                    .from_env(env("server.backends")),
            );
        }
        seen.push(b.clone());
    }
    if server.backends == [BackendName::Cache] {
        out.push(Diagnostic::error(
            "server.backends",
            "`cache` only remembers logins another backend verified; list a password database after it",
        ));
    }
    if server.backends.contains(&BackendName::PasswdFile) && config.passwd_file.path.is_empty() {
        out.push(Diagnostic::error(
            "passwd_file.path",
            "required because server.backends lists passwd_file",
        ));
    }
    check_lua(config, &mut out);
    let redis = &server.redis;
    let mode = redis.mode();
    let uses_cache = server.backends.contains(&BackendName::Cache);
    let uses_history = server.has_feature(crate::Feature::BruteForce);
    if mode != RedisMode::Embedded
        && (uses_cache || uses_history)
        && redis.password_nonce.chars().count() < 16
    {
        out.push(
            Diagnostic::error(
                "server.redis.password_nonce",
                "must be at least 16 characters when the cache backend or brute_force uses Redis (every instance needs the same nonce)",
            )
            .from_env(env("server.redis.password_nonce")),
        );
    }
    if !redis.password_nonce.is_empty() && redis.password_nonce.chars().any(char::is_whitespace) {
        out.push(Diagnostic::error(
            "server.redis.password_nonce",
            "must not contain white space",
        ));
    }
    if !redis.sentinels.addresses.is_empty() && redis.sentinels.master.is_empty() {
        out.push(Diagnostic::error(
            "server.redis.sentinels.master",
            "required when sentinels.addresses is set",
        ));
    }
    if !redis.sentinels.master.is_empty() && redis.sentinels.addresses.is_empty() {
        out.push(Diagnostic::error(
            "server.redis.sentinels.addresses",
            "required when sentinels.master is set",
        ));
    }
    if mode == RedisMode::Cluster && redis.database_number != 0 {
        out.push(Diagnostic::warning(
            "server.redis.database_number",
            "ignored in Cluster mode (Cluster has only database 0)",
        ));
    }
    if redis.prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        out.push(Diagnostic::error(
            "server.redis.prefix",
            "must not contain white space or control characters",
        ));
    }
    if mode == RedisMode::Cluster && redis.tls.enabled && redis.tls.min_tls_version == "tls1.3" {
        out.push(Diagnostic::error(
            "server.redis.tls.min_tls_version",
            "tls1.3 is not supported in Cluster mode (the cluster client always offers TLS 1.2 and 1.3); use tls1.2",
        ));
    }
    if redis.tls.cert.is_empty() != redis.tls.key.is_empty() {
        out.push(Diagnostic::error(
            "server.redis.tls",
            "cert and key must be given together",
        ));
    }
    crate::check_backchannel::check(config, &mut out);
    crate::check_brute_force::check(config, &mut out);
    crate::check_features::check(config, &mut out);
    crate::check_ldap::check(config, &mut out);
    crate::check_transport::check(config, &mut out);
    crate::check_observability::check(config, &mut out);
    crate::check_sql::check(config, &mut out);
    crate::check_mfa::check(config, &mut out);
    for (protocol, backend) in &server.nginx_backends {
        if backend.address.is_empty() {
            out.push(Diagnostic::error(
                format!("server.nginx_backends.{protocol}.address"),
                "required",
            ));
        }
        if backend.port == 0 {
            out.push(Diagnostic::error(
                format!("server.nginx_backends.{protocol}.port"),
                "required (1..65535)",
            ));
        }
    }
    // A finding about a key an environment variable set names that variable, whichever check
    // made it.
    for diagnostic in &mut out {
        if diagnostic.env_var.is_none() {
            diagnostic.env_var = origins.get(&diagnostic.path).cloned();
        }
    }
    out
}

/// `lua`/`lua(<name>)` need their script; a named Lua backend needs its entry.
fn check_lua(config: &Config, out: &mut Vec<Diagnostic>) {
    for backend in &config.server.backends {
        match backend {
            BackendName::Lua(None) if config.lua.config.backend_script_path.is_empty() => {
                out.push(Diagnostic::error(
                    "lua.config.backend_script_path",
                    "required because server.backends lists lua",
                ));
            }
            BackendName::Lua(Some(name)) => match config.lua.optional_lua_backends.get(name) {
                None => out.push(Diagnostic::error(
                    "server.backends",
                    format!("backend lua({name}): no lua.optional_lua_backends.{name}"),
                )),
                Some(b) if b.backend_script_path.is_empty() => out.push(Diagnostic::error(
                    format!("lua.optional_lua_backends.{name}.backend_script_path"),
                    format!("required because server.backends lists lua({name})"),
                )),
                Some(_) => {}
            },
            _ => {}
        }
    }
    for (i, hook) in config.lua.custom_hooks.iter().enumerate() {
        let method = hook.http_method.to_ascii_uppercase();
        if !["HEAD", "GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method.as_str()) {
            out.push(Diagnostic::error(
                format!("lua.custom_hooks[{i}].http_method"),
                format!(
                    "{:?} is not one of: HEAD, GET, POST, PUT, DELETE, PATCH",
                    hook.http_method
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn walk_json(v: Value) -> Walked {
        let Value::Object(map) = v else {
            panic!("not a map")
        };
        walk(&map, &EnvOrigins::new())
    }

    #[test]
    fn unknown_keys_are_errors_with_suggestions() {
        let w = walk_json(json!({"server": {"adress": "x:1"}}));
        assert_eq!(w.diagnostics.len(), 1);
        assert_eq!(w.diagnostics[0].path, "server.adress");
        assert!(
            w.diagnostics[0].message.contains("did you mean `server.address`"),
            "{:?}",
            w.diagnostics
        );
    }

    #[test]
    fn unimplemented_nauthilus_sections_warn_once() {
        let w = walk_json(json!({"oauth2": {"clients": []}}));
        assert_eq!(w.diagnostics.len(), 1);
        assert_eq!(w.diagnostics[0].path, "oauth2");
        assert_eq!(w.diagnostics[0].severity, crate::Severity::Warning);
    }

    #[test]
    fn nauthilus_keys_for_later_features_warn_by_name() {
        let w = walk_json(
            json!({"server": {"redis": {"negative_cache_ttl": "1h", "replica": {"addresses": []}}}}),
        );
        let paths: Vec<&str> = w.diagnostics.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["server.redis.negative_cache_ttl", "server.redis.replica"]);
        assert!(
            w.diagnostics
                .iter()
                .all(|d| d.severity == crate::Severity::Warning)
        );
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let w = walk_json(
            json!({"server": {"address": "nope", "max_concurrent_requests": "lots", "log": {"level": "loud"}}}),
        );
        let paths: Vec<&str> = w.diagnostics.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "server.address",
                "server.max_concurrent_requests",
                "server.log.level"
            ]
        );
    }

    #[test]
    fn semantic_errors_about_overridden_keys_name_the_variable() {
        let errors = crate::load_str(
            "server:\n  backends: [passwd_file]\npasswd_file:\n  path: users.passwd\n",
            std::path::Path::new("/"),
            vec![("NAUTHILUS_SERVER_REDIS_PREFIX".to_owned(), "a\u{0}b".to_owned())],
        )
        .unwrap_err();
        let prefix = errors
            .errors
            .iter()
            .find(|d| d.path == "server.redis.prefix")
            .unwrap();
        assert_eq!(prefix.env_var.as_deref(), Some("NAUTHILUS_SERVER_REDIS_PREFIX"));
    }

    #[test]
    fn keys_are_case_insensitive() {
        let w = walk_json(json!({"Server": {"Address": "0.0.0.0:1"}}));
        assert!(w.diagnostics.is_empty());
        assert_eq!(w.tree, json!({"server": {"address": "0.0.0.0:1"}}));
    }

    #[test]
    fn cluster_with_tls13_minimum_is_refused() {
        let yaml = "server:\n  backends: [cache, passwd_file]\n  redis:\n    password_nonce: 0123456789abcdef\n    cluster: {addresses: ['127.0.0.1:7000']}\n    tls: {enabled: true, min_tls_version: tls1.3}\npasswd_file: {path: /u}\n";
        let e = crate::load_str(yaml, std::path::Path::new("/"), Vec::new()).unwrap_err();
        assert_eq!(e.errors[0].path, "server.redis.tls.min_tls_version");
    }

    #[test]
    fn a_section_given_a_value_is_an_error() {
        let w = walk_json(json!({"server": {"log": "debug"}}));
        assert_eq!(w.diagnostics[0].path, "server.log");
    }
}
