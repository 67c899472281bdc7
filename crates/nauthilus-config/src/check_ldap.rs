//! Cross-key rules of the `ldap` section and the `ldap`/`ldap(<pool>)` backends. Filters,
//! server URIs and TLS files are checked when the backends are built (also by `--config-check`).

use crate::diagnostic::Diagnostic;
use crate::model::{BackendName, Config};

/// Every problem of the LDAP settings that the typed configuration shows.
pub fn check(config: &Config, out: &mut Vec<Diagnostic>) {
    let ldap = &config.ldap;
    for backend in &config.server.backends {
        let BackendName::Ldap(pool) = backend else {
            continue;
        };
        let (pool_path, name) = match pool {
            None => ("ldap.config".to_owned(), "default"),
            Some(name) => (format!("ldap.optional_ldap_pools.{name}"), name.as_str()),
        };
        match ldap.pool(pool.as_deref()) {
            None => out.push(Diagnostic::error(
                "server.backends",
                format!("{backend} names no pool: define {pool_path}"),
            )),
            Some(settings) if settings.server_uri.is_empty() => out.push(Diagnostic::error(
                format!("{pool_path}.server_uri"),
                format!("required because server.backends lists {backend}"),
            )),
            Some(_) => {}
        }
        if !ldap.search.iter().any(|s| s.pool() == pool.as_deref()) {
            out.push(Diagnostic::error(
                "ldap.search",
                format!("no search runs on the pool {name:?} that server.backends lists as {backend}"),
            ));
        }
    }
    for (i, search) in ldap.search.iter().enumerate() {
        if let Some(name) = search.pool()
            && !ldap.optional_ldap_pools.contains_key(name)
        {
            out.push(Diagnostic::error(
                format!("ldap.search[{i}].pool_name"),
                format!("no pool {name:?} in ldap.optional_ldap_pools"),
            ));
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
    fn an_ldap_backend_needs_servers_and_a_search() {
        let e = errors("server:\n  backends: [ldap]\n");
        assert!(
            e.iter().any(|e| e.starts_with("ldap.config.server_uri:")),
            "{e:?}"
        );
        assert!(e.iter().any(|e| e.starts_with("ldap.search:")), "{e:?}");
    }

    #[test]
    fn a_named_pool_must_exist() {
        let e = errors(
            "server:\n  backends: [ldap(mail)]\nldap:\n  search:\n    - protocol: default\n      pool_name: other\n      base_dn: dc=x\n      filter: {user: '(uid=%{user})'}\n      mapping: {account_field: uid}\n",
        );
        assert!(e.iter().any(|e| e.starts_with("server.backends:")), "{e:?}");
        assert!(
            e.iter().any(|e| e.starts_with("ldap.search[0].pool_name:")),
            "{e:?}"
        );
    }

    #[test]
    fn a_complete_ldap_section_loads() {
        let yaml = "server:\n  backends: [cache, ldap, ldap(mail)]\nldap:\n  config:\n    server_uri: ldap://127.0.0.1:389, ldap://127.0.0.1:390\n    bind_dn: cn=admin,dc=x\n    bind_pw: secret\n    starttls: true\n    search_timeout: 2s\n  optional_ldap_pools:\n    mail:\n      server_uri: [ldaps://127.0.0.1:636]\n  search:\n    - protocol: [imap, default]\n      base_dn: ou=people,dc=x\n      filter:\n        user: |\n          (&(objectClass=inetOrgPerson)\n            (uid=%L{user}))\n      mapping: {account_field: uid}\n      attribute: [mail, cn]\n    - protocol: smtp\n      pool_name: mail\n      base_dn: ou=people,dc=x\n      filter: {user: '(mail=%{user})'}\n      mapping: {account_field: mail}\n";
        let (config, _) = crate::load_str(yaml, Path::new("/"), Vec::new()).unwrap();
        assert_eq!(config.ldap.config.server_uri.len(), 2);
        assert_eq!(
            config.ldap.config.search_timeout.get(),
            std::time::Duration::from_secs(2)
        );
        assert_eq!(config.ldap.search[0].protocol, ["imap", "default"]);
        assert!(config.ldap.search[0].filter.user.contains("%L{user}"));
        assert_eq!(config.ldap.search[1].pool(), Some("mail"));
        assert_eq!(
            config.ldap.optional_ldap_pools["mail"].server_uri,
            ["ldaps://127.0.0.1:636"]
        );
    }
}
