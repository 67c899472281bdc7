//! `nauthilus users add|passwd|del|list --db FILE`: manages the embedded SQLite user store that
//! the `sql` backend reads with `url: sqlite://FILE` (see docs/sql.md for the matching config).
//!
//! The table is created on first use. Passwords are read from the first line of standard input
//! (so they appear in neither the process list nor the shell history) and stored hashed,
//! `{ARGON2ID}` by default. Every value reaches SQLite as a bound parameter.

use std::io::BufRead;
use std::path::Path;

use nauthilus_backends::password::{Scheme, hash_password};
use nauthilus_backends::sql::{SqlError, SqlPool};
use nauthilus_config::{ConfigDuration, SqlPoolConfig};

use crate::cli::{HashScheme, UsersAction};

/// The table of the embedded store; user names compare case-insensitively.
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS users (
    username     TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    password     TEXT NOT NULL,
    display_name TEXT,
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   TEXT
)";

/// The `password_query` that reads this table (also in docs/sql.md).
pub const PASSWORD_QUERY: &str =
    "SELECT username, password, display_name FROM users WHERE username = %{user} AND active = 1";

/// Why a `users` command failed.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot open {path}: {message}")]
    Open { path: String, message: String },
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("reading the password from standard input: {0}")]
    Stdin(#[from] std::io::Error),
}

fn scheme(s: HashScheme) -> Scheme {
    match s {
        HashScheme::Argon2id => Scheme::Argon2id,
        HashScheme::BlfCrypt => Scheme::BlfCrypt,
    }
}

/// Opens (creating when missing) the store at `path`, with its table.
async fn open(path: &Path) -> Result<SqlPool, UsersError> {
    let config = SqlPoolConfig {
        url: format!("sqlite://{}", path.display()),
        connect_timeout: ConfigDuration::from_secs(10),
        query_timeout: ConfigDuration::from_secs(30),
        ..SqlPoolConfig::default()
    };
    let pool = SqlPool::with_options(&config, true).map_err(|message| UsersError::Open {
        path: path.display().to_string(),
        message,
    })?;
    pool.execute(CREATE_TABLE, &[]).await?;
    Ok(pool)
}

/// Reads one password line (without its line end); an empty one is refused.
fn read_password(input: &mut dyn BufRead) -> Result<String, UsersError> {
    let mut line = String::new();
    input.read_line(&mut line)?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(UsersError::Usage(
            "no password: write it as the first line of standard input".into(),
        ));
    }
    Ok(password.to_owned())
}

async fn hashed(s: HashScheme, password: String) -> Result<String, UsersError> {
    // Argon2 and bcrypt take a while by design: off the async worker.
    tokio::task::spawn_blocking(move || hash_password(scheme(s), password.as_bytes()))
        .await
        .map_err(|e| UsersError::Usage(format!("hashing task failed: {e}")))?
        .map_err(|e| UsersError::Usage(e.to_string()))
}

async fn exists(pool: &SqlPool, user: &str) -> Result<bool, UsersError> {
    let rows = pool
        .fetch("SELECT 1 FROM users WHERE username = ?", &[user.to_owned()])
        .await?;
    Ok(!rows.is_empty())
}

fn check_name(user: &str) -> Result<(), UsersError> {
    if user.is_empty() || user.contains(['\0', '\n', '\r']) || user.trim() != user {
        return Err(UsersError::Usage(format!(
            "invalid user name {user:?}: empty, surrounding spaces or control characters"
        )));
    }
    Ok(())
}

/// Runs one `users` command; returns what to print on standard output.
pub async fn run(action: &UsersAction, input: &mut dyn BufRead) -> Result<String, UsersError> {
    match action {
        UsersAction::Add {
            db,
            user,
            display_name,
            scheme,
        } => {
            check_name(user)?;
            let pool = open(db).await?;
            if exists(&pool, user).await? {
                return Err(UsersError::Usage(format!(
                    "user {user:?} exists; use `nauthilus users passwd` to change the password"
                )));
            }
            let hash = hashed(*scheme, read_password(input)?).await?;
            let mut params = vec![user.clone(), hash];
            let sql = match display_name {
                Some(name) => {
                    params.push(name.clone());
                    "INSERT INTO users (username, password, display_name) VALUES (?, ?, ?)"
                }
                None => "INSERT INTO users (username, password) VALUES (?, ?)",
            };
            pool.execute(sql, &params).await?;
            pool.close().await;
            Ok(format!("user {user} added\n"))
        }
        UsersAction::Passwd { db, user, scheme } => {
            let pool = open(db).await?;
            if !exists(&pool, user).await? {
                return Err(UsersError::Usage(format!("no user {user:?}")));
            }
            let hash = hashed(*scheme, read_password(input)?).await?;
            pool.execute(
                "UPDATE users SET password = ?, updated_at = CURRENT_TIMESTAMP WHERE username = ?",
                &[hash, user.clone()],
            )
            .await?;
            pool.close().await;
            Ok(format!("password of {user} changed\n"))
        }
        UsersAction::Del { db, user } => {
            let pool = open(db).await?;
            let deleted = pool
                .execute("DELETE FROM users WHERE username = ?", std::slice::from_ref(user))
                .await?;
            pool.close().await;
            if deleted == 0 {
                return Err(UsersError::Usage(format!("no user {user:?}")));
            }
            Ok(format!("user {user} deleted\n"))
        }
        UsersAction::List { db } => {
            let pool = open(db).await?;
            let rows = pool
                .fetch(
                    "SELECT username, active, display_name FROM users ORDER BY username",
                    &[],
                )
                .await?;
            pool.close().await;
            let mut out = String::new();
            for row in rows {
                let field = |name| row.get(name).unwrap_or_default().to_owned();
                let active = if field("active") == "0" {
                    "inactive"
                } else {
                    "active"
                };
                out.push_str(&format!(
                    "{}\t{active}\t{}\n",
                    field("username"),
                    field("display_name")
                ));
            }
            Ok(out)
        }
    }
}
