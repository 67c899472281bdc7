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

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn load(server: &str) -> Result<crate::Config, Vec<String>> {
        let yaml = format!("server:\n  backends: [passwd_file]\n{server}passwd_file: {{path: /u}}\n");
        crate::load_str(&yaml, Path::new("/etc/nauthilus"), Vec::new())
            .map(|(config, _)| config)
            .map_err(|e| e.errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn nauthilus_tls_settings_load_with_paths_relative_to_the_file() {
        let config = load(
            "  haproxy_v2: true\n  trusted_proxies: [127.0.0.1, 10.0.0.0/8]\n  tls:\n    enabled: true\n    cert: tls/cert.pem\n    key: tls/key.pem\n    min_tls_version: TLS1.3\n    cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n",
        )
        .unwrap();
        let tls = &config.server.tls;
        assert_eq!(tls.min_tls_version, "tls1.3");
        assert_eq!(Path::new(&tls.cert), Path::new("/etc/nauthilus/tls/cert.pem"));
        assert!(config.server.haproxy_v2);
        assert_eq!(config.server.trusted_proxies, ["127.0.0.1", "10.0.0.0/8"]);
    }

    #[test]
    fn tls_without_its_files_and_unknown_suites_are_refused() {
        let errors =
            load("  tls: {enabled: true, client_auth: true, cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}\n")
                .unwrap_err();
        let text = errors.join("\n");
        for path in [
            "server.tls.cert",
            "server.tls.key",
            "server.tls.ca_file",
            "server.tls.cipher_suites",
        ] {
            assert!(text.contains(path), "{path}: {text}");
        }
        let errors = load("  trusted_proxies: [not-an-address]\n").unwrap_err();
        assert!(errors.join("\n").contains("server.trusted_proxies"), "{errors:?}");
    }
}
