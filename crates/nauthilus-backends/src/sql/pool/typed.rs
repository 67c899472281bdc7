//! Typed access to a pool for scripts (the Lua `db` module): parameters bound with their own
//! type (a number compared with an integer column works on PostgreSQL) and cells read back as
//! integers, floats, booleans, text or NULL, so that `rows[1][1] == 1` holds as in Nauthilus.

use std::sync::Arc;

use sqlx::{Column as _, Row as _};

use super::{SqlPool, is_broken_connection};
use crate::sql::SqlError;

/// One parameter or cell.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

/// The rows of a query: column names and one value per column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SqlTable {
    pub columns: Arc<[String]>,
    pub rows: Vec<Vec<SqlValue>>,
}

macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                SqlValue::Null => q.bind(None::<String>),
                SqlValue::Bool(b) => q.bind(*b),
                SqlValue::Int(i) => q.bind(*i),
                SqlValue::Float(f) => q.bind(*f),
                SqlValue::Text(s) => q.bind(s.as_str()),
            };
        }
        q
    }};
}

/// Tries each type in turn; NULL passes every check.
macro_rules! typed_cell {
    ($row:expr, $i:expr; $($ty:ty => $conv:expr),+) => {{
        $(
            if let Ok(v) = $row.try_get::<Option<$ty>, _>($i) {
                return Some(match v { None => SqlValue::Null, Some(v) => ($conv)(v) });
            }
        )+
        None
    }};
}

#[allow(clippy::cast_possible_wrap)]
fn from_u64(v: u64) -> SqlValue {
    i64::try_from(v).map_or(SqlValue::Float(v as f64), SqlValue::Int)
}

#[cfg(feature = "postgres")]
fn pg_value(row: &sqlx::postgres::PgRow, i: usize) -> Option<SqlValue> {
    typed_cell!(row, i;
        i64 => SqlValue::Int, i32 => |v| SqlValue::Int(i64::from(v)), i16 => |v| SqlValue::Int(i64::from(v)),
        f64 => SqlValue::Float, f32 => |v| SqlValue::Float(f64::from(v)), bool => SqlValue::Bool,
        String => SqlValue::Text, Vec<u8> => |v: Vec<u8>| SqlValue::Text(String::from_utf8_lossy(&v).into_owned()))
}

#[cfg(feature = "mysql")]
fn mysql_value(row: &sqlx::mysql::MySqlRow, i: usize) -> Option<SqlValue> {
    typed_cell!(row, i;
        i64 => SqlValue::Int, u64 => from_u64, i32 => |v| SqlValue::Int(i64::from(v)),
        u32 => |v| SqlValue::Int(i64::from(v)), i16 => |v| SqlValue::Int(i64::from(v)),
        u16 => |v| SqlValue::Int(i64::from(v)), i8 => |v| SqlValue::Int(i64::from(v)),
        u8 => |v| SqlValue::Int(i64::from(v)), f64 => SqlValue::Float, f32 => |v| SqlValue::Float(f64::from(v)),
        String => SqlValue::Text, Vec<u8> => |v: Vec<u8>| SqlValue::Text(String::from_utf8_lossy(&v).into_owned()))
}

#[cfg(feature = "sqlite")]
fn sqlite_value(row: &sqlx::sqlite::SqliteRow, i: usize) -> Option<SqlValue> {
    use sqlx::{TypeInfo as _, ValueRef as _};
    // SQLite is dynamically typed: the storage class of the value decides.
    let raw = row.try_get_raw(i).ok()?;
    if raw.is_null() {
        return Some(SqlValue::Null);
    }
    match raw.type_info().name() {
        "INTEGER" => row.try_get::<i64, _>(i).ok().map(SqlValue::Int),
        "REAL" => row.try_get::<f64, _>(i).ok().map(SqlValue::Float),
        "BOOLEAN" => row.try_get::<bool, _>(i).ok().map(SqlValue::Bool),
        _ => row
            .try_get::<String, _>(i)
            .ok()
            .or_else(|| {
                row.try_get::<Vec<u8>, _>(i)
                    .ok()
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
            })
            .map(SqlValue::Text),
    }
}

fn to_table<R: sqlx::Row>(
    rows: &[R],
    cell: impl Fn(&R, usize) -> Option<SqlValue>,
) -> Result<SqlTable, String> {
    let Some(first) = rows.first() else {
        return Ok(SqlTable::default());
    };
    let columns: Arc<[String]> = first.columns().iter().map(|c| c.name().to_owned()).collect();
    let rows = rows
        .iter()
        .map(|row| {
            (0..columns.len())
                .map(|i| cell(row, i).ok_or_else(|| columns.get(i).cloned().unwrap_or_default()))
                .collect::<Result<Vec<_>, String>>()
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(SqlTable { columns, rows })
}

impl SqlPool {
    /// Runs `sql` with typed `params` and returns the rows with typed cells. A broken
    /// connection is retried once on a fresh one.
    pub async fn fetch_typed(&self, sql: &str, params: &[SqlValue]) -> Result<SqlTable, SqlError> {
        match self.fetch_typed_once(sql, params).await {
            Err(SqlError::Database { source, .. }) if is_broken_connection(&source) => {
                self.fetch_typed_once(sql, params).await
            }
            other => other,
        }
    }

    async fn fetch_typed_once(&self, sql: &str, params: &[SqlValue]) -> Result<SqlTable, SqlError> {
        macro_rules! run {
            ($pool:expr, $cell:path) => {{
                let mut conn = self.acquire($pool).await?;
                let q = bind_all!(sqlx::query(sql), params);
                let result = tokio::time::timeout(self.query_timeout, q.fetch_all(&mut *conn)).await;
                let rows = self.finish(&mut conn, result)?;
                to_table(&rows, |row, i| $cell(row, i))
            }};
        }
        let table = match &self.inner {
            #[cfg(feature = "postgres")]
            super::Inner::Postgres(pool) => run!(pool, pg_value),
            #[cfg(feature = "mysql")]
            super::Inner::MySql(pool) => run!(pool, mysql_value),
            #[cfg(feature = "sqlite")]
            super::Inner::Sqlite(pool) => run!(pool, sqlite_value),
        };
        table.map_err(|column| SqlError::UnreadableColumn {
            database: self.display.clone(),
            column,
        })
    }

    /// Runs a statement with typed `params`; the rows changed and the last inserted id (MySQL
    /// and SQLite; 0 on PostgreSQL, which has no such notion without `RETURNING`).
    pub async fn execute_typed(&self, sql: &str, params: &[SqlValue]) -> Result<(u64, i64), SqlError> {
        macro_rules! run {
            ($pool:expr, $last:expr) => {{
                let mut conn = self.acquire($pool).await?;
                let q = bind_all!(sqlx::query(sql), params);
                let result = tokio::time::timeout(self.query_timeout, q.execute(&mut *conn)).await;
                let done = self.finish(&mut conn, result)?;
                (done.rows_affected(), ($last)(&done))
            }};
        }
        Ok(match &self.inner {
            #[cfg(feature = "postgres")]
            super::Inner::Postgres(pool) => run!(pool, |_: &sqlx::postgres::PgQueryResult| 0),
            #[cfg(feature = "mysql")]
            super::Inner::MySql(pool) => run!(pool, |d: &sqlx::mysql::MySqlQueryResult| {
                i64::try_from(d.last_insert_id()).unwrap_or(i64::MAX)
            }),
            #[cfg(feature = "sqlite")]
            super::Inner::Sqlite(pool) => {
                run!(pool, |d: &sqlx::sqlite::SqliteQueryResult| d.last_insert_rowid())
            }
        })
    }
}
