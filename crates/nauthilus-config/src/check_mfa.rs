//! Cross-key rules of the `mfa` section: what an LDAP store needs, a usable WebAuthn relying
//! party, a usable encryption key setting and app-password protocols.

use base64::Engine as _;

use crate::diagnostic::Diagnostic;
use crate::model::Config;

/// Every problem of the MFA settings the typed configuration shows (only when enabled).
pub fn check(config: &Config, out: &mut Vec<Diagnostic>) {
    let mfa = &config.mfa;
    if !mfa.enabled {
        return;
    }
    if mfa.store == "ldap" {
        if mfa.ldap.base_dn.trim().is_empty() {
            out.push(Diagnostic::error(
                "mfa.ldap.base_dn",
                "required when mfa.store is ldap",
            ));
        }
        if !mfa.ldap.filter.contains("%{account}") {
            out.push(Diagnostic::error("mfa.ldap.filter", "must contain %{account}"));
        }
        let name = (!mfa.ldap.pool_name.is_empty()).then_some(mfa.ldap.pool_name.as_str());
        if config.ldap.pool(name).is_none_or(|p| p.server_uri.is_empty()) {
            out.push(Diagnostic::error(
                "mfa.ldap.pool_name",
                "names no LDAP pool with servers (ldap.config or ldap.optional_ldap_pools.<name>)",
            ));
        }
    }
    if mfa.store == "lua" {
        let name = mfa.lua.backend_name.trim();
        let path = if name.is_empty() {
            Some(config.lua.config.backend_script_path.as_str())
        } else {
            config
                .lua
                .optional_lua_backends
                .get(name)
                .map(|b| b.backend_script_path.as_str())
        };
        if path.is_none_or(|p| p.trim().is_empty()) {
            out.push(Diagnostic::error(
                "mfa.lua.backend_name",
                "names no Lua backend with a script (lua.config.backend_script_path or lua.optional_lua_backends.<name>.backend_script_path)",
            ));
        }
    }
    let key = mfa.encryption_key.trim();
    if !key.is_empty()
        && !base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|k| k.len() == 32)
    {
        out.push(Diagnostic::error(
            "mfa.encryption_key",
            "must be 32 bytes in base64",
        ));
    }
    if key.is_empty() && mfa.encryption_key_file.trim().is_empty() {
        out.push(Diagnostic::error(
            "mfa.encryption_key_file",
            "required when mfa.encryption_key is empty",
        ));
    }
    let w = &mfa.webauthn;
    let origin_ok = w.rp_origin.starts_with("https://") || w.rp_origin.starts_with("http://localhost");
    if !(w.rp_id.is_empty() || origin_ok) {
        out.push(Diagnostic::error(
            "mfa.webauthn.rp_origin",
            "required with rp_id: the https:// origin of the login pages",
        ));
    }
    if mfa.app_passwords.protocols.iter().any(|p| p.trim().is_empty()) {
        out.push(Diagnostic::error(
            "mfa.app_passwords.protocols",
            "empty protocol name",
        ));
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
                .filter(|d| d.path.starts_with("mfa"))
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect(),
        }
    }

    #[test]
    fn a_disabled_mfa_section_is_not_checked() {
        assert!(errors("mfa: {store: ldap}\n").is_empty());
    }

    #[test]
    fn the_embedded_default_needs_nothing_more() {
        assert_eq!(errors("mfa: {enabled: true}\n"), Vec::<String>::new());
    }

    #[test]
    fn an_ldap_store_needs_a_base_dn_and_a_pool() {
        let e = errors("mfa: {enabled: true, store: ldap}\n");
        assert!(e.iter().any(|e| e.starts_with("mfa.ldap.base_dn")), "{e:?}");
        assert!(e.iter().any(|e| e.starts_with("mfa.ldap.pool_name")), "{e:?}");
    }

    #[test]
    fn a_lua_store_needs_a_backend_script() {
        let e = errors("mfa: {enabled: true, store: lua}\n");
        assert!(e.iter().any(|e| e.starts_with("mfa.lua.backend_name")), "{e:?}");
        let e = errors(
            "mfa: {enabled: true, store: lua, lua: {backend_name: nope}}\nlua: {config: {backend_script_path: /x.lua}}\n",
        );
        assert!(e.iter().any(|e| e.starts_with("mfa.lua.backend_name")), "{e:?}");
        let e = errors("mfa: {enabled: true, store: lua}\nlua: {config: {backend_script_path: /x.lua}}\n");
        assert!(!e.iter().any(|e| e.starts_with("mfa.lua")), "{e:?}");
    }

    #[test]
    fn a_bad_key_and_a_bad_origin_are_reported() {
        let e = errors("mfa: {enabled: true, encryption_key: c2hvcnQ=, webauthn: {rp_id: example.test}}\n");
        assert!(e.iter().any(|e| e.starts_with("mfa.encryption_key:")), "{e:?}");
        assert!(e.iter().any(|e| e.starts_with("mfa.webauthn.rp_origin")), "{e:?}");
        let e = errors("mfa: {enabled: true, store: nosql}\n");
        assert!(e.iter().any(|e| e.starts_with("mfa.store")), "{e:?}");
    }
}
