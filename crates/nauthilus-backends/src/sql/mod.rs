//! The SQL password database: PostgreSQL, MySQL/MariaDB and SQLite through sqlx, with the
//! queries an operator configures (as in Dovecot's `password_query`, `user_query` and
//! `iterate_query`).
//!
//! - [`query`]: query templates; macros such as `%L{user}` become bound parameters (`$1` or
//!   `?`), never text in the SQL.
//! - [`pool`]: one connection pool per database URL, lazy, with bounded waits and timeouts;
//!   rows come back as text.
//! - [`lookup`]: one backend (`sql` or `sql(<name>)`) with its per-protocol queries: the row of
//!   a login (exactly one, or none), its stored password, account name and attributes.
//!
//! The stored password is verified by the caller with the password scheme library on the
//! bounded hashing pool, like a passwd-file's.

pub mod lookup;
pub mod pool;
pub mod query;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use lookup::{SqlBackend, SqlLookup, SqlQuery, SqlUser, check_backend};
pub use pool::{SqlPool, SqlRow, SqlTable, SqlValue, dialect_of};
pub use query::{Dialect, QueryError, QueryTemplate};

/// Why an SQL backend gave no answer. Every variant ends the login as a temporary failure.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// No connection became free (pool exhausted) or could be opened (database down) in time.
    #[error(
        "SQL database {database}: no connection within {waited:?} (database unreachable or pool exhausted)"
    )]
    PoolTimedOut { database: String, waited: Duration },
    /// A query did not finish in time.
    #[error("SQL database {database}: query timed out after {after:?}")]
    Timeout { database: String, after: Duration },
    /// The driver or the database reported an error.
    #[error("SQL database {database}: {source}")]
    Database {
        database: String,
        #[source]
        source: Box<sqlx::Error>,
    },
    /// A column has a type with no text form here.
    #[error(
        "SQL database {database}: column {column:?} has a type the sql backend cannot read; cast it to text in the query"
    )]
    UnreadableColumn { database: String, column: String },
    /// The query for one login returned more than one row.
    #[error(
        "SQL backend {backend}: the query for user {user:?} returned {rows} rows; it must return at most one, so the login fails"
    )]
    Ambiguous {
        backend: String,
        user: String,
        rows: usize,
    },
    /// The row has no value in the column `mapping.account_field` names.
    #[error(
        "SQL backend {backend}: the row for user {user:?} has no value in column {column:?} (mapping.account_field)"
    )]
    MissingAccount {
        backend: String,
        user: String,
        column: String,
    },
    /// The stored password is in no scheme we can verify.
    #[error("SQL backend {backend}: the stored password of {account:?} cannot be verified: {reason}")]
    UnusablePassword {
        backend: String,
        account: String,
        reason: String,
    },
}
