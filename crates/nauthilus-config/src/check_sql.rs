//! Cross-key rules of the `sql` section and the `sql`/`sql(<name>)` backends. URLs and queries
//! themselves are checked when the backends are built (also by `--config-check`).

use crate::diagnostic::Diagnostic;
use crate::model::{BackendName, Config};

/// Every problem of the SQL settings that the typed configuration shows.
pub fn check(config: &Config, out: &mut Vec<Diagnostic>) {
    for backend in &config.server.backends {
        let BackendName::Sql(name) = backend else {
            continue;
        };
        let Some(settings) = config.sql.backend(name.as_deref()) else {
            out.push(Diagnostic::error(
                "server.backends",
                format!(
                    "{backend} names no SQL backend: define sql.optional_sql_backends.{}",
                    name.as_deref().unwrap_or_default()
                ),
            ));
            continue;
        };
        if settings.config.url.trim().is_empty() {
            out.push(Diagnostic::error(
                format!("{}.config.url", settings.path),
                format!("required because server.backends lists {backend}"),
            ));
        }
        if settings.search.is_empty() {
            out.push(Diagnostic::error(
                format!("{}.search", settings.path),
                format!("at least one search is required because server.backends lists {backend}"),
            ));
        }
        for (i, search) in settings.search.iter().enumerate() {
            if search.protocol.is_empty() {
                out.push(Diagnostic::error(
                    format!("{}.search[{i}].protocol", settings.path),
                    "required",
                ));
            }
            if search.password_query.trim().is_empty() {
                out.push(Diagnostic::error(
                    format!("{}.search[{i}].password_query", settings.path),
                    "required",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn errors(yaml: &str) -> Vec<String> {
        match crate::load_str(yaml, Path::new("/"), Vec::new()) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .errors
                .iter()
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect(),
        }
    }

    #[test]
    fn an_sql_backend_needs_a_url_and_a_search() {
        let e = errors("server:\n  backends: [sql]\n");
        assert!(e.iter().any(|e| e.starts_with("sql.config.url:")), "{e:?}");
        assert!(e.iter().any(|e| e.starts_with("sql.search:")), "{e:?}");
    }

    #[test]
    fn a_named_sql_backend_must_exist() {
        let e = errors("server:\n  backends: [sql(pfa)]\n");
        assert!(e.iter().any(|e| e.starts_with("server.backends:")), "{e:?}");
    }

    #[test]
    fn a_complete_sql_config_loads() {
        let yaml = "server:\n  backends: [sql, sql(pfa)]\nsql:\n  config:\n    url: sqlite:///tmp/users.db\n    query_timeout: 2s\n  search:\n    - protocol: [imap, default]\n      password_query: SELECT username, password FROM users WHERE username = %L{user}\n      mapping: {account_field: username}\n      attribute: [username, name]\n  optional_sql_backends:\n    pfa:\n      config: {url: 'postgres://u:p@127.0.0.1/pfa', pool_size: 3, tls_ca_cert: ca.pem}\n      search:\n        - protocol: default\n          password_query: SELECT 1\n";
        let (config, _) = crate::load_str(yaml, Path::new("/etc/n"), Vec::new()).unwrap();
        assert_eq!(config.sql.search[0].mapping.password_field, "password");
        let pfa = &config.sql.optional_sql_backends["pfa"];
        assert_eq!(pfa.config.pool_size.get(), 3);
        assert_eq!(pfa.config.tls_ca_cert, "/etc/n/ca.pem");
        assert_eq!(pfa.search[0].protocol, vec!["default".to_owned()]);
    }
}
