//! The server with LDAP backends against a real slapd (nauthilus-testkit): logins checked by
//! bind, per-protocol searches on two pools (StartTLS and LDAPS), no-auth and list-accounts,
//! escaping of user names, failover, temporary failures, timeouts and recovery.

use std::time::{Duration, Instant};

use nauthilus_testkit::{ADMIN_DN, ADMIN_PASSWORD, Slapd, shared_slapd};
use serde_json::json;

use crate::support::{TestServer, header};

const PEOPLE: &str = "ou=people,dc=example,dc=test";

/// Timeouts and resilience knobs small enough for tests.
const FAST: &str = "    connect_abort_timeout: 1s\n    search_timeout: 500ms\n    bind_timeout: 500ms\n    retry_max: 1\n    retry_base: 10ms\n    retry_max_backoff: 50ms\n";

/// A pool block (indented for `ldap.config:`) over `servers`, bound as the slapd root DN.
pub(crate) fn pool(servers: &[String], extra: &str) -> String {
    let list: Vec<String> = servers.iter().map(|s| format!("'{s}'")).collect();
    format!(
        "    server_uri: [{}]\n    bind_dn: '{ADMIN_DN}'\n    bind_pw: '{ADMIN_PASSWORD}'\n{FAST}{extra}",
        list.join(", ")
    )
}

/// `block` indented two more spaces (for `ldap.optional_ldap_pools.<name>:`).
fn deeper(block: &str) -> String {
    block.lines().map(|l| format!("  {l}\n")).collect()
}

/// The imap/pop3 search on the default pool (users by uid, `%L{username}`).
pub(crate) fn imap_search() -> String {
    format!(
        "    - protocol: [imap, pop3]\n      base_dn: '{PEOPLE}'\n      filter:\n        user: '(&(objectClass=inetOrgPerson)(uid=%L{{username}}))'\n        list_accounts: '(objectClass=inetOrgPerson)'\n      mapping:\n        account_field: uid\n        display_name_field: displayName\n        unique_user_id_field: employeeNumber\n      attribute: [mail, cn, displayName]\n"
    )
}

/// A server whose only backend is `ldap` over `servers` (in-process cache off).
async fn ldap_server(servers: &[String], pool_extra: &str, server_extra: &str) -> TestServer {
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [ldap]\n  log: {{level: error}}\n{server_extra}local_cache_auth_ttl: 0\nldap:\n  config:\n{}  search:\n{}",
        pool(servers, pool_extra),
        imap_search()
    );
    TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await
}

/// The shared slapd over StartTLS, trusting the testkit CA.
async fn shared_server() -> TestServer {
    let slapd = shared_slapd().unwrap();
    let ca = slapd.certs().unwrap().ca_cert.display().to_string();
    ldap_server(
        &[slapd.url()],
        &format!("    starttls: true\n    tls_ca_cert: '{ca}'\n"),
        "",
    )
    .await
}

async fn login(s: &TestServer, user: &str, password: &str, protocol: &str) -> reqwest::Response {
    s.json(
        "",
        json!({"username": user, "password": password, "protocol": protocol, "client_ip": "192.0.2.7"}),
    )
    .await
}

/// A loopback URL where nothing listens.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("ldap://127.0.0.1:{port}")
}

#[tokio::test]
async fn an_ldap_login_succeeds_with_the_attributes_in_body_and_headers() {
    let s = shared_server().await;
    let r = login(&s, "Alice@Example.test", "alice-secret", "imap").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-status"), "OK");
    assert_eq!(header(&r, "auth-user"), "alice");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["passdb_backend"], "ldapPassDB");
    assert_eq!(body["backend"], 2);
    assert_eq!(body["account_field"], "uid");
    assert_eq!(body["display_name_field"], "displayName");
    assert_eq!(body["webauth_userid_field"], "employeeNumber");
    assert_eq!(body["attributes"]["mail"], json!(["alice@example.test"]));
    assert_eq!(body["attributes"]["displayName"], json!(["Alice"]));
    assert_eq!(body["attributes"]["dn"], json!([format!("uid=alice,{PEOPLE}")]));
    assert!(body["attributes"].get("userPassword").is_none());

    let r = s
        .get_with(
            "/api/v1/auth/header",
            &[
                ("Auth-User", "bob"),
                ("Auth-Pass", "bob-secret"),
                ("Auth-Protocol", "pop3"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), "bob");
    assert_eq!(header(&r, "x-nauthilus-mail"), "bob@example.test");
    assert_eq!(header(&r, "x-nauthilus-displayname"), "Bob");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_are_403() {
    let s = shared_server().await;
    let r = login(&s, "alice", "wrong", "imap").await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "auth-status"), "Invalid login or password");
    assert_eq!(login(&s, "mallory", "alice-secret", "imap").await.status(), 403);
    // A protocol no search serves finds nobody.
    assert_eq!(login(&s, "alice", "alice-secret", "smtp").await.status(), 403);
}

#[tokio::test]
async fn two_protocols_use_their_own_filters_and_pools() {
    let slapd = shared_slapd().unwrap();
    let ca = slapd.certs().unwrap().ca_cert.display().to_string();
    let ldaps = slapd.ldaps_url().unwrap();
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [ldap, ldap(mail)]\n  log: {{level: error}}\nlocal_cache_auth_ttl: 0\nldap:\n  config:\n{}  optional_ldap_pools:\n    mail:\n{}  search:\n{}    - protocol: smtp\n      pool_name: mail\n      base_dn: '{PEOPLE}'\n      filter:\n        user: '(&(objectClass=inetOrgPerson)(mail=%L{{user}}))'\n      mapping:\n        account_field: mail\n      attribute: [uid]\n",
        pool(&[slapd.url()], ""),
        deeper(&pool(&[ldaps], &format!("    tls_ca_cert: '{ca}'\n"))),
        imap_search()
    );
    let s = TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await;

    // imap: by uid (the local part of the login name)
    let r = login(&s, "alice", "alice-secret", "imap").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), "alice");
    // smtp: by mail, on the LDAPS pool; a bare uid finds nobody there
    assert_eq!(login(&s, "alice", "alice-secret", "smtp").await.status(), 403);
    let r = login(&s, "ALICE@example.test", "alice-secret", "smtp").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), "alice@example.test");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["account_field"], "mail");
    assert_eq!(body["attributes"]["uid"], json!(["alice"]));
}

#[tokio::test]
async fn filter_metacharacters_in_user_names_never_widen_the_search() {
    let s = shared_server().await;
    // `*` passes the codec and reaches LDAP escaped (\2a): it matches no uid.
    for user in ["*", "a*", "*@example.test"] {
        let r = login(&s, user, "alice-secret", "imap").await;
        assert_eq!(r.status(), 403, "{user:?}");
    }
    // `(`, `)`, `\` and NUL are refused by the codec before any backend is asked (Nauthilus
    // rule); the LDAP layer escapes them too (nauthilus-backends tests against slapd).
    for user in ["alice)(uid=*", "(", "a\\", "alice\u{0}"] {
        let r = login(&s, user, "alice-secret", "imap").await;
        assert_eq!(r.status(), 400, "{user:?}");
    }
}

#[tokio::test]
async fn no_auth_looks_up_and_list_accounts_lists_ldap_users() {
    let s = shared_server().await;
    let r = s
        .get_with(
            "/api/v1/auth/header?mode=no-auth",
            &[("Auth-User", "bob"), ("Auth-Protocol", "imap")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), "bob");
    assert_eq!(header(&r, "x-nauthilus-mail"), "bob@example.test");

    let r = s
        .http
        .get(s.url("/api/v1/auth/json?mode=list-accounts"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let accounts: serde_json::Value = r.json().await.unwrap();
    assert_eq!(accounts, json!(["alice", "bob", "we*rd(1)\\x"]));
}

#[tokio::test]
async fn a_dead_first_server_fails_over_to_the_next() {
    let slapd = shared_slapd().unwrap();
    let s = ldap_server(&[dead_url(), slapd.url()], "", "").await;
    for _ in 0..3 {
        assert_eq!(login(&s, "alice", "alice-secret", "imap").await.status(), 200);
    }
    assert_eq!(login(&s, "alice", "wrong", "imap").await.status(), 403);
}

#[tokio::test]
async fn all_servers_down_is_a_temporary_failure() {
    let s = ldap_server(&[dead_url(), dead_url()], "", "").await;
    let r = login(&s, "alice", "alice-secret", "imap").await;
    assert_eq!(r.status(), 500);
    assert_eq!(
        header(&r, "auth-status"),
        "Temporary server problem, try again later"
    );
    let r = s
        .get_with(
            "/api/v1/auth/nginx",
            &[
                ("Auth-User", "alice"),
                ("Auth-Pass", "alice-secret"),
                ("Auth-Protocol", "imap"),
                ("Client-IP", "192.0.2.7"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200, "the nginx endpoint always answers 200");
    assert_eq!(
        header(&r, "auth-status"),
        "Temporary server problem, try again later"
    );
}

#[tokio::test]
async fn a_hung_server_hits_the_timeout_and_is_a_temporary_failure() {
    let slapd = Slapd::builder().tls(false).start().unwrap();
    let s = ldap_server(&[slapd.url()], "", "").await;
    assert_eq!(login(&s, "alice", "alice-secret", "imap").await.status(), 200);
    slapd.pause().unwrap();
    let started = Instant::now();
    let r = login(&s, "alice", "alice-secret", "imap").await;
    let took = started.elapsed();
    slapd.resume().unwrap();
    assert_eq!(r.status(), 500);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(login(&s, "alice", "alice-secret", "imap").await.status(), 200);
}

#[tokio::test]
async fn logins_recover_after_slapd_restarts() {
    let slapd = Slapd::builder().tls(false).start().unwrap();
    // The breaker opens after 2 failed connects; the health check probes every 100 ms.
    let s = ldap_server(
        &[slapd.url()],
        "    cb_failure_threshold: 2\n    cb_cooldown: 1h\n    health_check_interval: 100ms\n",
        "",
    )
    .await;
    assert_eq!(login(&s, "alice", "alice-secret", "imap").await.status(), 200);
    slapd.stop().unwrap();
    for _ in 0..2 {
        assert_eq!(login(&s, "alice", "alice-secret", "imap").await.status(), 500);
    }
    slapd.start_again().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = login(&s, "alice", "alice-secret", "imap").await.status();
        if status == 200 {
            break;
        }
        assert_eq!(
            status, 500,
            "never anything but a temporary failure while recovering"
        );
        assert!(Instant::now() < deadline, "no recovery within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(login(&s, "alice", "wrong", "imap").await.status(), 403);
}

#[tokio::test]
async fn the_positive_cache_answers_for_ldap_while_slapd_is_down_but_never_guesses() {
    let slapd = Slapd::builder().tls(false).start().unwrap();
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [cache, ldap]\n  log: {{level: error}}\nlocal_cache_auth_ttl: 0\nldap:\n  config:\n{}  search:\n{}",
        pool(&[slapd.url()], ""),
        imap_search()
    );
    let s = TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await;
    assert_eq!(login(&s, "alice", "alice-secret", "imap").await.status(), 200);
    slapd.stop().unwrap();
    // Remembered: answered from the cache, reporting the backend that verified it.
    let r = login(&s, "alice", "alice-secret", "imap").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["passdb_backend"], "ldapPassDB");
    assert_eq!(body["attributes"]["mail"], json!(["alice@example.test"]));
    // Another password cannot be decided without LDAP: a temporary failure, not a 403.
    assert_eq!(login(&s, "alice", "other", "imap").await.status(), 500);
    assert_eq!(login(&s, "bob", "bob-secret", "imap").await.status(), 500);
}

#[tokio::test]
async fn a_search_cache_name_names_the_positive_cache_namespace() {
    let redis = nauthilus_testkit::shared_redis().unwrap();
    let search = imap_search().replace(
        "    - protocol: [imap, pop3]\n",
        "    - protocol: [imap, pop3]\n      cache_name: mailbox\n",
    );
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [cache, ldap]\n  log: {{level: error}}\n  redis:\n    master: {{address: '{}'}}\n    prefix: 'itcn:'\n    password_nonce: it-nonce-0123456789abcdef\nlocal_cache_auth_ttl: 0\nldap:\n  config:\n{}  search:\n{search}",
        redis.addr(),
        pool(&[shared_slapd().unwrap().url()], ""),
    );
    let s = TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await;
    assert_eq!(login(&s, "alice", "alice-secret", "imap").await.status(), 200);
    let exists = |key: &str| {
        matches!(
            redis.command(&["EXISTS", key]).unwrap(),
            nauthilus_testkit::Reply::Integer(1)
        )
    };
    assert!(
        exists("itcn:ucp:mailbox:alice"),
        "the imap login is cached under its search's name"
    );
    assert!(!exists("itcn:ucp:__default__:alice"));
    let r = s
        .http
        .delete(s.url("/api/v1/cache/flush"))
        .json(&json!({"user": "alice"}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["result"]["removed_keys"],
        json!(["itcn:ucp:mailbox:alice", "itcn:user:{47}"]),
        "{body}"
    );
    assert!(!exists("itcn:ucp:mailbox:alice"));
}
