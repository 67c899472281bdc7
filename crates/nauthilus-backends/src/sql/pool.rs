//! One SQL connection pool (sqlx) over PostgreSQL, MySQL/MariaDB or SQLite, chosen by the URL.
//!
//! The pool connects lazily: the server starts while the database is down, and each query waits
//! at most `connect_timeout` for a connection (opening one included), so a dead database or an
//! exhausted pool is a bounded wait followed by an error, never a hang. Each query runs within
//! `query_timeout`. Rows come back as text (`SqlRow`): every column a backend or a Lua script
//! reads is a string or NULL.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use nauthilus_config::SqlPoolConfig;
use sqlx::pool::PoolOptions;
use sqlx::{Column as _, ConnectOptions as _, Row as _};

use super::SqlError;
use super::query::Dialect;

mod typed;
pub use typed::{SqlTable, SqlValue};

/// One row as text: column names (shared by the rows of one result) and values, NULL = `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlRow {
    pub columns: Arc<[String]>,
    pub values: Vec<Option<String>>,
}

impl SqlRow {
    /// The value of the column named `name` (ASCII case-insensitive); `None` when the column is
    /// absent or NULL.
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = self.columns.iter().position(|c| c.eq_ignore_ascii_case(name))?;
        self.values.get(i)?.as_deref()
    }

    /// True when the result has a column named `name` (ASCII case-insensitive).
    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug)]
enum Inner {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

/// A pool of connections to one database.
#[derive(Debug)]
pub struct SqlPool {
    inner: Inner,
    dialect: Dialect,
    /// The URL without credentials or query, for messages.
    display: String,
    query_timeout: Duration,
    connect_timeout: Duration,
}

/// The dialect a URL names, or why it names none this build supports.
pub fn dialect_of(url: &str) -> Result<Dialect, String> {
    let scheme = url.split_once(':').map_or("", |(s, _)| s).to_ascii_lowercase();
    let (dialect, feature_on) = match scheme.as_str() {
        "postgres" | "postgresql" => (Dialect::Postgres, cfg!(feature = "postgres")),
        "mysql" | "mariadb" => (Dialect::MySql, cfg!(feature = "mysql")),
        "sqlite" => (Dialect::Sqlite, cfg!(feature = "sqlite")),
        _ => {
            return Err(format!(
                "unsupported database URL scheme {scheme:?}: use postgres://, mysql:// (also for MariaDB) or sqlite://"
            ));
        }
    };
    if feature_on {
        Ok(dialect)
    } else {
        Err(format!(
            "this build has no {} driver (cargo feature of nauthilus-backends)",
            dialect.name()
        ))
    }
}

/// `scheme://host:port/db` without user, password or options.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.split('?').next().unwrap_or_default().to_owned();
    };
    let rest = rest.split('?').next().unwrap_or_default();
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{rest}")
}

/// Checked connection options of one database.
enum Options {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::postgres::PgConnectOptions),
    #[cfg(feature = "mysql")]
    MySql(sqlx::mysql::MySqlConnectOptions),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::sqlite::SqliteConnectOptions),
}

/// The connection options `config` describes; fails on a URL or TLS setting that cannot work
/// (the message never repeats the URL's password). With `create` an SQLite file is created
/// when missing and uses write-ahead logging.
fn options(config: &SqlPoolConfig, create: bool) -> Result<(Options, Dialect), String> {
    let url = config.url.trim();
    let dialect = dialect_of(url)?;
    let bad_url = |e: sqlx::Error| format!("invalid {} URL: {e}", dialect.name());
    if config.tls_client_cert.is_empty() != config.tls_client_key.is_empty() {
        return Err("tls_client_cert and tls_client_key go together".into());
    }
    let options = match dialect {
        #[cfg(feature = "postgres")]
        Dialect::Postgres => {
            use sqlx::postgres::{PgConnectOptions, PgSslMode};
            let mut o = PgConnectOptions::from_str(url).map_err(bad_url)?;
            if config.tls_skip_verify {
                o = o.ssl_mode(PgSslMode::Require);
            } else if !config.tls_ca_cert.is_empty() {
                o = o
                    .ssl_mode(PgSslMode::VerifyFull)
                    .ssl_root_cert(&config.tls_ca_cert);
            }
            if !config.tls_client_cert.is_empty() {
                o = o
                    .ssl_client_cert(&config.tls_client_cert)
                    .ssl_client_key(&config.tls_client_key);
            }
            Options::Postgres(o.disable_statement_logging())
        }
        #[cfg(feature = "mysql")]
        Dialect::MySql => {
            use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
            let url = url.replacen("mariadb:", "mysql:", 1);
            let mut o = MySqlConnectOptions::from_str(&url).map_err(bad_url)?;
            if config.tls_skip_verify {
                o = o.ssl_mode(MySqlSslMode::Required);
            } else if !config.tls_ca_cert.is_empty() {
                o = o
                    .ssl_mode(MySqlSslMode::VerifyIdentity)
                    .ssl_ca(&config.tls_ca_cert);
            }
            if !config.tls_client_cert.is_empty() {
                o = o
                    .ssl_client_cert(&config.tls_client_cert)
                    .ssl_client_key(&config.tls_client_key);
            }
            Options::MySql(o.disable_statement_logging())
        }
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
            if !config.tls_ca_cert.is_empty() || !config.tls_client_cert.is_empty() || config.tls_skip_verify
            {
                return Err("TLS settings do not apply to SQLite".into());
            }
            let mut o = SqliteConnectOptions::from_str(url)
                .map_err(bad_url)?
                .busy_timeout(config.connect_timeout.get())
                .create_if_missing(create);
            if create {
                o = o.journal_mode(SqliteJournalMode::Wal);
            }
            Options::Sqlite(o.disable_statement_logging())
        }
        #[allow(unreachable_patterns)]
        _ => return Err(format!("this build has no {} driver", dialect.name())),
    };
    Ok((options, dialect))
}

impl SqlPool {
    /// Checks `config` without connecting (for `--config-check`).
    pub fn check(config: &SqlPoolConfig) -> Result<(), String> {
        options(config, false).map(|_| ())
    }

    /// The pool `config` describes, without connecting. Must run inside a Tokio runtime.
    pub fn new(config: &SqlPoolConfig) -> Result<Self, String> {
        Self::with_options(config, false)
    }

    /// Like [`SqlPool::new`]; with `create` an SQLite file is created when missing (the
    /// `nauthilus users` command), and SQLite uses write-ahead logging so that the server
    /// reads while the command writes.
    pub fn with_options(config: &SqlPoolConfig, create: bool) -> Result<Self, String> {
        let (options, dialect) = options(config, create)?;
        let connect_timeout = config.connect_timeout.get();
        let size = u32::from(config.pool_size.get());
        let inner = match options {
            #[cfg(feature = "postgres")]
            Options::Postgres(o) => Inner::Postgres(pool_options(size, connect_timeout).connect_lazy_with(o)),
            #[cfg(feature = "mysql")]
            Options::MySql(o) => Inner::MySql(pool_options(size, connect_timeout).connect_lazy_with(o)),
            #[cfg(feature = "sqlite")]
            Options::Sqlite(o) => Inner::Sqlite(pool_options(size, connect_timeout).connect_lazy_with(o)),
        };
        Ok(Self {
            inner,
            dialect,
            display: redact(&config.url),
            query_timeout: config.query_timeout.get(),
            connect_timeout,
        })
    }

    /// The SQL dialect of the database.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The database URL without credentials, for messages.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Runs `sql` with `params` bound (as text) and returns every row as text. A connection
    /// that broke (a restarted database) is retried once on a fresh one.
    pub async fn fetch(&self, sql: &str, params: &[String]) -> Result<Vec<SqlRow>, SqlError> {
        match self.fetch_once(sql, params).await {
            Err(SqlError::Database { source, .. }) if is_broken_connection(&source) => {
                self.fetch_once(sql, params).await
            }
            other => other,
        }
    }

    /// Runs a statement that returns no rows (the `users` command); the number of rows changed.
    pub async fn execute(&self, sql: &str, params: &[String]) -> Result<u64, SqlError> {
        macro_rules! run {
            ($pool:expr) => {{
                let mut conn = self.acquire($pool).await?;
                let mut q = sqlx::query(sql);
                for p in params {
                    q = q.bind(p.as_str());
                }
                let result = tokio::time::timeout(self.query_timeout, q.execute(&mut *conn)).await;
                self.finish(&mut conn, result)?.rows_affected()
            }};
        }
        Ok(match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => run!(pool),
            #[cfg(feature = "mysql")]
            Inner::MySql(pool) => run!(pool),
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => run!(pool),
        })
    }

    async fn fetch_once(&self, sql: &str, params: &[String]) -> Result<Vec<SqlRow>, SqlError> {
        macro_rules! run {
            ($pool:expr, $cell:path) => {{
                let mut conn = self.acquire($pool).await?;
                let mut q = sqlx::query(sql);
                for p in params {
                    q = q.bind(p.as_str());
                }
                let result = tokio::time::timeout(self.query_timeout, q.fetch_all(&mut *conn)).await;
                let rows = self.finish(&mut conn, result)?;
                to_rows(&rows, |row, i| $cell(row, i))
            }};
        }
        let rows = match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => run!(pool, pg_cell),
            #[cfg(feature = "mysql")]
            Inner::MySql(pool) => run!(pool, mysql_cell),
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => run!(pool, sqlite_cell),
        };
        rows.map_err(|column| SqlError::UnreadableColumn {
            database: self.display.clone(),
            column,
        })
    }

    /// A pooled connection, waiting at most `connect_timeout` (opening one included).
    async fn acquire<DB: sqlx::Database>(
        &self,
        pool: &sqlx::Pool<DB>,
    ) -> Result<sqlx::pool::PoolConnection<DB>, SqlError> {
        pool.acquire().await.map_err(|e| match e {
            sqlx::Error::PoolTimedOut => SqlError::PoolTimedOut {
                database: self.display.clone(),
                waited: self.connect_timeout,
            },
            source => self.database_error(source),
        })
    }

    /// The result of a query run within the query timeout. A connection whose query timed out
    /// or broke is closed instead of going back to the pool (it may be mid-result).
    fn finish<DB: sqlx::Database, T>(
        &self,
        conn: &mut sqlx::pool::PoolConnection<DB>,
        result: Result<Result<T, sqlx::Error>, tokio::time::error::Elapsed>,
    ) -> Result<T, SqlError> {
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => {
                if is_broken_connection(&source) {
                    conn.close_on_drop();
                }
                Err(self.database_error(source))
            }
            Err(_) => {
                conn.close_on_drop();
                Err(SqlError::Timeout {
                    database: self.display.clone(),
                    after: self.query_timeout,
                })
            }
        }
    }

    fn database_error(&self, source: sqlx::Error) -> SqlError {
        SqlError::Database {
            database: self.display.clone(),
            source: Box::new(source),
        }
    }

    /// Closes every connection; later queries fail.
    pub async fn close(&self) {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => pool.close().await,
            #[cfg(feature = "mysql")]
            Inner::MySql(pool) => pool.close().await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(pool) => pool.close().await,
        }
    }
}

/// A pooled connection idle for longer than this is pinged before use. One in steady use is
/// not: that ping would be a second round trip per login (sqlx's `test_before_acquire` pings
/// every time), and a connection that broke mid-use is closed and its query retried once on
/// another (`SqlPool::fetch`).
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Pool settings shared by every driver: bounded size and wait, no idle connections kept open
/// for long, a connection that sat idle checked before use (a restarted database costs no
/// failed login).
fn pool_options<DB: sqlx::Database>(size: u32, acquire_timeout: Duration) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(size)
        .min_connections(0)
        .acquire_timeout(acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Errors after which the same query on another connection may well succeed.
fn is_broken_connection(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed
    )
}

/// Converts rows with `cell` (per driver); `Err(column)` names a column no text form exists for.
fn to_rows<R: sqlx::Row>(
    rows: &[R],
    cell: impl Fn(&R, usize) -> Option<Option<String>>,
) -> Result<Vec<SqlRow>, String> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns: Arc<[String]> = first.columns().iter().map(|c| c.name().to_owned()).collect();
    rows.iter()
        .map(|row| {
            let values = (0..columns.len())
                .map(|i| cell(row, i).ok_or_else(|| columns.get(i).cloned().unwrap_or_default()))
                .collect::<Result<Vec<_>, String>>()?;
            Ok(SqlRow {
                columns: columns.clone(),
                values,
            })
        })
        .collect()
}

/// Tries each type in turn; the first the column's type accepts gives the text (NULL passes
/// every type check and becomes `None`).
macro_rules! decode_cell {
    ($row:expr, $i:expr; $($ty:ty),+) => {{
        $(
            if let Ok(v) = $row.try_get::<Option<$ty>, _>($i) {
                return Some(v.map(|v| Text::text(v)));
            }
        )+
        None
    }};
}

/// A decoded value as text.
trait Text {
    fn text(self) -> String;
}

impl Text for String {
    fn text(self) -> String {
        self
    }
}

impl Text for Vec<u8> {
    fn text(self) -> String {
        String::from_utf8_lossy(&self).into_owned()
    }
}

macro_rules! text_by_display {
    ($($ty:ty),+) => { $(impl Text for $ty { fn text(self) -> String { self.to_string() } })+ };
}
text_by_display!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, bool);

#[cfg(feature = "postgres")]
fn pg_cell(row: &sqlx::postgres::PgRow, i: usize) -> Option<Option<String>> {
    decode_cell!(row, i; String, i64, i32, i16, bool, f64, f32, Vec<u8>)
}

#[cfg(feature = "mysql")]
fn mysql_cell(row: &sqlx::mysql::MySqlRow, i: usize) -> Option<Option<String>> {
    decode_cell!(row, i; String, i64, u64, i32, u32, i16, u16, i8, u8, bool, f64, f32, Vec<u8>)
}

#[cfg(feature = "sqlite")]
fn sqlite_cell(row: &sqlx::sqlite::SqliteRow, i: usize) -> Option<Option<String>> {
    decode_cell!(row, i; String, i64, f64, bool, Vec<u8>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_dialect_and_are_shown_without_credentials() {
        assert_eq!(dialect_of("postgres://u:p@h/db"), Ok(Dialect::Postgres));
        assert_eq!(dialect_of("PostgreSQL://h/db"), Ok(Dialect::Postgres));
        assert_eq!(dialect_of("mariadb://h/db"), Ok(Dialect::MySql));
        assert_eq!(dialect_of("sqlite:///var/lib/u.db"), Ok(Dialect::Sqlite));
        assert!(dialect_of("oracle://h").unwrap_err().contains("unsupported"));
        assert_eq!(
            redact("postgres://u:s3cr3t@h:5432/db?sslmode=require"),
            "postgres://h:5432/db"
        );
        assert_eq!(redact("sqlite:///var/lib/u.db"), "sqlite:///var/lib/u.db");
    }

    #[test]
    fn bad_settings_are_refused_without_echoing_the_password() {
        let config = |url: &str| SqlPoolConfig {
            url: url.into(),
            ..SqlPoolConfig::default()
        };
        let e = SqlPool::check(&config("postgres://u:s3cr3t@h:notaport/db")).unwrap_err();
        assert!(!e.contains("s3cr3t"), "{e}");
        let mut c = config("sqlite:///tmp/x.db");
        c.tls_ca_cert = "/ca.pem".into();
        assert!(SqlPool::check(&c).unwrap_err().contains("SQLite"));
        let mut c = config("mysql://h/db");
        c.tls_client_cert = "/c.pem".into();
        assert!(SqlPool::check(&c).unwrap_err().contains("go together"));
        assert!(SqlPool::check(&config("mysql://u:p@127.0.0.1:3306/db")).is_ok());
    }
}
