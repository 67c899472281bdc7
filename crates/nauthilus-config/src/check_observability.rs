//! Cross-key rules of `server.log` and `server.metrics`.

use crate::diagnostic::Diagnostic;
use crate::model::{Config, LogConfig};

/// Every problem of the logging and metrics settings.
pub fn check(config: &Config, out: &mut Vec<Diagnostic>) {
    for module in &config.server.log.debug_modules {
        if !LogConfig::DEBUG_MODULES.contains(&module.as_str()) {
            out.push(Diagnostic::error(
                "server.log.debug_modules",
                format!(
                    "unknown debug module {module:?}; known: {}",
                    LogConfig::DEBUG_MODULES.join(", ")
                ),
            ));
        }
    }
    let auth = &config.server.metrics.basic_auth;
    if auth.username.is_empty() != auth.password.is_empty() {
        out.push(Diagnostic::error(
            "server.metrics.basic_auth",
            "username and password must be given together",
        ));
    }
}

#[cfg(test)]
mod tests {
    fn errors(yaml: &str) -> Vec<String> {
        match crate::load_str(yaml, std::path::Path::new("/"), Vec::new()) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn debug_modules_must_be_nauthilus_module_names() {
        let ok = "server:\n  backends: [passwd_file]\n  log:\n    level: debug\n    debug_modules: [auth, ldap, all]\npasswd_file:\n  path: /dev/null\n";
        assert!(errors(ok).is_empty(), "{:?}", errors(ok));
        let bad = "server:\n  backends: [passwd_file]\n  log:\n    debug_modules: [auth, ldpa]\npasswd_file:\n  path: /dev/null\n";
        let errors = errors(bad);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("unknown debug module \"ldpa\""), "{errors:?}");
    }

    #[test]
    fn metrics_basic_auth_needs_both_credentials() {
        let yaml = "server:\n  backends: [passwd_file]\n  metrics:\n    basic_auth:\n      username: prom\npasswd_file:\n  path: /dev/null\n";
        let errors = errors(yaml);
        assert!(
            errors.iter().any(|e| e.contains("server.metrics.basic_auth")),
            "{errors:?}"
        );
    }
}
