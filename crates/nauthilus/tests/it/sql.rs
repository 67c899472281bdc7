//! The server with SQL backends against real databases: PostgreSQL and MariaDB from the test
//! kit (one shared instance each per test binary, a fresh database per test) and SQLite files.
//! Logins, no-auth, list-accounts, attributes, a Postfix Admin schema, hostile user names,
//! ambiguous rows, unusable hashes, outages, slow queries, pool exhaustion and the `users` CLI.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nauthilus_backends::sql::SqlPool;
use nauthilus_config::{ConfigDuration, SqlPoolConfig};
use nauthilus_testkit::{MariaDb, Postgres, shared_mariadb, shared_postgres};
use serde_json::json;

use crate::support::{TestServer, header};

/// `doveadm pw -s SHA512-CRYPT -r 1000` of "correct horse".
const ALICE_HASH: &str = "{SHA512-CRYPT}$6$rounds=1000$e74a56jyQH73SK7r$dwCnKe6qOfm9RSQNWAl/KQaxib.Srew/xMww2WHC0fnL2rVkLLRJS4RceY/3rkTZG0YT8CsNav34NzfxYp.4w/";
/// `openssl passwd -6 -salt saltsalt` of "correct horse": a bare crypt string.
const BOB_HASH: &str =
    "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0";
pub(crate) const PASSWORD: &str = "correct horse";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Postgres,
    MariaDb,
    Sqlite,
}

/// A fresh, empty database of one kind.
pub(crate) struct Db {
    pub(crate) kind: Kind,
    pub(crate) url: String,
    pub(crate) pool: SqlPool,
    pub(crate) _dir: Option<tempfile::TempDir>,
}

pub(crate) fn pool_config(url: &str) -> SqlPoolConfig {
    SqlPoolConfig {
        url: url.to_owned(),
        connect_timeout: ConfigDuration::from_secs(10),
        query_timeout: ConfigDuration::from_secs(30),
        ..SqlPoolConfig::default()
    }
}

fn unique_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("t{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

impl Db {
    async fn new(kind: Kind) -> Self {
        let name = unique_name();
        let (url, dir) = match kind {
            Kind::Postgres => (
                create_database(&shared_postgres().unwrap().url("postgres"), &name, |n| {
                    shared_postgres().unwrap().url(n)
                })
                .await,
                None,
            ),
            Kind::MariaDb => (
                create_database(&shared_mariadb().unwrap().url(""), &name, |n| {
                    shared_mariadb().unwrap().url(n)
                })
                .await,
                None,
            ),
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                (
                    format!("sqlite://{}", dir.path().join("users.db").display()),
                    Some(dir),
                )
            }
        };
        let pool = SqlPool::with_options(&pool_config(&url), true).unwrap();
        Self {
            kind,
            url,
            pool,
            _dir: dir,
        }
    }

    pub(crate) async fn exec(&self, sql: &str, params: &[&str]) {
        let params: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
        self.pool
            .execute(sql, &params)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The placeholder of the n-th parameter (1-based) in this dialect.
    fn ph(&self, n: usize) -> String {
        match self.kind {
            Kind::Postgres => format!("${n}"),
            _ => "?".into(),
        }
    }

    /// A generic users table with alice (prefixed hash), bob (bare crypt, NULLs), an inactive
    /// carol, a user without password, two rows for twin and one with a scheme we refuse.
    pub(crate) async fn users_table(&self) {
        self.exec(
            "CREATE TABLE users (username VARCHAR(100) NOT NULL, password VARCHAR(255), display_name VARCHAR(100), mail VARCHAR(100), quota INTEGER, active INTEGER NOT NULL)",
            &[],
        )
        .await;
        let insert = format!(
            "INSERT INTO users (username, password, display_name, mail, quota, active) VALUES ({}, {}, {}, {}, {}, {})",
            self.ph(1),
            self.ph(2),
            self.ph(3),
            self.ph(4),
            "NULL",
            self.ph(5)
        );
        for (user, hash, name, mail, active) in [
            (
                "alice@example.test",
                ALICE_HASH,
                "Alice Example",
                "alice@example.test",
                "1",
            ),
            (
                "carol@example.test",
                ALICE_HASH,
                "Carol",
                "carol@example.test",
                "0",
            ),
            ("twin@example.test", ALICE_HASH, "Twin 1", "t1@example.test", "1"),
            ("twin@example.test", ALICE_HASH, "Twin 2", "t2@example.test", "1"),
            (
                "md5@example.test",
                "{MD5}$1$abc$def",
                "Old",
                "md5@example.test",
                "1",
            ),
        ] {
            self.exec_typed(&insert, &[user, hash, name, mail, active]).await;
        }
        self.exec(
            "INSERT INTO users (username, password, display_name, mail, quota, active) VALUES ('bob@example.test', NULL, NULL, 'bob@example.test', 2048, 1)",
            &[],
        )
        .await;
        self.exec(
            &format!(
                "UPDATE users SET password = {} WHERE username = 'bob@example.test'",
                self.ph(1)
            ),
            &[BOB_HASH],
        )
        .await;
        self.exec(
            "INSERT INTO users (username, password, display_name, mail, quota, active) VALUES ('nopass@example.test', NULL, 'No Password', NULL, NULL, 1)",
            &[],
        )
        .await;
        self.exec(
            "UPDATE users SET quota = 1024 WHERE username = 'alice@example.test'",
            &[],
        )
        .await;
    }

    /// Inserts with text parameters; PostgreSQL gets the integer column cast.
    async fn exec_typed(&self, insert: &str, params: &[&str]) {
        let sql = if self.kind == Kind::Postgres {
            insert.replace("$5)", "$5::integer)")
        } else {
            insert.to_owned()
        };
        self.exec(&sql, params).await;
    }
}

/// Creates database `name` through `admin_url` and returns its URL.
async fn create_database(admin_url: &str, name: &str, url_of: impl Fn(&str) -> String) -> String {
    let admin = SqlPool::new(&pool_config(admin_url)).unwrap();
    admin
        .execute(&format!("CREATE DATABASE {name}"), &[])
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    admin.close().await;
    url_of(name)
}

/// The search block for the users table (indented for `sql.search:`).
pub(crate) fn users_search(extra_searches: &str) -> String {
    format!(
        "  search:\n    - protocol: [imap, pop3, default]\n      password_query: SELECT username, password, display_name, mail, quota FROM users WHERE username = %L{{user}} AND active = 1\n      user_query: SELECT username, display_name, mail FROM users WHERE username = %L{{user}} AND active = 1\n      list_accounts_query: SELECT username FROM users WHERE active = 1 ORDER BY username\n      mapping:\n        account_field: username\n        display_name_field: display_name\n{extra_searches}"
    )
}

/// A server whose only backend is `sql` over `url`; `pool_extra` replaces the default timeouts.
pub(crate) async fn sql_server(url: &str, pool_extra: &str, search: &str) -> TestServer {
    let pool_extra = if pool_extra.is_empty() {
        "    connect_timeout: 2s\n    query_timeout: 2s\n"
    } else {
        pool_extra
    };
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [sql]\n  log: {{level: error}}\nlocal_cache_auth_ttl: 0\nsql:\n  config:\n    url: '{url}'\n{pool_extra}{search}"
    );
    TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await
}

async fn login(s: &TestServer, user: &str, password: &str, protocol: &str) -> reqwest::Response {
    s.json(
        "",
        json!({"username": user, "password": password, "protocol": protocol, "client_ip": "192.0.2.7"}),
    )
    .await
}

pub(crate) async fn status(s: &TestServer, user: &str, password: &str) -> u16 {
    login(s, user, password, "imap").await.status().as_u16()
}

async fn logins_attributes_no_auth_and_list(kind: Kind) {
    let db = Db::new(kind).await;
    db.users_table().await;
    let s = sql_server(&db.url, "", &users_search("")).await;

    let r = login(&s, "Alice@Example.TEST", PASSWORD, "imap").await;
    assert_eq!(r.status(), 200, "{kind:?}");
    assert_eq!(header(&r, "auth-status"), "OK");
    assert_eq!(header(&r, "auth-user"), "alice@example.test");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["passdb_backend"], "sqlPassDB");
    assert_eq!(body["backend"], 6);
    assert_eq!(body["account_field"], "username");
    assert_eq!(body["display_name_field"], "display_name");
    assert_eq!(body["attributes"]["display_name"], json!(["Alice Example"]));
    assert_eq!(body["attributes"]["quota"], json!(["1024"]));
    assert!(body["attributes"].get("password").is_none(), "never the password");

    // Bare `$6$` crypt string; NULL columns are absent attributes; header endpoint.
    let r = s
        .get_with(
            "/api/v1/auth/header",
            &[
                ("Auth-User", "bob@example.test"),
                ("Auth-Pass", PASSWORD),
                ("Auth-Protocol", "pop3"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200, "{kind:?}");
    assert_eq!(header(&r, "x-nauthilus-mail"), "bob@example.test");
    assert_eq!(header(&r, "x-nauthilus-quota"), "2048");
    assert!(r.headers().get("x-nauthilus-display_name").is_none());

    // Wrong password, unknown user, inactive user, user without password.
    assert_eq!(status(&s, "alice@example.test", "wrong").await, 403);
    assert_eq!(status(&s, "mallory@example.test", PASSWORD).await, 403);
    assert_eq!(status(&s, "carol@example.test", PASSWORD).await, 403);
    assert_eq!(status(&s, "nopass@example.test", "anything").await, 403);

    // no-auth: the user query, no password.
    let r = s
        .get_with(
            "/api/v1/auth/header?mode=no-auth",
            &[("Auth-User", "bob@example.test"), ("Auth-Protocol", "imap")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), "bob@example.test");
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
    assert_eq!(
        accounts,
        json!([
            "alice@example.test",
            "bob@example.test",
            "md5@example.test",
            "nopass@example.test",
            "twin@example.test"
        ])
    );
}

async fn two_rows_and_unusable_hashes_fail_closed(kind: Kind) {
    let db = Db::new(kind).await;
    db.users_table().await;
    let s = sql_server(&db.url, "", &users_search("")).await;
    let r = login(&s, "twin@example.test", PASSWORD, "imap").await;
    assert_eq!(r.status(), 500, "{kind:?}: two rows → temporary failure");
    assert_eq!(
        header(&r, "auth-status"),
        "Temporary server problem, try again later"
    );
    assert_eq!(status(&s, "md5@example.test", PASSWORD).await, 500, "{kind:?}");
    // Others are unaffected.
    assert_eq!(status(&s, "alice@example.test", PASSWORD).await, 200);
}

async fn postfix_admin_schema(kind: Kind) {
    let db = Db::new(kind).await;
    let (active_type, yes, no) = match kind {
        Kind::Postgres => ("BOOLEAN", "true", "false"),
        Kind::MariaDb => ("TINYINT(1)", "1", "0"),
        Kind::Sqlite => ("INTEGER", "1", "0"),
    };
    db.exec(
        &format!(
            "CREATE TABLE mailbox (username VARCHAR(255) NOT NULL PRIMARY KEY, password VARCHAR(255) NOT NULL, name VARCHAR(255) NOT NULL DEFAULT '', maildir VARCHAR(255) NOT NULL DEFAULT '', quota BIGINT NOT NULL DEFAULT 0, local_part VARCHAR(255) NOT NULL, domain VARCHAR(255) NOT NULL, active {active_type} NOT NULL DEFAULT {yes})"
        ),
        &[],
    )
    .await;
    for (user, hash, active) in [
        ("alice@example.test", ALICE_HASH, yes),
        ("bob@example.test", BOB_HASH, yes),
        ("eve@example.test", ALICE_HASH, no),
    ] {
        let local = user.split('@').next().unwrap();
        db.exec(
            &format!(
                "INSERT INTO mailbox (username, password, name, maildir, quota, local_part, domain, active) VALUES ({}, {}, {}, {}, 0, {}, 'example.test', {active})",
                db.ph(1),
                db.ph(2),
                db.ph(3),
                db.ph(4),
                db.ph(5)
            ),
            &[user, hash, local, &format!("example.test/{local}/"), local],
        )
        .await;
    }
    // Dovecot style, as Postfix Admin documents it: quoted macros, `active = '1'`.
    let search = "  search:\n    - protocol: default\n      password_query: \"SELECT username AS user, password, maildir FROM mailbox WHERE local_part = '%{username}' AND domain = '%{domain}' AND active = '1'\"\n      mapping:\n        account_field: user\n      attribute: [maildir]\n";
    let s = sql_server(&db.url, "", search).await;
    let r = login(&s, "alice@example.test", PASSWORD, "imap").await;
    assert_eq!(r.status(), 200, "{kind:?}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["attributes"]["maildir"], json!(["example.test/alice/"]));
    assert_eq!(body["attributes"]["user"], json!(["alice@example.test"]));
    assert_eq!(status(&s, "bob@example.test", PASSWORD).await, 200, "{kind:?}");
    assert_eq!(status(&s, "bob@example.test", "wrong").await, 403);
    assert_eq!(status(&s, "eve@example.test", PASSWORD).await, 403, "inactive");
}

async fn hostile_user_names_find_nothing_and_break_nothing(kind: Kind) {
    let db = Db::new(kind).await;
    db.users_table().await;
    let s = sql_server(&db.url, "", &users_search("")).await;
    // The codec lets quotes, `;`, `--`, `#`, `/* */`, `_`, `*`, `$`, `?` through: the query must
    // bind them as a value that matches nobody.
    for user in [
        "x'OR'1'='1",
        "alice@example.test'--",
        "alice@example.test';--",
        "alice@example.test';DROP/**/TABLE/**/users;--",
        "alice@example.test'#",
        "alice@example.test'/**/OR/**/1=1/**/--",
        "'UNION/**/SELECT/**/'alice@example.test','x','x','x',1--",
        "alice@example.test'/*",
        "_lice@example.test",
        "alice@example.tes_",
        "*",
        "$1",
        "?",
        "';",
    ] {
        let r = login(&s, user, PASSWORD, "imap").await;
        assert_eq!(r.status(), 403, "{kind:?}: {user:?}");
    }
    // Whitespace, `%`, `"`, `\\`, braces and NUL are refused by the codec (Nauthilus rule) or
    // found by nobody; never a success or a 500. (The backend's own handling of `%`, NUL and
    // friends is tested in nauthilus-backends against SQLite.)
    for user in [
        "x' OR '1'='1",
        "%",
        "%@example.test",
        "%{user}",
        "alice@example.test\"--",
        "alice@example.test\u{0}",
        "\u{0}'OR'1'='1",
        "alice@example.test\\",
    ] {
        let code = status(&s, user, PASSWORD).await;
        assert!(code == 400 || code == 403, "{kind:?}: {user:?} gave {code}");
    }
    // The table is intact.
    assert_eq!(status(&s, "alice@example.test", PASSWORD).await, 200, "{kind:?}");
    assert_eq!(status(&s, "bob@example.test", PASSWORD).await, 200, "{kind:?}");
}

macro_rules! for_each_database {
    ($($test:ident),+) => {
        mod postgres {
            $(#[tokio::test] async fn $test() { super::$test(super::Kind::Postgres).await; })+
        }
        mod mariadb {
            $(#[tokio::test] async fn $test() { super::$test(super::Kind::MariaDb).await; })+
        }
        mod sqlite {
            $(#[tokio::test] async fn $test() { super::$test(super::Kind::Sqlite).await; })+
        }
    };
}

for_each_database!(
    logins_attributes_no_auth_and_list,
    two_rows_and_unusable_hashes_fail_closed,
    postfix_admin_schema,
    hostile_user_names_find_nothing_and_break_nothing
);

/// Outage at start and mid-run, recovery without a restart, on a private server.
async fn outage_and_recovery(url: String, stop: impl Fn(), start: impl Fn()) {
    let db = Db {
        kind: if url.starts_with("postgres") {
            Kind::Postgres
        } else {
            Kind::MariaDb
        },
        pool: SqlPool::with_options(&pool_config(&url), false).unwrap(),
        url,
        _dir: None,
    };
    db.users_table().await;
    db.pool.close().await;
    stop();
    // Down at start: the server starts, logins fail temporarily.
    let s = sql_server(&db.url, "", &users_search("")).await;
    let r = login(&s, "alice@example.test", PASSWORD, "imap").await;
    assert_eq!(r.status(), 500);
    assert_eq!(
        header(&r, "auth-status"),
        "Temporary server problem, try again later"
    );
    start();
    assert_eq!(status(&s, "alice@example.test", PASSWORD).await, 200, "recovered");
    // Down mid-run (connections in the pool die with it), then back.
    stop();
    for _ in 0..3 {
        assert_eq!(status(&s, "alice@example.test", PASSWORD).await, 500);
    }
    assert_eq!(
        status(&s, "alice@example.test", "wrong").await,
        500,
        "never a 403 while down"
    );
    start();
    assert_eq!(
        status(&s, "alice@example.test", PASSWORD).await,
        200,
        "recovered again"
    );
    assert_eq!(status(&s, "alice@example.test", "wrong").await, 403);
}

#[tokio::test]
async fn postgres_outage_and_recovery() {
    let pg = Postgres::start().unwrap();
    let url = pg.url("postgres");
    outage_and_recovery(url, || pg.stop().unwrap(), || pg.start_again().unwrap()).await;
}

#[tokio::test]
async fn mariadb_outage_and_recovery() {
    let db = MariaDb::start().unwrap();
    let admin = SqlPool::new(&pool_config(&db.url(""))).unwrap();
    admin.execute("CREATE DATABASE mail", &[]).await.unwrap();
    admin.close().await;
    let url = db.url("mail");
    outage_and_recovery(url, || db.stop().unwrap(), || db.start_again().unwrap()).await;
}

/// A slow query times out (temporary failure); with one connection busy on it, another login
/// waits for the pool at most `connect_timeout` and fails temporarily; afterwards all is well.
async fn slow_query_and_pool_exhaustion(kind: Kind) {
    let db = Db::new(kind).await;
    db.users_table().await;
    let sleep = match kind {
        Kind::Postgres => "(SELECT pg_sleep(3)) AS s",
        _ => "(SELECT SLEEP(3)) AS s",
    };
    let slow = format!(
        "    - protocol: [smtp]\n      password_query: SELECT username, password FROM users, {sleep} WHERE username = %L{{user}}\n      mapping:\n        account_field: username\n"
    );
    // Query timeout 500ms: the slow search is a temporary failure.
    let s = sql_server(
        &db.url,
        "    connect_timeout: 2s\n    query_timeout: 500ms\n",
        &users_search(&slow),
    )
    .await;
    let r = login(&s, "alice@example.test", PASSWORD, "smtp").await;
    assert_eq!(r.status(), 500, "{kind:?}: slow query");
    assert_eq!(
        status(&s, "alice@example.test", PASSWORD).await,
        200,
        "fast query still fine"
    );

    // One connection, long query timeout: the slow login holds it; another waits 300ms, fails.
    let yaml_extra = "    pool_size: 1\n    connect_timeout: 300ms\n    query_timeout: 10s\n";
    let s = std::sync::Arc::new(sql_server(&db.url, yaml_extra, &users_search(&slow)).await);
    assert_eq!(status(&s, "alice@example.test", PASSWORD).await, 200);
    let holder = {
        let s = s.clone();
        tokio::spawn(async move { login(&s, "alice@example.test", PASSWORD, "smtp").await.status() })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let r = login(&s, "alice@example.test", PASSWORD, "imap").await;
    assert_eq!(r.status(), 500, "{kind:?}: pool exhausted");
    assert_eq!(holder.await.unwrap(), 200, "the slow login completes");
    assert_eq!(
        status(&s, "alice@example.test", PASSWORD).await,
        200,
        "pool free again"
    );
}

#[tokio::test]
async fn postgres_slow_query_and_pool_exhaustion() {
    slow_query_and_pool_exhaustion(Kind::Postgres).await;
}

#[tokio::test]
async fn mariadb_slow_query_and_pool_exhaustion() {
    slow_query_and_pool_exhaustion(Kind::MariaDb).await;
}

/// `nauthilus users` manages an SQLite store the server reads: add (ARGON2ID), list, passwd, del.
#[tokio::test]
async fn the_users_command_manages_the_embedded_sqlite_store() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("users.db");
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nauthilus"))
            .arg("users")
            .args(args)
            .arg("--db")
            .arg(&db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = run(
        &["add", "dave@example.test", "--display-name", "Dave"],
        "sql-dave-secret\n",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["add", "dave@example.test"], "again\n");
    assert!(!ok && err.contains("exists"), "{err}");
    let (ok, _, err) = run(
        &["add", "erin@example.test", "--scheme", "blf-crypt"],
        "sql-erin-secret\n",
    );
    assert!(ok, "{err}");
    let (ok, out, _) = run(&["list"], "");
    assert!(ok);
    assert_eq!(
        out,
        "dave@example.test\tactive\tDave\nerin@example.test\tactive\t\n"
    );

    // Stored hashed, never in clear.
    let pool = SqlPool::new(&pool_config(&format!("sqlite://{}", db.display()))).unwrap();
    let rows = pool
        .fetch("SELECT password FROM users ORDER BY username", &[])
        .await
        .unwrap();
    assert!(
        rows[0]
            .get("password")
            .unwrap()
            .starts_with("{ARGON2ID}$argon2id$")
    );
    assert!(rows[1].get("password").unwrap().starts_with("{BLF-CRYPT}$2"));

    let search = format!(
        "  search:\n    - protocol: default\n      password_query: {}\n      list_accounts_query: SELECT username FROM users WHERE active = 1\n      mapping:\n        account_field: username\n        display_name_field: display_name\n",
        nauthilus::users::PASSWORD_QUERY
    );
    let s = sql_server(&format!("sqlite://{}", db.display()), "", &search).await;
    let r = login(&s, "DAVE@example.test", "sql-dave-secret", "imap").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), "dave@example.test");
    assert_eq!(status(&s, "erin@example.test", "sql-erin-secret").await, 200);
    assert_eq!(status(&s, "dave@example.test", "wrong").await, 403);

    let (ok, _, err) = run(&["passwd", "dave@example.test"], "sql-dave-new\n");
    assert!(ok, "{err}");
    assert_eq!(status(&s, "dave@example.test", "sql-dave-secret").await, 403);
    assert_eq!(status(&s, "dave@example.test", "sql-dave-new").await, 200);
    let (ok, _, err) = run(&["del", "dave@example.test"], "");
    assert!(ok, "{err}");
    assert_eq!(status(&s, "dave@example.test", "sql-dave-new").await, 403);
    let (ok, _, err) = run(&["del", "dave@example.test"], "");
    assert!(!ok && err.contains("no user"), "{err}");
    let (ok, _, err) = run(&["add", "frank@example.test"], "\n");
    assert!(!ok && err.contains("no password"), "{err}");
}

/// `--config-check` accepts examples/sqlite.yml and names bad SQL settings by key, without
/// connecting and without echoing the URL's password.
#[test]
fn config_check_checks_sql_urls_and_queries() {
    use std::process::Command;

    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sqlite.yml");
    let out = Command::new(env!("CARGO_BIN_EXE_nauthilus"))
        .args(["--config-check", "--config"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nauthilus.yml");
    std::fs::write(
        &path,
        "server:\n  backends: [sql, sql(pfa)]\nsql:\n  config: {url: 'oracle://u:hunter22@h/db'}\n  search:\n    - protocol: default\n      password_query: SELECT 1\n  optional_sql_backends:\n    pfa:\n      config: {url: 'postgres://u:hunter22@127.0.0.1:1/db'}\n      search:\n        - protocol: default\n          password_query: \"SELECT password FROM t WHERE u = '%{user}@x'\"\n          user_query: SELECT 1 WHERE u = $1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nauthilus"))
        .args(["--config-check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("sql.config.url: unsupported database URL scheme"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("sql.optional_sql_backends.pfa.search[0].password_query: macro inside a quoted string"),
        "{stderr}"
    );
    assert!(
        stderr.contains("sql.optional_sql_backends.pfa.search[0].user_query: placeholder \"$1\""),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter22"), "{stderr}");
}
