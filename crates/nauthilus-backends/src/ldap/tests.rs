//! The LDAP client against a real slapd (nauthilus-testkit): TLS variants, password checks by
//! bind, escaping, failover, timeouts, the circuit breaker and recovery.

use std::time::{Duration, Instant};

use nauthilus_config::{ConfigDuration, LdapFilter, LdapMapping, LdapPoolConfig, LdapSearch, LdapSection};
use nauthilus_testkit::{ADMIN_DN, ADMIN_PASSWORD, SUFFIX, Slapd, shared_slapd};

use super::*;

fn pool_config(servers: Vec<String>) -> LdapPoolConfig {
    LdapPoolConfig {
        server_uri: servers,
        bind_dn: ADMIN_DN.into(),
        bind_pw: ADMIN_PASSWORD.into(),
        connect_abort_timeout: ConfigDuration::from_millis(1500),
        search_timeout: ConfigDuration::from_millis(500),
        bind_timeout: ConfigDuration::from_millis(500),
        retry_max: 1,
        retry_base: ConfigDuration::from_millis(10),
        retry_max_backoff: ConfigDuration::from_millis(50),
        cb_failure_threshold: 2,
        cb_cooldown: ConfigDuration::from_secs(60),
        health_check_interval: ConfigDuration::from_secs(0),
        ..LdapPoolConfig::default()
    }
}

fn search(protocol: &str, filter: &str) -> LdapSearch {
    LdapSearch {
        protocol: vec![protocol.into()],
        base_dn: format!("ou=people,{SUFFIX}"),
        filter: LdapFilter {
            user: filter.into(),
            list_accounts: "(objectClass=inetOrgPerson)".into(),
        },
        mapping: LdapMapping {
            account_field: "uid".into(),
            display_name_field: "displayName".into(),
            ..LdapMapping::default()
        },
        attribute: vec!["mail".into(), "cn".into()],
        ..LdapSearch::default()
    }
}

fn backend(config: LdapPoolConfig) -> LdapBackend {
    let section = LdapSection {
        config,
        search: vec![search("default", "(&(objectClass=inetOrgPerson)(uid=%L{user}))")],
        ..LdapSection::default()
    };
    build_backends(&section, &[None]).unwrap().remove(0)
}

fn query<'a>(user: &'a str, password: Option<&'a str>) -> LdapQuery<'a> {
    LdapQuery {
        protocol: "imap",
        values: MacroValues {
            user,
            service: "imap",
            ..MacroValues::default()
        },
        password: password.map(str::as_bytes),
    }
}

async fn login(b: &LdapBackend, user: &str, password: &str) -> Result<LdapLookup, LdapError> {
    b.verify(&query(user, Some(password))).await
}

fn password_ok(result: &LdapLookup) -> Option<bool> {
    match result {
        LdapLookup::Found { password_ok, .. } => Some(*password_ok),
        LdapLookup::NotFound => None,
    }
}

/// A loopback URL where nothing listens.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("ldap://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_user_is_found_and_the_password_checked_by_bind() {
    let slapd = shared_slapd().unwrap();
    let b = backend(pool_config(vec![slapd.url()]));
    let found = login(&b, "ALICE", "alice-secret").await.unwrap();
    let LdapLookup::Found {
        user,
        password_ok: ok,
    } = &found
    else {
        panic!("{found:?}")
    };
    assert!(ok);
    assert_eq!(user.account, "alice");
    assert_eq!(user.dn, format!("uid=alice,ou=people,{SUFFIX}"));
    assert_eq!(user.attributes["mail"], ["alice@example.test"]);
    assert_eq!(user.attributes["displayName"], ["Alice"]);
    assert!(!user.attributes.contains_key("userPassword"));
    // Even when asked for, the password hash is not returned.
    let mut config = LdapSection {
        config: pool_config(vec![slapd.url()]),
        search: vec![search("default", "(uid=%{user})")],
        ..LdapSection::default()
    };
    config.search[0].attribute.push("userPassword".into());
    let asking = build_backends(&config, &[None]).unwrap().remove(0);
    let LdapLookup::Found { user, .. } = asking.verify(&query("alice", None)).await.unwrap() else {
        panic!("alice not found")
    };
    assert!(
        user.attributes
            .keys()
            .all(|k| !k.eq_ignore_ascii_case("userPassword")),
        "{:?}",
        user.attributes
    );
    assert_eq!(password_ok_of(&b, "alice", "wrong").await, Some(false));
    assert_eq!(password_ok_of(&b, "nobody", "x").await, None);
    // An empty password is never sent: it would be an unauthenticated bind, which succeeds.
    assert_eq!(password_ok_of(&b, "alice", "").await, Some(false));
    let no_auth = b.verify(&query("bob", None)).await.unwrap();
    assert_eq!(password_ok(&no_auth), Some(true));
}

async fn password_ok_of(b: &LdapBackend, user: &str, password: &str) -> Option<bool> {
    password_ok(&login(b, user, password).await.unwrap())
}

#[tokio::test]
async fn filter_metacharacters_in_user_names_are_escaped() {
    let slapd = shared_slapd().unwrap();
    let b = backend(pool_config(vec![slapd.url()]));
    for name in ["*", "a*", "alice)(uid=*", "alice\0", "\\", "("] {
        assert_eq!(password_ok_of(&b, name, "alice-secret").await, None, "{name:?}");
    }
    assert_eq!(
        password_ok_of(&b, "we*rd(1)\\x", "weird-secret").await,
        Some(true)
    );
}

#[tokio::test]
async fn starttls_ldaps_and_ldapi_work() {
    let slapd = shared_slapd().unwrap();
    let ca = slapd.certs().unwrap().ca_cert.to_string_lossy().into_owned();
    let starttls = LdapPoolConfig {
        starttls: true,
        tls_ca_cert: ca.clone(),
        ..pool_config(vec![slapd.url()])
    };
    let ldaps = LdapPoolConfig {
        tls_ca_cert: ca.clone(),
        ..pool_config(vec![slapd.ldaps_url().unwrap()])
    };
    let ldapi = pool_config(vec![slapd.ldapi_url()]);
    for config in [starttls, ldaps, ldapi] {
        let b = backend(config.clone());
        assert_eq!(
            password_ok_of(&b, "bob", "bob-secret").await,
            Some(true),
            "{:?}",
            config.server_uri
        );
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_unless_verification_is_skipped() {
    let slapd = shared_slapd().unwrap();
    let untrusted = backend(pool_config(vec![slapd.ldaps_url().unwrap()]));
    assert!(login(&untrusted, "bob", "bob-secret").await.is_err());
    let skipping = backend(LdapPoolConfig {
        tls_skip_verify: true,
        ..pool_config(vec![slapd.ldaps_url().unwrap()])
    });
    assert_eq!(password_ok_of(&skipping, "bob", "bob-secret").await, Some(true));
}

#[tokio::test]
async fn sasl_external_binds_with_the_client_certificate() {
    let slapd = shared_slapd().unwrap();
    let certs = slapd.certs().unwrap();
    let b = backend(LdapPoolConfig {
        bind_dn: String::new(),
        bind_pw: String::new(),
        sasl_external: true,
        tls_ca_cert: certs.ca_cert.to_string_lossy().into_owned(),
        tls_client_cert: certs.client_cert.to_string_lossy().into_owned(),
        tls_client_key: certs.client_key.to_string_lossy().into_owned(),
        ..pool_config(vec![slapd.ldaps_url().unwrap()])
    });
    assert_eq!(password_ok_of(&b, "alice", "alice-secret").await, Some(true));
}

#[tokio::test]
async fn accounts_are_listed() {
    let slapd = shared_slapd().unwrap();
    let b = backend(pool_config(vec![slapd.url()]));
    let accounts = b.list_accounts().await.unwrap();
    assert_eq!(accounts, ["alice", "bob", "we*rd(1)\\x"]);
}

#[tokio::test]
async fn a_dead_first_server_fails_over_to_the_next() {
    let slapd = shared_slapd().unwrap();
    let dead = dead_url();
    let b = backend(pool_config(vec![dead.clone(), slapd.url()]));
    assert_eq!(password_ok_of(&b, "alice", "alice-secret").await, Some(true));
    assert_eq!(password_ok_of(&b, "bob", "bob-secret").await, Some(true));
    // Two failed connects (lookup, auth) reached the threshold: the dead server is skipped now.
    assert_eq!(b.pool().servers_down(), [dead]);
}

#[tokio::test]
async fn all_servers_down_is_an_error_and_the_breaker_stops_trying() {
    let b = backend(pool_config(vec![dead_url(), dead_url()]));
    let error = login(&b, "alice", "alice-secret").await.unwrap_err();
    assert!(matches!(error, LdapError::Unavailable { .. }), "{error}");
    assert_eq!(b.pool().servers_down().len(), 2);
    let started = Instant::now();
    let error = login(&b, "alice", "alice-secret").await.unwrap_err();
    assert!(matches!(error, LdapError::AllServersDown { .. }), "{error}");
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_hung_server_hits_the_timeout() {
    let slapd = Slapd::builder().tls(false).start().unwrap();
    let b = backend(pool_config(vec![slapd.url()]));
    assert_eq!(password_ok_of(&b, "alice", "alice-secret").await, Some(true));
    slapd.pause().unwrap();
    let started = Instant::now();
    let error = login(&b, "alice", "alice-secret").await.unwrap_err();
    let took = started.elapsed();
    slapd.resume().unwrap();
    assert!(error.is_transient(), "{error}");
    // search timeout (0.5 s) + backoff + one retry that times out connecting/binding
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn logins_recover_after_slapd_restarts_and_health_checks_close_the_breaker() {
    let slapd = Slapd::builder().tls(false).start().unwrap();
    let b = backend(pool_config(vec![slapd.url()]));
    assert_eq!(password_ok_of(&b, "alice", "alice-secret").await, Some(true));
    slapd.stop().unwrap();
    // Failed connects count towards the breaker (threshold 2).
    assert!(login(&b, "alice", "alice-secret").await.is_err());
    assert!(login(&b, "alice", "alice-secret").await.is_err());
    assert_eq!(b.pool().servers_down().len(), 1);
    slapd.start_again().unwrap();
    // The breaker is open (cooldown 60 s): a health-check round probes the server back.
    assert!(login(&b, "alice", "alice-secret").await.is_err());
    b.pool().health_check(Instant::now()).await;
    assert!(b.pool().servers_down().is_empty());
    assert_eq!(password_ok_of(&b, "alice", "alice-secret").await, Some(true));
}

#[tokio::test]
async fn a_filter_matching_several_entries_is_an_error_not_a_login() {
    let slapd = shared_slapd().unwrap();
    let section = LdapSection {
        config: pool_config(vec![slapd.url()]),
        search: vec![search("default", "(|(uid=%{user})(uid=bob))")],
        ..LdapSection::default()
    };
    let b = build_backends(&section, &[None]).unwrap().remove(0);
    let error = login(&b, "alice", "alice-secret").await.unwrap_err();
    assert!(matches!(error, LdapError::Ambiguous { count: 2, .. }), "{error}");
}
