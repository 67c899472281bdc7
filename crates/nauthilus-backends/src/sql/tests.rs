//! The SQL backend against real databases: SQLite files and the test kit's PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use nauthilus_config::{ConfigDuration, SqlBackendRef, SqlMapping, SqlPoolConfig, SqlSearch};
use nauthilus_testkit::shared_postgres;

use super::{SqlBackend, SqlError, SqlLookup, SqlPool, SqlQuery};
use crate::ldap::MacroValues;

const HOSTILE: [&str; 10] = [
    "alice' OR '1'='1",
    "alice'; DROP TABLE users; --",
    "alice\0",
    "\0",
    "%",
    "al%",
    "_lice",
    "alice\\",
    "alice\" OR 1=1 #",
    "alice' /* */ --",
];

fn config(url: String) -> SqlPoolConfig {
    SqlPoolConfig {
        url,
        connect_timeout: ConfigDuration::from_secs(10),
        query_timeout: ConfigDuration::from_secs(10),
        ..SqlPoolConfig::default()
    }
}

fn search(query: &str, attribute: &[&str]) -> SqlSearch {
    SqlSearch {
        protocol: vec!["default".into()],
        password_query: query.into(),
        mapping: SqlMapping {
            account_field: "username".into(),
            display_name_field: "Display_Name".into(),
            ..SqlMapping::default()
        },
        attribute: attribute.iter().map(|a| (*a).to_owned()).collect(),
        ..SqlSearch::default()
    }
}

async fn backend(pool: Arc<SqlPool>, search: SqlSearch) -> SqlBackend {
    let cfg = config(String::new());
    let searches = [search];
    let settings = SqlBackendRef {
        path: "sql".into(),
        config: &cfg,
        search: &searches,
    };
    SqlBackend::new("sql", pool, &settings).unwrap()
}

async fn lookup(b: &SqlBackend, user: &str) -> Result<SqlLookup, SqlError> {
    b.lookup(&SqlQuery {
        protocol: "imap",
        values: MacroValues {
            user,
            ..MacroValues::default()
        },
        no_auth: false,
    })
    .await
}

async fn fill(pool: &SqlPool, placeholder: &str) {
    pool.execute(
        "CREATE TABLE users (username VARCHAR(50) NOT NULL, password VARCHAR(200), display_name VARCHAR(50), note VARCHAR(50))",
        &[],
    )
    .await
    .unwrap();
    let insert = format!("INSERT INTO users VALUES ({p}, {p}, {p}, NULL)", p = placeholder);
    let insert = if placeholder == "$" {
        "INSERT INTO users VALUES ($1, $2, $3, NULL)".to_owned()
    } else {
        insert
    };
    for (user, hash, name) in [
        ("alice", "{PLAIN}sql-unit-secret", "Alice"),
        ("bob", "{CRAM-MD5}abcdef", "Bob"),
    ] {
        pool.execute(&insert, &[user.into(), hash.into(), name.into()])
            .await
            .unwrap();
    }
}

async fn hostile_values_are_plain_values(pool: Arc<SqlPool>) {
    let b = backend(
        pool.clone(),
        search(
            "SELECT username, password, display_name, note FROM users WHERE username = %{user}",
            &["Display_Name", "note"],
        ),
    )
    .await;
    let SqlLookup::Found(alice) = lookup(&b, "alice").await.unwrap() else {
        panic!("alice not found");
    };
    assert_eq!(alice.account, "alice");
    assert!(alice.password.as_ref().unwrap().verify(b"sql-unit-secret"));
    // Configured spelling names the attribute; NULL `note` is absent; never the password.
    assert_eq!(
        alice.attributes.get("Display_Name"),
        Some(&vec!["Alice".to_owned()])
    );
    assert_eq!(alice.attributes.len(), 2, "{:?}", alice.attributes);
    assert!(alice.attributes.contains_key("username"));
    for user in HOSTILE {
        assert!(
            matches!(lookup(&b, user).await, Ok(SqlLookup::NotFound)),
            "{user:?}"
        );
    }
    // The table is intact.
    let rows = pool.fetch("SELECT COUNT(*) AS n FROM users", &[]).await.unwrap();
    assert_eq!(rows[0].get("n"), Some("2"));
    // A scheme we refuse fails closed with an error, not as a wrong password.
    assert!(matches!(
        lookup(&b, "bob").await,
        Err(SqlError::UnusablePassword { .. })
    ));
}

#[tokio::test]
async fn sqlite_binds_hostile_values() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("u.db").display());
    let pool = Arc::new(SqlPool::with_options(&config(url), true).unwrap());
    fill(&pool, "?").await;
    hostile_values_are_plain_values(pool).await;
}

#[tokio::test]
async fn postgres_binds_hostile_values() {
    let pg = shared_postgres().unwrap();
    let admin = SqlPool::new(&config(pg.url("postgres"))).unwrap();
    let name = format!("unit{}", std::process::id());
    admin
        .execute(&format!("CREATE DATABASE {name}"), &[])
        .await
        .unwrap();
    let pool = Arc::new(SqlPool::new(&config(pg.url(&name))).unwrap());
    fill(&pool, "$").await;
    hostile_values_are_plain_values(pool).await;
}

#[tokio::test]
async fn rows_without_an_account_and_several_rows_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("u.db").display());
    let pool = Arc::new(SqlPool::with_options(&config(url), true).unwrap());
    fill(&pool, "?").await;
    let b = backend(
        pool.clone(),
        search(
            "SELECT NULL AS username, password FROM users WHERE username = %{user}",
            &[],
        ),
    )
    .await;
    assert!(matches!(
        lookup(&b, "alice").await,
        Err(SqlError::MissingAccount { .. })
    ));
    let b = backend(
        pool,
        search(
            "SELECT username, password FROM users WHERE username = %{user} OR %{user} = 'alice'",
            &[],
        ),
    )
    .await;
    assert!(matches!(
        lookup(&b, "alice").await,
        Err(SqlError::Ambiguous { rows: 2, .. })
    ));
}
