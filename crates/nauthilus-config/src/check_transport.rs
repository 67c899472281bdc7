//! Cross-key rules of `server.tls`. The certificate and key files themselves are read when the
//! listener is built (at startup, on SIGHUP and by `--config-check`).

use crate::diagnostic::Diagnostic;
use crate::model::{CIPHER_SUITES, Config};

/// Every problem of the TLS settings that the typed configuration shows.
pub fn check(config: &Config, out: &mut Vec<Diagnostic>) {
    let tls = &config.server.tls;
    if tls.enabled {
        for (key, value) in [("cert", &tls.cert), ("key", &tls.key)] {
            if value.is_empty() {
                out.push(Diagnostic::error(
                    format!("server.tls.{key}"),
                    "required when server.tls.enabled is true",
                ));
            }
        }
    }
    if tls.client_auth && tls.ca_file.is_empty() {
        out.push(Diagnostic::error(
            "server.tls.ca_file",
            "required when server.tls.client_auth is true (client certificates must chain to it)",
        ));
    }
    let unknown: Vec<&str> = tls
        .cipher_suites
        .iter()
        .map(String::as_str)
        .filter(|name| !CIPHER_SUITES.iter().any(|k| k.eq_ignore_ascii_case(name)))
        .collect();
    if !unknown.is_empty() {
        let message = format!(
            "unknown cipher suite(s) {unknown:?}; known: {}",
            CIPHER_SUITES.join(", ")
        );
        if unknown.len() == tls.cipher_suites.len() {
            out.push(Diagnostic::error("server.tls.cipher_suites", message));
        } else {
            out.push(Diagnostic::warning(
                "server.tls.cipher_suites",
                format!("{message}; they are ignored"),
            ));
        }
    }
}
