//! Enrolments in one SQL table (PostgreSQL, MariaDB/MySQL or SQLite, through the SQL backend's
//! pools): `nauthilus_mfa_credentials(account, kind, id, data)`, created on first use. Values
//! are bound as text; `data` is a JSON document.

use std::sync::Arc;

use nauthilus_backends::sql::{Dialect, SqlPool};
use nauthilus_config::SqlPoolConfig;
use tokio::sync::OnceCell;

use super::{Kind, Record, RecordBackend};
use crate::error::MfaError;

/// The table's name.
pub const TABLE: &str = "nauthilus_mfa_credentials";

/// The SQL credential store.
#[derive(Debug)]
pub struct SqlCredentials {
    pool: Arc<SqlPool>,
    /// Set once the table exists (created at the first query, so a database that is down at
    /// start only fails the requests that need it).
    schema: OnceCell<()>,
}

/// The `n`th placeholder (from 1) of `dialect`.
fn ph(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("${n}"),
        Dialect::MySql | Dialect::Sqlite => "?".to_owned(),
    }
}

impl SqlCredentials {
    /// A store over a new pool for `config` (an SQLite file is created when missing).
    pub fn open(config: &SqlPoolConfig) -> Result<Self, MfaError> {
        let pool = SqlPool::with_options(config, true).map_err(MfaError::Config)?;
        Ok(Self::with_pool(Arc::new(pool)))
    }

    /// A store over `pool`.
    pub fn with_pool(pool: Arc<SqlPool>) -> Self {
        Self {
            pool,
            schema: OnceCell::new(),
        }
    }

    /// Creates the table unless it exists (once per process).
    pub async fn ensure_schema(&self) -> Result<(), MfaError> {
        self.schema
            .get_or_try_init(|| async {
                let sql = format!(
                    "CREATE TABLE IF NOT EXISTS {TABLE} (\
                     account VARCHAR(255) NOT NULL, kind VARCHAR(32) NOT NULL, \
                     id VARCHAR(255) NOT NULL, data TEXT NOT NULL, \
                     PRIMARY KEY (account, kind, id))"
                );
                self.pool
                    .execute(&sql, &[])
                    .await
                    .map(drop)
                    .map_err(MfaError::from)
            })
            .await
            .map(|_| ())
    }

    fn dialect(&self) -> Dialect {
        self.pool.dialect()
    }

    fn upsert_sql(&self) -> String {
        let d = self.dialect();
        let values = (1..=4).map(|n| ph(d, n)).collect::<Vec<_>>().join(", ");
        let conflict = match d {
            Dialect::MySql => "ON DUPLICATE KEY UPDATE data = VALUES(data)",
            Dialect::Postgres | Dialect::Sqlite => {
                "ON CONFLICT (account, kind, id) DO UPDATE SET data = excluded.data"
            }
        };
        format!("INSERT INTO {TABLE} (account, kind, id, data) VALUES ({values}) {conflict}")
    }
}

impl RecordBackend for SqlCredentials {
    async fn list_records(&self, account: &str, kind: Kind) -> Result<Vec<Record>, MfaError> {
        self.ensure_schema().await?;
        let d = self.dialect();
        let sql = format!(
            "SELECT id, data FROM {TABLE} WHERE account = {} AND kind = {}",
            ph(d, 1),
            ph(d, 2)
        );
        let rows = self
            .pool
            .fetch(&sql, &[account.to_owned(), kind.name().to_owned()])
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some(Record {
                    id: row.get("id")?.to_owned(),
                    data: row.get("data")?.to_owned(),
                })
            })
            .collect())
    }

    async fn put_record(&self, account: &str, kind: Kind, record: &Record) -> Result<(), MfaError> {
        self.ensure_schema().await?;
        let params = [
            account.to_owned(),
            kind.name().to_owned(),
            record.id.clone(),
            record.data.clone(),
        ];
        self.pool.execute(&self.upsert_sql(), &params).await?;
        Ok(())
    }

    async fn remove_record(
        &self,
        account: &str,
        kind: Kind,
        id: &str,
        expected: Option<&str>,
    ) -> Result<bool, MfaError> {
        self.ensure_schema().await?;
        let d = self.dialect();
        let mut sql = format!(
            "DELETE FROM {TABLE} WHERE account = {} AND kind = {} AND id = {}",
            ph(d, 1),
            ph(d, 2),
            ph(d, 3)
        );
        let mut params = vec![account.to_owned(), kind.name().to_owned(), id.to_owned()];
        if let Some(data) = expected {
            sql.push_str(&format!(" AND data = {}", ph(d, 4)));
            params.push(data.to_owned());
        }
        Ok(self.pool.execute(&sql, &params).await? == 1)
    }

    async fn update_record(
        &self,
        account: &str,
        kind: Kind,
        old: &Record,
        new: &Record,
    ) -> Result<bool, MfaError> {
        self.ensure_schema().await?;
        let d = self.dialect();
        let sql = format!(
            "UPDATE {TABLE} SET data = {} WHERE account = {} AND kind = {} AND id = {} AND data = {}",
            ph(d, 1),
            ph(d, 2),
            ph(d, 3),
            ph(d, 4),
            ph(d, 5)
        );
        let params = [
            new.data.clone(),
            account.to_owned(),
            kind.name().to_owned(),
            old.id.clone(),
            old.data.clone(),
        ];
        Ok(self.pool.execute(&sql, &params).await? == 1)
    }

    async fn replace_records(&self, account: &str, kind: Kind, records: &[Record]) -> Result<(), MfaError> {
        self.ensure_schema().await?;
        let d = self.dialect();
        let sql = format!(
            "DELETE FROM {TABLE} WHERE account = {} AND kind = {}",
            ph(d, 1),
            ph(d, 2)
        );
        self.pool
            .execute(&sql, &[account.to_owned(), kind.name().to_owned()])
            .await?;
        for record in records {
            self.put_record(account, kind, record).await?;
        }
        Ok(())
    }
}
