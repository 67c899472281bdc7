//! The Lua modules on the server's own services: `db` (a SQL backend script in the style of the
//! public plugins) against real PostgreSQL and SQLite, `nauthilus_ldap` against the testkit's
//! slapd, `nauthilus_dns` against a DNS server the test starts, and the action types of the
//! built-in triggers (brute force, relay_domains) firing before the answer.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use nauthilus_backends::sql::SqlPool;
use nauthilus_config::{ConfigDuration, SqlPoolConfig};
use nauthilus_testkit::{
    ADMIN_DN, ADMIN_PASSWORD, DnsServer, Reply, Zone, shared_postgres, shared_redis, shared_slapd,
};
use serde_json::{Value, json};

use crate::support::{TestServer, fixtures, header};

/// `doveadm pw -s SHA512-CRYPT -r 1000` of "correct horse".
const HASH: &str = "{SHA512-CRYPT}$6$rounds=1000$e74a56jyQH73SK7r$dwCnKe6qOfm9RSQNWAl/KQaxib.Srew/xMww2WHC0fnL2rVkLLRJS4RceY/3rkTZG0YT8CsNav34NzfxYp.4w/";
const PASSWORD: &str = "correct horse";

fn script(name: &str) -> String {
    fixtures().join("lua").join(name).display().to_string()
}

fn pool_config(url: &str) -> SqlPoolConfig {
    SqlPoolConfig {
        url: url.to_owned(),
        connect_timeout: ConfigDuration::from_secs(10),
        query_timeout: ConfigDuration::from_secs(30),
        ..SqlPoolConfig::default()
    }
}

fn unique_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("lua{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// The users table of `sql_backend.lua` with alice (quota 1024) and bob (quota 0).
async fn fill(pool: &SqlPool, postgres: bool) {
    let ph = |n: usize| if postgres { format!("${n}") } else { "?".to_owned() };
    pool.execute(
        "CREATE TABLE nauthilus (username VARCHAR(100) NOT NULL, account VARCHAR(100) NOT NULL, password VARCHAR(255) NOT NULL, uniqueid VARCHAR(64), display_name VARCHAR(100), quota INTEGER NOT NULL, logins INTEGER NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    let insert = format!(
        "INSERT INTO nauthilus (username, account, password, uniqueid, display_name, quota, logins) VALUES ({}, {}, {}, {}, {}, 1024, 0)",
        ph(1),
        ph(2),
        ph(3),
        ph(4),
        ph(5)
    );
    for (user, account, uid, name) in [
        ("alice@example.test", "alice", "u-1000", "Alice Example"),
        ("bob@example.test", "bob", "u-1001", "Bob Example"),
    ] {
        let params: Vec<String> = [user, account, HASH, uid, name].map(str::to_owned).to_vec();
        pool.execute(&insert, &params).await.unwrap();
    }
}

/// A server whose only backend is `sql_backend.lua` on `driver`/`dsn`.
async fn sql_script_server(driver: &str, dsn: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(script("sql_backend.lua"))
        .unwrap()
        .replace("@DRIVER@", driver)
        .replace("@DSN@", dsn);
    let path = dir.path().join("sql_backend.lua");
    std::fs::write(&path, source).unwrap();
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [lua]\n  log: {{level: warn}}\nlocal_cache_auth_ttl: 0\nlua:\n  config:\n    backend_script_path: '{}'\n    backend_number_of_workers: 2\n",
        path.display()
    );
    TestServer::from_yaml(dir, &yaml).await
}

async fn login(s: &TestServer, user: &str, password: &str) -> reqwest::Response {
    s.json(
        "",
        json!({"username": user, "password": password, "protocol": "imap", "client_ip": "192.0.2.30"}),
    )
    .await
}

/// The login flow every SQL backend script must pass, on the database behind `check`.
async fn sql_backend_flow(s: &TestServer, logins_of_alice: impl AsyncFnOnce() -> i64) {
    let r = login(s, "alice@example.test", PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), "alice");
    let body: Value = r.json().await.unwrap();
    let attrs = &body["attributes"];
    assert_eq!(attrs["display_name"], json!(["Alice Example"]), "{body}");
    assert_eq!(attrs["uniqueid"], json!(["u-1000"]));
    assert_eq!(attrs["quota_is_number"], json!(["true"]), "typed cells: {body}");
    assert_eq!(attrs["rows_affected"], json!(["1"]), "exec: {body}");
    assert_eq!(
        attrs["columns"],
        json!(["account,password,uniqueid,display_name,quota"])
    );
    assert_eq!(body["display_name_field"], json!("display_name"));

    assert_eq!(login(s, "alice@example.test", "wrong").await.status(), 403);
    assert_eq!(login(s, "nobody@example.test", PASSWORD).await.status(), 403);
    // Hostile input is a bound parameter, never SQL.
    assert_ne!(login(s, "x' OR '1'='1", PASSWORD).await.status(), 200);

    let r = s
        .get_with(
            "/api/v1/auth/json?mode=list-accounts",
            &[("Accept", "application/json")],
        )
        .await;
    assert_eq!(r.json::<Vec<String>>().await.unwrap(), ["alice", "bob"]);
    // Only the successful login ran the UPDATE.
    assert_eq!(logins_of_alice().await, 1);
}

async fn alice_logins(pool: &SqlPool) -> i64 {
    let rows = pool
        .fetch("SELECT logins FROM nauthilus WHERE account = 'alice'", &[])
        .await
        .unwrap();
    rows[0].get("logins").unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lua_sql_backend_runs_on_postgresql() {
    let pg = shared_postgres().unwrap();
    let name = unique_name();
    let admin = SqlPool::new(&pool_config(&pg.url("postgres"))).unwrap();
    admin
        .execute(&format!("CREATE DATABASE {name}"), &[])
        .await
        .unwrap();
    admin.close().await;
    let pool = SqlPool::new(&pool_config(&pg.url(&name))).unwrap();
    fill(&pool, true).await;
    // The lib/pq key=value form of the DSN, as Go scripts write it.
    let dsn = format!(
        "host=127.0.0.1 port={} user=postgres dbname={name} sslmode=disable",
        pg.port()
    );
    let s = sql_script_server("postgres", &dsn).await;
    sql_backend_flow(&s, async || alice_logins(&pool).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lua_sql_backend_runs_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.db");
    let pool = SqlPool::with_options(&pool_config(&format!("sqlite://{}", file.display())), true).unwrap();
    fill(&pool, false).await;
    let s = sql_script_server("sqlite3", &format!("file:{}?cache=shared", file.display())).await;
    sql_backend_flow(&s, async || alice_logins(&pool).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_dsn_is_a_temporary_failure() {
    let s = sql_script_server("postgres", "host=127.0.0.1 port=1 user=x dbname=y").await;
    let r = login(&s, "alice@example.test", PASSWORD).await;
    assert_eq!(r.status(), 500);
    let s = sql_script_server("oracle", "whatever").await;
    assert_eq!(login(&s, "alice@example.test", PASSWORD).await.status(), 500);
}

/// A DNS zone for the hook: A, MX, TXT and a PTR.
async fn lua_dns() -> DnsServer {
    let zone = Zone::new("lua.test", 60)
        .a("mail", Ipv4Addr::new(192, 0, 2, 25))
        .mx("@", 10, "mail.lua.test.")
        .txt("@", "v=spf1 -all");
    let reverse = Zone::new("2.0.192.in-addr.arpa", 60).ptr("25", "mail.lua.test.");
    DnsServer::start(vec![zone, reverse]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_and_dns_modules_use_the_servers_pools_and_resolver() {
    let slapd = shared_slapd().unwrap();
    let dns = lua_dns().await;
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [ldap]\n  log: {{level: warn}}\n  dns: {{resolver: \"{resolver}\", timeout: 2s}}\nlocal_cache_auth_ttl: 0\nldap:\n  config:\n    server_uri: ['{url}']\n    bind_dn: '{ADMIN_DN}'\n    bind_pw: '{ADMIN_PASSWORD}'\n  search:\n{search}lua:\n  config:\n    hook_vm_pool_size: 1\n  custom_hooks:\n    - {{http_location: directory, http_method: GET, script_path: '{hook}'}}\n",
        resolver = dns.addr(),
        url = slapd.url(),
        search = crate::ldap::imap_search(),
        hook = script("directory_hook.lua"),
    );
    let s = TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await;
    let r = s.get_with("/api/v1/custom/directory?uid=alice", &[]).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["mail"], json!("alice@example.test"), "{body}");
    assert_eq!(body["display_name"], json!("Alice"));
    assert_eq!(body["modify"], json!("OK"));
    assert_eq!(body["description_set"], json!(true));
    assert_eq!(body["raw_dn"], json!("uid=alice,ou=people,dc=example,dc=test"));
    assert_eq!(body["endpoint_ok"], json!(true));
    assert_eq!(body["a"], json!(["192.0.2.25"]), "{body}");
    assert_eq!(body["mx_host"], json!("mail.lua.test."));
    assert_eq!(body["mx_pref"], json!(10));
    assert_eq!(body["txt"], json!(["v=spf1 -all"]));
    assert_eq!(body["ptr"], json!(["mail.lua.test."]));
    assert_eq!(body["cname_missing"], json!(true));
    // An unknown user: the search finds nothing and the modify fails, so the hook errors.
    let r = s.get_with("/api/v1/custom/directory?uid=nobody", &[]).await;
    assert_eq!(r.status(), 500);
}

/// The entries of `<prefix>fired` (what the trigger action noted).
fn fired(prefix: &str) -> Vec<String> {
    let redis = shared_redis().unwrap();
    match redis
        .command(&["LRANGE", &format!("{prefix}fired"), "0", "-1"])
        .unwrap()
    {
        Reply::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Reply::Bulk(b) => String::from_utf8(b).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect(),
        Reply::Nil => Vec::new(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_and_feature_actions_run_before_the_answer() {
    let redis = shared_redis().unwrap();
    let prefix = format!("lua-it-actions-{}:", std::process::id());
    redis.command(&["DEL", &format!("{prefix}fired")]).unwrap();
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [lua]\n  features: [relay_domains, brute_force]\n  log: {{level: warn}}\n  equalize_failure_timing: false\n  redis:\n    master: {{address: \"{addr}\"}}\n    prefix: \"{prefix}\"\n    password_nonce: lua-it-nonce-0123456789\nbrute_force:\n  buckets:\n    - {{name: tight, period: 1h, cidr: 32, ipv4: true, failed_requests: 2}}\nrelay_domains: {{static: [example.test]}}\nlocal_cache_auth_ttl: 0\nlua:\n  config:\n    backend_script_path: '{backend}'\n  actions:\n    - {{type: brute_force, name: bf, script_path: '{action}'}}\n    - {{type: relay_domains, name: relay, script_path: '{action}'}}\n",
        addr = redis.addr(),
        backend = script("backend.lua"),
        action = script("trigger_action.lua"),
    );
    let s = TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await;
    let try_login = |user: &'static str, password: String, ip: &'static str| {
        s.json(
            "",
            json!({"username": user, "password": password, "protocol": "imap", "client_ip": ip}),
        )
    };
    // relay_domains refuses a foreign domain; its action ran before the answer came back.
    assert_eq!(
        try_login("mallory@elsewhere.test", "x".into(), "192.0.2.40")
            .await
            .status(),
        403
    );
    assert_eq!(fired(&prefix), ["relay_domains|192.0.2.40"]);
    // Different wrong passwords (a repeated one is not counted again) until the bucket is
    // full: the failure that bans, and every banned attempt after it, run the brute_force
    // action with the rule's name, its bucket's counter and whether the ban was already in
    // force (`repeating`); the action's headers reach the answer, its `Auth-Status` does not.
    for i in 0..4 {
        let r = try_login("alice@example.test", format!("wrong-{i}"), "192.0.2.41").await;
        assert_eq!(r.status(), 403);
        if i == 0 {
            assert_eq!(header(&r, "x-nauthilus-bruteforce"), "", "no ban yet");
        } else {
            assert_eq!(header(&r, "x-nauthilus-bruteforce"), "true", "attempt {i}");
            assert_eq!(header(&r, "x-nauthilus-bruteforce-bucket"), "tight");
            assert_eq!(header(&r, "auth-status"), "Invalid login or password");
            assert_eq!(header(&r, "auth-server"), "", "a script never picks the upstream");
            assert_eq!(header(&r, "auth-user"), "");
        }
    }
    assert_eq!(
        fired(&prefix),
        [
            "relay_domains|192.0.2.40",
            "tight|192.0.2.41|2|false",
            "tight|192.0.2.41|2|true",
            "tight|192.0.2.41|2|true",
        ]
    );
}
