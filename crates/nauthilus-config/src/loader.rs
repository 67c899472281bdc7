//! Finding, reading and loading the configuration file: YAML → tree → `NAUTHILUS_*` overrides →
//! catalogue walk → typed `Config` → cross-key rules. Every error is collected before giving up.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::diagnostic::{ConfigErrors, Diagnostic, Severity};
use crate::env::apply_overrides;
use crate::model::Config;
use crate::validate::{check_semantics, walk};

/// Where the server looks for its configuration when `--config` is not given, in order.
pub const SEARCH_PATHS: &[&str] = &[
    "nauthilus.yml",
    "nauthilus.yaml",
    "/etc/nauthilus/nauthilus.yml",
    "/etc/nauthilus/nauthilus.yaml",
];

/// Configuration files larger than this are refused rather than read into memory.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A configuration that passed every check, with its warnings.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file it came from.
    pub source: PathBuf,
    pub warnings: Vec<Diagnostic>,
}

/// The file named by `--config`, or the first of [`SEARCH_PATHS`] that exists.
pub fn find_config_file(explicit: Option<&Path>) -> Result<PathBuf, ConfigErrors> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    SEARCH_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| ConfigErrors {
            errors: vec![Diagnostic::error(
                "--config",
                format!(
                    "no configuration file given and none found at {}",
                    SEARCH_PATHS.join(", ")
                ),
            )],
            warnings: Vec::new(),
        })
}

/// Loads and checks `path`, applying overrides from `env` (pass `std::env::vars()` in production).
pub fn load_file<I>(path: &Path, env: I) -> Result<LoadedConfig, ConfigErrors>
where
    I: IntoIterator<Item = (String, String)>,
{
    let file_error = |message: String| ConfigErrors {
        errors: vec![Diagnostic::error(path.display().to_string(), message)],
        warnings: Vec::new(),
    };
    let size = std::fs::metadata(path)
        .map_err(|e| file_error(format!("cannot read: {e}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(file_error(format!(
            "{size} bytes is larger than the {MAX_FILE_BYTES}-byte limit"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| file_error(format!("cannot read: {e}")))?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let (config, warnings) = load_str(&text, &base_dir, env).map_err(|mut e| {
        for d in e.errors.iter_mut().filter(|d| d.path == "<yaml>") {
            d.path = path.display().to_string();
        }
        e
    })?;
    Ok(LoadedConfig {
        config,
        source: path.to_path_buf(),
        warnings,
    })
}

/// Loads configuration text; relative paths in it are taken relative to `base_dir`.
pub fn load_str<I>(yaml: &str, base_dir: &Path, env: I) -> Result<(Config, Vec<Diagnostic>), ConfigErrors>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut root = parse_yaml(yaml)?;
    let (origins, mut diagnostics) = apply_overrides(&mut root, env);
    let walked = walk(&root, &origins);
    diagnostics.extend(walked.diagnostics);
    let mut config = if has_errors(&diagnostics) {
        Config::default()
    } else {
        match serde_json::from_value::<Config>(walked.tree) {
            Ok(c) => c,
            Err(e) => {
                diagnostics.push(Diagnostic::error("<config>", e.to_string()));
                Config::default()
            }
        }
    };
    if !has_errors(&diagnostics) {
        diagnostics.extend(check_semantics(&config, &origins));
    }
    resolve_relative_paths(&mut config, base_dir);
    let (errors, warnings): (Vec<_>, Vec<_>) = diagnostics
        .into_iter()
        .partition(|d| d.severity == Severity::Error);
    if errors.is_empty() {
        Ok((config, warnings))
    } else {
        Err(ConfigErrors { errors, warnings })
    }
}

fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}

fn parse_yaml(yaml: &str) -> Result<Map<String, Value>, ConfigErrors> {
    let yaml_error = |message: String| ConfigErrors {
        errors: vec![Diagnostic::error("<yaml>", message)],
        warnings: Vec::new(),
    };
    if yaml.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_saphyr::from_str::<Value>(yaml) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(yaml_error(
            "the top level must be a mapping of keys (server:, ...)".into(),
        )),
        Err(e) => Err(yaml_error(format!("not valid YAML: {e}"))),
    }
}

fn resolve_relative_paths(config: &mut Config, base_dir: &Path) {
    let resolve = |p: &mut String| {
        if !p.is_empty() && Path::new(p.as_str()).is_relative() {
            *p = base_dir.join(p.as_str()).display().to_string();
        }
    };
    resolve(&mut config.passwd_file.path);
    let tls = &mut config.server.redis.tls;
    resolve(&mut tls.ca_file);
    resolve(&mut tls.cert);
    resolve(&mut tls.key);
    let tls = &mut config.server.tls;
    resolve(&mut tls.ca_file);
    resolve(&mut tls.cert);
    resolve(&mut tls.key);
    let ldap = &mut config.ldap;
    for pool in std::iter::once(&mut ldap.config).chain(ldap.optional_ldap_pools.values_mut()) {
        resolve(&mut pool.tls_ca_cert);
        resolve(&mut pool.tls_client_cert);
        resolve(&mut pool.tls_client_key);
    }
    let sql = &mut config.sql;
    for pool in
        std::iter::once(&mut sql.config).chain(sql.optional_sql_backends.values_mut().map(|b| &mut b.config))
    {
        resolve(&mut pool.tls_ca_cert);
        resolve(&mut pool.tls_client_cert);
        resolve(&mut pool.tls_client_key);
    }
    let lua = &mut config.lua;
    resolve(&mut lua.config.backend_script_path);
    resolve(&mut lua.config.init_script_path);
    lua.config.init_script_paths.iter_mut().for_each(&resolve);
    lua.optional_lua_backends
        .values_mut()
        .for_each(|b| resolve(&mut b.backend_script_path));
    lua.features.iter_mut().for_each(|f| resolve(&mut f.script_path));
    lua.filters.iter_mut().for_each(|f| resolve(&mut f.script_path));
    lua.actions.iter_mut().for_each(|a| resolve(&mut a.script_path));
    lua.custom_hooks
        .iter_mut()
        .for_each(|h| resolve(&mut h.script_path));
    let idp = &mut config.idp;
    resolve(&mut idp.key_dir);
    idp.signing_keys.iter_mut().for_each(|k| resolve(&mut k.key_file));
    idp.clients
        .iter_mut()
        .for_each(|c| resolve(&mut c.public_key_file));
    resolve(&mut idp.pages.template_dir);
    resolve(&mut idp.pages.logo_file);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BackendName;

    #[test]
    fn ldap_tls_files_are_relative_to_the_config_file() {
        let (c, _) = load_str(
            "server:\n  backends: [passwd_file]\npasswd_file: {path: u}\nldap:\n  config: {tls_ca_cert: ca.pem}\n  optional_ldap_pools:\n    mail: {tls_client_cert: /abs/c.pem, tls_client_key: k.pem}\n",
            Path::new("/etc/nauthilus"),
            no_env(),
        )
        .unwrap();
        assert_eq!(c.ldap.config.tls_ca_cert, "/etc/nauthilus/ca.pem");
        let mail = &c.ldap.optional_ldap_pools["mail"];
        assert_eq!(mail.tls_client_cert, "/abs/c.pem");
        assert_eq!(mail.tls_client_key, "/etc/nauthilus/k.pem");
    }

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn server_timeouts_take_durations_and_zero_means_the_default() {
        let (c, w) = load_str(
            "server:\n  backends: [passwd_file]\n  timeouts: {header_read: 0, body_read: 2}\npasswd_file: {path: u}\n",
            Path::new("/etc/nauthilus"),
            [("NAUTHILUS_SERVER_TIMEOUTS_HEADER_READ".to_owned(), "1500ms".to_owned())],
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            c.server.timeouts.header_read(),
            std::time::Duration::from_millis(1500)
        );
        assert_eq!(c.server.timeouts.body_read(), std::time::Duration::from_secs(2));
        let (c, _) = load_str(
            "server:\n  backends: [passwd_file]\n  timeouts: {header_read: 0}\npasswd_file: {path: u}\n",
            Path::new("/etc/nauthilus"),
            no_env(),
        )
        .unwrap();
        assert_eq!(
            c.server.timeouts.header_read(),
            std::time::Duration::from_secs(30)
        );
        assert_eq!(c.server.timeouts.body_read(), std::time::Duration::from_secs(10));
    }

    #[test]
    fn a_minimal_file_loads_with_defaults() {
        let (c, w) = load_str(
            "server:\n  backends: [passwd_file]\npasswd_file:\n  path: users\n",
            Path::new("/etc/x"),
            no_env(),
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.server.address, "127.0.0.1:9080");
        assert_eq!(c.server.backends, [BackendName::PasswdFile]);
        assert_eq!(c.passwd_file.path, "/etc/x/users");
    }

    #[test]
    fn env_overrides_the_file() {
        let env = vec![("NAUTHILUS_SERVER_ADDRESS".to_owned(), "0.0.0.0:1234".to_owned())];
        let (c, _) = load_str(
            "server:\n  address: 127.0.0.1:1\n  backends: cache,passwd_file\npasswd_file: {path: /u}\n",
            Path::new("/"),
            env,
        )
        .unwrap();
        assert_eq!(c.server.address, "0.0.0.0:1234");
        assert_eq!(c.server.backends, [BackendName::Cache, BackendName::PasswdFile]);
    }

    #[test]
    fn errors_name_the_env_variable() {
        let env = vec![(
            "NAUTHILUS_SERVER_MAX_CONCURRENT_REQUESTS".to_owned(),
            "zero".to_owned(),
        )];
        let e = load_str(
            "server: {backends: [passwd_file]}\npasswd_file: {path: /u}\n",
            Path::new("/"),
            env,
        )
        .unwrap_err();
        assert_eq!(e.errors.len(), 1);
        assert_eq!(
            e.errors[0].to_string(),
            "error: server.max_concurrent_requests (from NAUTHILUS_SERVER_MAX_CONCURRENT_REQUESTS): expected a whole number 1..10000000, found \"zero\""
        );
    }

    #[test]
    fn two_errors_are_reported_together() {
        let e = load_str(
            "server:\n  adress: x\n  backends: [lmdb]\n",
            Path::new("/"),
            no_env(),
        )
        .unwrap_err();
        let paths: Vec<&str> = e.errors.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["server.adress", "server.backends"]);
    }

    #[test]
    fn semantic_rules_run_when_shapes_are_fine() {
        let e = load_str(
            "server:\n  backends: [cache, passwd_file]\n  redis: {master: {address: '127.0.0.1:6379'}}\n",
            Path::new("/"),
            no_env(),
        )
        .unwrap_err();
        let paths: Vec<&str> = e.errors.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["passwd_file.path", "server.redis.password_nonce"]);
    }

    #[test]
    fn broken_yaml_is_one_clear_error() {
        let e = load_str("server: [\n", Path::new("/"), no_env()).unwrap_err();
        assert!(
            e.errors[0].message.starts_with("not valid YAML"),
            "{:?}",
            e.errors
        );
        let e = load_str("- a\n- b\n", Path::new("/"), no_env()).unwrap_err();
        assert!(e.errors[0].message.contains("top level"));
    }

    #[test]
    fn duplicate_yaml_keys_are_rejected() {
        assert!(
            load_str(
                "server:\n  address: a:1\n  address: b:2\n",
                Path::new("/"),
                no_env()
            )
            .is_err()
        );
    }
}
