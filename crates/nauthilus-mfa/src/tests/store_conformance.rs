//! One conformance suite for every credential store: SQLite, PostgreSQL, MariaDB (testkit
//! servers) and LDAP (testkit slapd, attributes of the user's entry); then the whole service
//! over LDAP.

use std::sync::Arc;

use nauthilus_backends::ldap::{LdapPool, PoolSettings};
use nauthilus_backends::sql::SqlPool;
use nauthilus_config::{ConfigDuration, LdapPoolConfig, MfaLdapConfig, SqlPoolConfig};
use nauthilus_testkit::{ADMIN_DN, ADMIN_PASSWORD, SUFFIX, shared_mariadb, shared_postgres, shared_slapd};

use super::*;
use crate::{CredentialStore, LdapCredentials, MfaError, Record};

fn record(id: &str, data: &str) -> Record {
    Record {
        id: id.into(),
        data: data.into(),
    }
}

async fn sorted(store: &dyn CredentialStore, account: &str, kind: Kind) -> Vec<Record> {
    let mut list = store.list(account, kind).await.unwrap();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    list
}

/// What every store must do, for `account` (which has no records yet).
async fn conforms(store: &dyn CredentialStore, account: &str) {
    let kind = Kind::AppPassword;
    assert!(store.list(account, kind).await.unwrap().is_empty());
    store
        .put(account, kind, &record("a", r#"{"n":1}"#))
        .await
        .unwrap();
    store
        .put(account, kind, &record("b", r#"{"n":2, "s":"ä ü"}"#))
        .await
        .unwrap();
    // Put replaces by id.
    store
        .put(account, kind, &record("a", r#"{"n":3}"#))
        .await
        .unwrap();
    assert_eq!(
        sorted(store, account, kind).await,
        [record("a", r#"{"n":3}"#), record("b", r#"{"n":2, "s":"ä ü"}"#)]
    );
    // Kinds are apart.
    assert!(store.list(account, Kind::Webauthn).await.unwrap().is_empty());
    // A conditional update happens only over the exact old record.
    let stale = record("a", r#"{"n":1}"#);
    assert!(
        !store
            .update(account, kind, &stale, &record("a", "{}"))
            .await
            .unwrap()
    );
    let current = record("a", r#"{"n":3}"#);
    assert!(
        store
            .update(account, kind, &current, &record("a", r#"{"n":4}"#))
            .await
            .unwrap()
    );
    // Remove once; a conditional remove needs the exact record.
    assert!(
        !store
            .remove(account, kind, "a", Some(r#"{"n":3}"#))
            .await
            .unwrap()
    );
    assert!(
        store
            .remove(account, kind, "a", Some(r#"{"n":4}"#))
            .await
            .unwrap()
    );
    assert!(!store.remove(account, kind, "a", None).await.unwrap());
    // Replace-all swaps the whole set.
    let set = [record("x", "{}"), record("y", "{}")];
    store
        .replace_all(account, Kind::RecoveryCode, &set)
        .await
        .unwrap();
    assert_eq!(sorted(store, account, Kind::RecoveryCode).await, set);
    store
        .replace_all(account, Kind::RecoveryCode, &set[..1])
        .await
        .unwrap();
    assert_eq!(sorted(store, account, Kind::RecoveryCode).await, set[..1]);
    // Concurrent removes of one record: exactly one wins.
    let (a, b) = tokio::join!(
        store.remove(account, Kind::RecoveryCode, "x", Some("{}")),
        store.remove(account, Kind::RecoveryCode, "x", Some("{}"))
    );
    assert_eq!(u8::from(a.unwrap()) + u8::from(b.unwrap()), 1);
}

fn sql(url: String) -> SqlPoolConfig {
    SqlPoolConfig {
        url,
        ..SqlPoolConfig::default()
    }
}

#[tokio::test]
async fn the_sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqlCredentials::open(&sql(format!("sqlite://{}", dir.path().join("m.db").display()))).unwrap();
    conforms(&store, "alice").await;
    // Another account sees nothing of alice's.
    assert!(store.list("bob", Kind::AppPassword).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_postgres_store_conforms() {
    let pg = shared_postgres().unwrap();
    let admin = SqlPool::new(&sql(pg.url("postgres"))).unwrap();
    let name = format!("mfa{}", std::process::id());
    admin
        .execute(&format!("CREATE DATABASE {name}"), &[])
        .await
        .unwrap();
    let store = SqlCredentials::open(&sql(pg.url(&name))).unwrap();
    conforms(&store, "alice").await;
}

#[tokio::test]
async fn the_mariadb_store_conforms() {
    let db = shared_mariadb().unwrap();
    let admin = SqlPool::new(&sql(db.url(""))).unwrap();
    let name = format!("mfa{}", std::process::id());
    admin
        .execute(&format!("CREATE DATABASE {name}"), &[])
        .await
        .unwrap();
    let store = SqlCredentials::open(&sql(db.url(&name))).unwrap();
    conforms(&store, "alice").await;
}

pub(crate) fn ldap_store() -> LdapCredentials {
    let slapd = shared_slapd().unwrap();
    let config = LdapPoolConfig {
        server_uri: vec![slapd.url()],
        bind_dn: ADMIN_DN.into(),
        bind_pw: ADMIN_PASSWORD.into(),
        search_timeout: ConfigDuration::from_secs(5),
        health_check_interval: ConfigDuration::from_secs(0),
        ..LdapPoolConfig::default()
    };
    let settings = PoolSettings::from_config("mfa", "mfa.ldap", &config).unwrap();
    let pool = Arc::new(LdapPool::new(settings));
    LdapCredentials::new(
        pool,
        MfaLdapConfig {
            base_dn: format!("ou=people,{SUFFIX}"),
            ..MfaLdapConfig::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn the_ldap_store_conforms() {
    let store = ldap_store();
    conforms(&store, "alice").await;
    // An account without an entry has nowhere to keep enrolments.
    assert!(matches!(
        store.put("nobody", Kind::Totp, &record("totp", "{}")).await,
        Err(MfaError::NoEntry(_))
    ));
    // A filter value cannot widen the search.
    assert!(matches!(
        store.list("*", Kind::Totp).await,
        Err(MfaError::NoEntry(_))
    ));
}

#[tokio::test]
async fn every_factor_lives_on_the_ldap_entry_and_survives_a_restart() {
    let bed = Bed::new();
    let mfa = Mfa::new(&bed.config, Arc::new(ldap_store()), bed.state.clone()).unwrap();
    let secret = enrolled(&mfa, "bob").await;
    let codes = mfa.regenerate_recovery_codes("bob", at(T0)).await.unwrap();
    let (_, password) = mfa
        .create_app_password("bob", &["imap"], "phone", at(T0))
        .await
        .unwrap();
    let mut key = webauthn_authenticator_rs::WebauthnAuthenticator::new(
        webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true),
    );
    let origin = webauthn_rs::prelude::Url::parse("https://localhost:8443").unwrap();
    let challenge = mfa.begin_webauthn_registration("bob", "Bob").await.unwrap();
    let response = key.do_registration(origin.clone(), challenge).unwrap();
    mfa.finish_webauthn_registration("bob", "key", &response, at(T0))
        .await
        .unwrap();

    // A new process over the same directory, with an empty state store.
    let mfa = Mfa::new(&bed.config, Arc::new(ldap_store()), Bed::fresh_state()).unwrap();
    let t = T0 + 3000;
    let code = totp::code_at(&secret, params(), t).unwrap();
    assert_eq!(
        mfa.verify_totp("bob", &code, "192.0.2.1", at(t)).await.unwrap(),
        CodeVerdict::Accepted
    );
    assert_eq!(
        mfa.redeem_recovery_code("bob", &codes[0], "192.0.2.1", at(t))
            .await
            .unwrap(),
        CodeVerdict::Accepted
    );
    assert_eq!(
        mfa.redeem_recovery_code("bob", &codes[0], "192.0.2.1", at(t))
            .await
            .unwrap(),
        CodeVerdict::Refused
    );
    let req = mail_request("bob", &password, "imap");
    assert_eq!(
        mfa.judge_mail_login("bob", &req, false, at(t)).await.unwrap(),
        AppPasswordVerdict::AppPassword
    );
    let challenge = mfa.begin_webauthn_login("bob").await.unwrap();
    let assertion = key.do_authentication(origin, challenge).unwrap();
    mfa.finish_webauthn_login("bob", &assertion, at(t)).await.unwrap();
    let stored = mfa.credentials().list("bob", Kind::Totp).await.unwrap();
    assert_eq!(stored.len(), 1);
}

/// The Lua store on a real Lua host running the fixture backend script, which keeps the
/// records in SQLite (`db`) under `dir`.
pub(crate) fn lua_store(dir: &std::path::Path) -> crate::LuaCredentials {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../nauthilus/tests/it/fixtures/lua/mfa_credentials.lua"
    ))
    .unwrap();
    let script = dir.join("mfa_credentials.lua");
    let db = dir.join("lua-mfa.db");
    std::fs::write(&script, source.replace("@DB_PATH@", &db.display().to_string())).unwrap();
    let mut config = nauthilus_config::Config::default();
    config.lua.config.backend_script_path = script.display().to_string();
    let calls = nauthilus_lua::LuaHost::script_calls(&config, Bed::fresh_state(), None).unwrap();
    crate::LuaCredentials::new(calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lua_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = lua_store(dir.path());
    conforms(&store, "alice").await;
    assert!(store.list("bob", Kind::AppPassword).await.unwrap().is_empty());
    // A TOTP enrolment goes through the Nauthilus v1.12 function `nauthilus_backend_add_totp`,
    // which this script refuses for an empty secret: a refusal is a temporary failure.
    store
        .put("alice", Kind::Totp, &record("totp", r#"{"s":"x"}"#))
        .await
        .unwrap();
    assert_eq!(
        sorted(&store, "alice", Kind::Totp).await,
        [record("totp", r#"{"s":"x"}"#)]
    );
    let refused = store.put("alice", Kind::Totp, &record("totp", "")).await;
    assert!(
        matches!(&refused, Err(e @ MfaError::Script(_)) if e.is_temporary()),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_lua_store_fails_temporarily() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("broken.lua");
    std::fs::write(
        &script,
        "function nauthilus_backend_list_credentials(r) error('store down') end\n\
         function nauthilus_backend_put_credential(r) return nauthilus_builtin.BACKEND_RESULT_OK, 'x' end\n\
         function nauthilus_backend_remove_credential(r) return 0, 'yes' end\n",
    )
    .unwrap();
    let mut config = nauthilus_config::Config::default();
    config.lua.config.backend_script_path = script.display().to_string();
    let calls = nauthilus_lua::LuaHost::script_calls(&config, Bed::fresh_state(), None).unwrap();
    let store = crate::LuaCredentials::new(calls);
    let e = store.list("alice", Kind::Webauthn).await.unwrap_err();
    assert!(e.is_temporary() && e.to_string().contains("store down"), "{e}");
    // Extra return values are ignored; a wrong type where a flag belongs is refused.
    store
        .put("alice", Kind::Webauthn, &record("k", "{}"))
        .await
        .unwrap();
    assert!(matches!(
        store.remove("alice", Kind::Webauthn, "k", None).await,
        Err(MfaError::Script(_))
    ));
    // A function the script lacks is a failure, never an empty answer.
    assert!(matches!(
        store.replace_all("alice", Kind::RecoveryCode, &[]).await,
        Err(MfaError::Script(_))
    ));
    assert!(
        nauthilus_lua::LuaHost::script_calls(&nauthilus_config::Config::default(), Bed::fresh_state(), None)
            .is_err(),
        "no backend script configured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_factor_lives_in_the_lua_store_and_survives_a_restart() {
    let bed = Bed::new();
    let dir = tempfile::tempdir().unwrap();
    let mfa = Mfa::new(&bed.config, Arc::new(lua_store(dir.path())), bed.state.clone()).unwrap();
    let secret = enrolled(&mfa, "carol").await;
    let codes = mfa.regenerate_recovery_codes("carol", at(T0)).await.unwrap();
    let (_, password) = mfa
        .create_app_password("carol", &["imap"], "phone", at(T0))
        .await
        .unwrap();
    // A new process (a new Lua host) over the same script and database, empty state store.
    let mfa = Mfa::new(&bed.config, Arc::new(lua_store(dir.path())), Bed::fresh_state()).unwrap();
    let t = T0 + 3000;
    let code = totp::code_at(&secret, params(), t).unwrap();
    assert_eq!(
        mfa.verify_totp("carol", &code, "192.0.2.1", at(t)).await.unwrap(),
        CodeVerdict::Accepted
    );
    assert_eq!(
        mfa.redeem_recovery_code("carol", &codes[0], "192.0.2.1", at(t))
            .await
            .unwrap(),
        CodeVerdict::Accepted
    );
    assert_eq!(
        mfa.redeem_recovery_code("carol", &codes[0], "192.0.2.1", at(t))
            .await
            .unwrap(),
        CodeVerdict::Refused
    );
    let req = mail_request("carol", &password, "imap");
    assert_eq!(
        mfa.judge_mail_login("carol", &req, false, at(t)).await.unwrap(),
        AppPasswordVerdict::AppPassword
    );
}
