//! `db` (gopher-lua-libs): `db.open(driver, dsn, {max_connections, read_only})` over the SQL
//! backend's sqlx pools — PostgreSQL, MySQL/MariaDB and SQLite. The DSN may be the Go driver's
//! (`user:pw@tcp(host:port)/db`, `host=… dbname=…`, `file:x.db`) or a URL; one URL, one pool
//! (shared with an `sql` backend on the same database, and by every VM).
//!
//! `:query(sql, args…)` → `({rows = {{v1, v2…}…}, columns = {…}}, nil)`; `:exec` →
//! `({rows_affected, last_insert_id}, nil)`; `:stmt(sql)` → a statement with `:query`, `:exec`,
//! `:close`; `:command` is `:query`; `:close()` leaves the shared pool open. Errors are
//! `(nil, message)`.

use std::sync::Arc;

use mlua::{Lua, MultiValue, Table, UserData, UserDataMethods, Value};
use nauthilus_backends::sql::{SqlPool, SqlTable, SqlValue};
use nauthilus_config::SqlPoolConfig;

use super::nil_err;
use crate::Shared;

/// An open database handle (`db.open`).
struct Db {
    pool: Arc<SqlPool>,
    read_only: bool,
}

/// A prepared statement (`db:stmt`): the SQL kept with its handle.
struct Stmt {
    pool: Arc<SqlPool>,
    read_only: bool,
    sql: String,
}

fn params(args: MultiValue) -> mlua::Result<Vec<SqlValue>> {
    args.into_iter()
        .map(|v| {
            Ok(match v {
                Value::Nil => SqlValue::Null,
                Value::Boolean(b) => SqlValue::Bool(b),
                Value::Integer(i) => SqlValue::Int(i),
                #[allow(clippy::cast_possible_truncation)]
                Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => SqlValue::Int(n as i64),
                Value::Number(n) => SqlValue::Float(n),
                Value::String(s) => SqlValue::Text(s.to_string_lossy()),
                other => {
                    return Err(mlua::Error::runtime(format!(
                        "db: a {} cannot be a query parameter",
                        other.type_name()
                    )));
                }
            })
        })
        .collect()
}

fn cell(lua: &Lua, v: SqlValue) -> mlua::Result<Value> {
    Ok(match v {
        SqlValue::Null => Value::Nil,
        SqlValue::Bool(b) => Value::Boolean(b),
        #[allow(clippy::cast_precision_loss)]
        SqlValue::Int(i) => Value::Number(i as f64),
        SqlValue::Float(f) => Value::Number(f),
        SqlValue::Text(s) => Value::String(lua.create_string(s)?),
    })
}

fn table(lua: &Lua, t: SqlTable) -> mlua::Result<Table> {
    let out = lua.create_table()?;
    let rows = lua.create_table_with_capacity(t.rows.len(), 0)?;
    for row in t.rows {
        let r = lua.create_table_with_capacity(row.len(), 0)?;
        for (i, v) in row.into_iter().enumerate() {
            r.raw_set(i + 1, cell(lua, v)?)?;
        }
        rows.raw_push(r)?;
    }
    out.raw_set("rows", rows)?;
    out.raw_set(
        "columns",
        lua.create_sequence_from(t.columns.iter().map(String::as_str))?,
    )?;
    Ok(out)
}

async fn query(lua: Lua, pool: Arc<SqlPool>, sql: String, args: MultiValue) -> mlua::Result<(Value, Value)> {
    let params = params(args)?;
    match pool.fetch_typed(&sql, &params).await {
        Ok(t) => Ok((Value::Table(table(&lua, t)?), Value::Nil)),
        Err(e) => nil_err(&lua, e.to_string()),
    }
}

async fn exec(
    lua: Lua,
    pool: Arc<SqlPool>,
    read_only: bool,
    sql: String,
    args: MultiValue,
) -> mlua::Result<(Value, Value)> {
    if read_only {
        return nil_err(&lua, "db: the connection was opened read_only");
    }
    let params = params(args)?;
    match pool.execute_typed(&sql, &params).await {
        Ok((affected, last)) => {
            let t = lua.create_table()?;
            #[allow(clippy::cast_precision_loss)]
            t.raw_set("rows_affected", affected as f64)?;
            #[allow(clippy::cast_precision_loss)]
            t.raw_set("last_insert_id", last as f64)?;
            Ok((Value::Table(t), Value::Nil))
        }
        Err(e) => nil_err(&lua, e.to_string()),
    }
}

impl UserData for Db {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        for name in ["query", "command"] {
            methods.add_async_method(name, |lua, this, (sql, args): (String, MultiValue)| {
                let pool = this.pool.clone();
                async move { query(lua, pool, sql, args).await }
            });
        }
        methods.add_async_method("exec", |lua, this, (sql, args): (String, MultiValue)| {
            let (pool, ro) = (this.pool.clone(), this.read_only);
            async move { exec(lua, pool, ro, sql, args).await }
        });
        methods.add_method("stmt", |lua, this, sql: String| {
            let stmt = Stmt {
                pool: this.pool.clone(),
                read_only: this.read_only,
                sql,
            };
            Ok((Value::UserData(lua.create_userdata(stmt)?), Value::Nil))
        });
        // The pool is shared (other VMs, an `sql` backend): closing a handle keeps it open.
        methods.add_method("close", |_, _, ()| Ok(Value::Nil));
    }
}

impl UserData for Stmt {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_async_method("query", |lua, this, args: MultiValue| {
            let (pool, sql) = (this.pool.clone(), this.sql.clone());
            async move { query(lua, pool, sql, args).await }
        });
        methods.add_async_method("exec", |lua, this, args: MultiValue| {
            let (pool, ro, sql) = (this.pool.clone(), this.read_only, this.sql.clone());
            async move { exec(lua, pool, ro, sql, args).await }
        });
        methods.add_method("close", |_, _, ()| Ok(Value::Nil));
    }
}

pub(super) fn module(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let shared = shared.clone();
    t.raw_set(
        "open",
        lua.create_function(move |lua, (driver, dsn, opts): (String, String, Option<Table>)| {
            let url = match to_url(&driver, &dsn) {
                Ok(url) => url,
                Err(e) => return nil_err(lua, format!("db.open: {e}")),
            };
            let (max, read_only) = match &opts {
                Some(o) => (
                    o.get::<Option<f64>>("max_connections")?,
                    o.get::<Option<bool>>("read_only")?.unwrap_or(false),
                ),
                None => (None, false),
            };
            match shared.sql_pool(&url, max) {
                Ok(pool) => Ok((
                    Value::UserData(lua.create_userdata(Db { pool, read_only })?),
                    Value::Nil,
                )),
                Err(e) => nil_err(lua, format!("db.open: {e}")),
            }
        })?,
    )?;
    Ok(t)
}

impl Shared {
    /// The pool for `url`: the one already open (by an `sql` backend or another script), or a
    /// new lazy one (`max_connections` connections, default as `sql.config.pool_size`).
    fn sql_pool(&self, url: &str, max: Option<f64>) -> Result<Arc<SqlPool>, String> {
        let mut pools = self.sql_pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = pools.get(url) {
            return Ok(pool.clone());
        }
        let mut config = SqlPoolConfig {
            url: url.to_owned(),
            ..SqlPoolConfig::default()
        };
        if let Some(n) = max.filter(|n| n.is_finite() && *n >= 1.0) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = n.min(f64::from(u16::MAX)) as u16;
            if let Some(n) = std::num::NonZeroU16::new(n) {
                config.pool_size = n;
            }
        }
        // Go's sqlite3 driver creates a missing database file; so do we.
        let create = url.starts_with("sqlite:");
        let pool = Arc::new(SqlPool::with_options(&config, create)?);
        tracing::info!(database = %pool.display(), "SQL pool opened by a Lua script");
        pools.insert(url.to_owned(), pool.clone());
        Ok(pool)
    }
}

/// Percent-encodes a URL user-info part.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The sqlx URL of a gopher-lua-libs `db.open(driver, dsn)`.
pub(crate) fn to_url(driver: &str, dsn: &str) -> Result<String, String> {
    let dsn = dsn.trim();
    let has_scheme = |schemes: &[&str]| {
        schemes
            .iter()
            .any(|s| dsn.len() > s.len() && dsn[..s.len()].eq_ignore_ascii_case(s))
    };
    match driver.to_ascii_lowercase().as_str() {
        "mysql" | "mariadb" => {
            if has_scheme(&["mysql://", "mariadb://"]) {
                return Ok(dsn.to_owned());
            }
            mysql_dsn(dsn)
        }
        "postgres" | "postgresql" | "pgx" => {
            if has_scheme(&["postgres://", "postgresql://"]) {
                return Ok(dsn.to_owned());
            }
            postgres_dsn(dsn)
        }
        "sqlite3" | "sqlite" => {
            if has_scheme(&["sqlite:"]) {
                return Ok(dsn.to_owned());
            }
            let path = dsn.strip_prefix("file:").unwrap_or(dsn);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(
                    "in-memory SQLite databases are not supported (each pooled connection would see its own)"
                        .into(),
                );
            }
            Ok(format!("sqlite://{path}"))
        }
        other => Err(format!("unknown driver {other:?} (mysql, postgres, sqlite3)")),
    }
}

/// `[user[:password]@][net[(addr)]]/dbname[?params]` (go-sql-driver/mysql); the Go-only
/// parameters are dropped.
fn mysql_dsn(dsn: &str) -> Result<String, String> {
    let (head, db) = dsn
        .rsplit_once('/')
        .ok_or_else(|| "MySQL DSN without /dbname".to_owned())?;
    let db = db.split('?').next().unwrap_or_default();
    let (auth, net) = match head.rsplit_once('@') {
        Some((a, n)) => (Some(a), n),
        None => (None, head),
    };
    let userinfo = match auth {
        None => String::new(),
        Some(a) => match a.split_once(':') {
            Some((u, p)) => format!("{}:{}@", enc(u), enc(p)),
            None => format!("{}@", enc(a)),
        },
    };
    let (kind, addr) = match net.split_once('(') {
        Some((k, rest)) => (k, rest.trim_end_matches(')')),
        None => (net, ""),
    };
    match kind {
        "" | "tcp" | "tcp4" | "tcp6" => {
            let addr = if addr.is_empty() { "127.0.0.1:3306" } else { addr };
            Ok(format!("mysql://{userinfo}{addr}/{db}"))
        }
        "unix" => Ok(format!("mysql://{userinfo}localhost/{db}?socket={addr}")),
        other => Err(format!("MySQL DSN: unsupported network {other:?}")),
    }
}

/// lib/pq `key=value` connection strings.
fn postgres_dsn(dsn: &str) -> Result<String, String> {
    let mut host = "localhost".to_owned();
    let (mut port, mut user, mut password, mut db, mut query) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        Vec::new(),
    );
    for part in dsn.split_whitespace() {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("PostgreSQL DSN: {part:?} is not key=value"))?;
        let v = v.trim_matches('\'').to_owned();
        match k {
            "host" if v.starts_with('/') => query.push(format!("host={v}")),
            "host" => host = v,
            "port" => port = v,
            "user" => user = v,
            "password" => password = v,
            "dbname" => db = v,
            "sslmode" | "sslrootcert" | "sslcert" | "sslkey" | "application_name" => {
                query.push(format!("{k}={v}"));
            }
            _ => {}
        }
    }
    let userinfo = match (user.is_empty(), password.is_empty()) {
        (true, _) => String::new(),
        (false, true) => format!("{}@", enc(&user)),
        (false, false) => format!("{}:{}@", enc(&user), enc(&password)),
    };
    let port = if port.is_empty() {
        String::new()
    } else {
        format!(":{port}")
    };
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    Ok(format!("postgres://{userinfo}{host}{port}/{db}{query}"))
}

#[cfg(test)]
mod tests {
    use super::to_url;

    #[test]
    fn go_driver_dsns_become_sqlx_urls() {
        assert_eq!(
            to_url("mysql", "nauthilus:nauthilus@tcp(127.0.0.1)/nauthilus").unwrap(),
            "mysql://nauthilus:nauthilus@127.0.0.1/nauthilus"
        );
        assert_eq!(
            to_url("mysql", "u:p@ss@tcp(db:3307)/mail?parseTime=true").unwrap(),
            "mysql://u:p%40ss@db:3307/mail"
        );
        assert_eq!(
            to_url("mysql", "u@unix(/run/mysqld/mysqld.sock)/mail").unwrap(),
            "mysql://u@localhost/mail?socket=/run/mysqld/mysqld.sock"
        );
        assert_eq!(
            to_url(
                "postgres",
                "host=127.0.0.1 port=5433 user=nauth password='s#p' dbname=mail sslmode=disable"
            )
            .unwrap(),
            "postgres://nauth:s%23p@127.0.0.1:5433/mail?sslmode=disable"
        );
        assert_eq!(
            to_url("postgres", "postgres://u@h/db").unwrap(),
            "postgres://u@h/db"
        );
        assert_eq!(
            to_url("sqlite3", "file:/var/lib/users.db?cache=shared").unwrap(),
            "sqlite:///var/lib/users.db"
        );
        assert!(to_url("sqlite3", "file::memory:").is_err());
        assert!(to_url("oracle", "x").is_err());
        assert!(to_url("mysql", "no-slash").is_err());
    }
}
