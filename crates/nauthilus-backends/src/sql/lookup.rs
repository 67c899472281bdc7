//! One SQL backend (`sql` or `sql(<name>)`): its pool and its per-protocol queries, checked at
//! startup; per request the row of a login, turned into account name, stored password and
//! attributes.

use std::collections::BTreeMap;
use std::sync::Arc;

use nauthilus_config::{SqlBackendRef, SqlMapping};

use super::SqlError;
use super::pool::{SqlPool, SqlRow, dialect_of};
use super::query::{Dialect, QueryTemplate};
use crate::ldap::{ConfigProblem, MacroValues};
use crate::password::PasswordHash;

/// Attributes of a user: column name → values (one value per column).
pub type Attributes = BTreeMap<String, Vec<String>>;

/// What one login asks of the backend.
#[derive(Clone, Debug)]
pub struct SqlQuery<'a> {
    /// The request's protocol; picks the search.
    pub protocol: &'a str,
    /// Values the query's macros name.
    pub values: MacroValues<'a>,
    /// `mode=no-auth`: the user query (or the password query) without reading the password.
    pub no_auth: bool,
}

/// A user as one row describes it.
#[derive(Clone, Debug)]
pub struct SqlUser {
    /// The account name (`mapping.account_field`, or the login name).
    pub account: String,
    /// The stored password, parsed; `None` when the column is NULL or empty (or `no-auth`).
    pub password: Option<Arc<PasswordHash>>,
    /// The search's column mapping (field names for the caller).
    pub mapping: SqlMapping,
    /// Non-NULL columns (all but the password, or those of `attribute[]` plus mapped fields).
    pub attributes: Attributes,
}

/// The answer to one login.
#[derive(Clone, Debug)]
pub enum SqlLookup {
    NotFound,
    Found(Box<SqlUser>),
}

/// One `search[]` entry, checked.
#[derive(Debug)]
struct Plan {
    protocols: Vec<String>,
    password_query: QueryTemplate,
    user_query: Option<QueryTemplate>,
    list_query: Option<QueryTemplate>,
    mapping: SqlMapping,
    /// `attribute[]`; empty = every column but the password.
    attributes: Vec<String>,
    /// `attribute[]` plus the mapped fields, as configured (their spelling names attributes).
    wanted: Vec<String>,
}

/// One SQL backend.
#[derive(Debug)]
pub struct SqlBackend {
    /// `sql` or `sql(<name>)`, for messages.
    name: String,
    pool: Arc<SqlPool>,
    plans: Vec<Plan>,
}

/// Checks a backend's URL, TLS settings and queries without connecting (`--config-check`).
pub fn check_backend(settings: &SqlBackendRef<'_>) -> Result<(), Vec<ConfigProblem>> {
    let dialect = check_pool(settings)?;
    plans(dialect, settings).map(|_| ())
}

fn check_pool(settings: &SqlBackendRef<'_>) -> Result<Dialect, Vec<ConfigProblem>> {
    let problem = |message: String| {
        vec![ConfigProblem {
            path: format!("{}.config.url", settings.path),
            message,
        }]
    };
    let dialect = dialect_of(settings.config.url.trim()).map_err(problem)?;
    SqlPool::check(settings.config).map_err(problem)?;
    Ok(dialect)
}

fn plans(dialect: Dialect, settings: &SqlBackendRef<'_>) -> Result<Vec<Plan>, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut plans = Vec::new();
    for (i, search) in settings.search.iter().enumerate() {
        let mut parse = |key: &str, text: &str| -> Option<QueryTemplate> {
            if text.trim().is_empty() {
                return None;
            }
            match QueryTemplate::parse(text, dialect) {
                Ok(q) => Some(q),
                Err(e) => {
                    problems.push(ConfigProblem {
                        path: format!("{}.search[{i}].{key}", settings.path),
                        message: e.to_string(),
                    });
                    None
                }
            }
        };
        let password_query = parse("password_query", &search.password_query);
        let user_query = parse("user_query", &search.user_query);
        let list_query = parse("list_accounts_query", &search.list_accounts_query);
        if search.password_query.trim().is_empty() {
            problems.push(ConfigProblem {
                path: format!("{}.search[{i}].password_query", settings.path),
                message: "required".into(),
            });
        }
        if search.protocol.is_empty() {
            problems.push(ConfigProblem {
                path: format!("{}.search[{i}].protocol", settings.path),
                message: "at least one protocol (or `default`) is required".into(),
            });
        }
        let Some(password_query) = password_query else {
            continue;
        };
        let m = &search.mapping;
        let mut wanted = search.attribute.clone();
        for field in [
            &m.account_field,
            &m.display_name_field,
            &m.totp_secret_field,
            &m.unique_user_id_field,
        ] {
            if !field.is_empty() && !wanted.iter().any(|w| w.eq_ignore_ascii_case(field)) {
                wanted.push(field.clone());
            }
        }
        plans.push(Plan {
            protocols: search.protocol.iter().map(|p| p.to_ascii_lowercase()).collect(),
            password_query,
            user_query,
            list_query,
            mapping: search.mapping.clone(),
            attributes: search.attribute.clone(),
            wanted,
        });
    }
    if problems.is_empty() {
        Ok(plans)
    } else {
        Err(problems)
    }
}

impl SqlBackend {
    /// The backend `name` (`sql` or `sql(<name>)`) over `pool`, with the searches of
    /// `settings` checked for the pool's dialect.
    pub fn new(
        name: impl Into<String>,
        pool: Arc<SqlPool>,
        settings: &SqlBackendRef<'_>,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let plans = plans(pool.dialect(), settings)?;
        Ok(Self {
            name: name.into(),
            pool,
            plans,
        })
    }

    /// The builder of the pool for `settings` (checked), for callers that keep pools apart
    /// from backends.
    pub fn pool_for(settings: &SqlBackendRef<'_>) -> Result<SqlPool, Vec<ConfigProblem>> {
        check_pool(settings)?;
        SqlPool::new(settings.config).map_err(|message| {
            vec![ConfigProblem {
                path: format!("{}.config.url", settings.path),
                message,
            }]
        })
    }

    /// `sql` or `sql(<name>)`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pool this backend queries (also for Lua's `db` module).
    pub fn pool(&self) -> &Arc<SqlPool> {
        &self.pool
    }

    /// True when some search has a `list_accounts_query`.
    pub fn supports_list_accounts(&self) -> bool {
        self.plans.iter().any(|p| p.list_query.is_some())
    }

    /// The search for `protocol`: the first naming it, else the first naming `default`.
    fn plan_for(&self, protocol: &str) -> Option<&Plan> {
        let protocol = protocol.to_ascii_lowercase();
        let named = |p: &str| self.plans.iter().find(|s| s.protocols.iter().any(|x| x == p));
        named(&protocol).or_else(|| named("default"))
    }

    /// Finds the one row of a login. More than one row is an error (the login fails
    /// temporarily, and the log says why); a stored password in no scheme we know, too.
    pub async fn lookup(&self, query: &SqlQuery<'_>) -> Result<SqlLookup, SqlError> {
        let Some(plan) = self.plan_for(query.protocol) else {
            return Ok(SqlLookup::NotFound);
        };
        let template = match (&plan.user_query, query.no_auth) {
            (Some(user_query), true) => user_query,
            _ => &plan.password_query,
        };
        let params = template.bind_values(&query.values);
        // No text column can hold NUL (PostgreSQL refuses it outright): such a name is no user.
        if params.iter().any(|p| p.contains('\0')) {
            tracing::debug!(backend = %self.name, "SQL lookup skipped: a macro value contains NUL");
            return Ok(SqlLookup::NotFound);
        }
        let rows = self.pool.fetch(template.sql(), &params).await?;
        if rows.len() > 1 {
            tracing::error!(
                backend = %self.name,
                user = %query.values.user,
                rows = rows.len(),
                "SQL query returned more than one row for one login; failing the login (fix the query or the data)"
            );
            return Err(SqlError::Ambiguous {
                backend: self.name.clone(),
                user: query.values.user.to_owned(),
                rows: rows.len(),
            });
        }
        let Some(row) = rows.into_iter().next() else {
            return Ok(SqlLookup::NotFound);
        };
        let account = if plan.mapping.account_field.is_empty() {
            query.values.user.to_owned()
        } else {
            match row.get(&plan.mapping.account_field) {
                Some(account) if !account.is_empty() => account.to_owned(),
                _ => {
                    return Err(SqlError::MissingAccount {
                        backend: self.name.clone(),
                        user: query.values.user.to_owned(),
                        column: plan.mapping.account_field.clone(),
                    });
                }
            }
        };
        let password = if query.no_auth {
            None
        } else {
            match row.get(&plan.mapping.password_field) {
                None | Some("") => None,
                Some(stored) => match PasswordHash::parse(stored) {
                    Ok(hash) => Some(Arc::new(hash)),
                    Err(e) => {
                        tracing::error!(
                            backend = %self.name,
                            account = %account,
                            error = %e,
                            "stored password cannot be verified; failing the login"
                        );
                        return Err(SqlError::UnusablePassword {
                            backend: self.name.clone(),
                            account,
                            reason: e.to_string(),
                        });
                    }
                },
            }
        };
        let attributes = attributes(plan, &row);
        Ok(SqlLookup::Found(Box::new(SqlUser {
            account,
            password,
            mapping: plan.mapping.clone(),
            attributes,
        })))
    }

    /// The accounts every `list_accounts_query` returns (the `account_field` column, else the
    /// first), without duplicates, in query order.
    pub async fn list_accounts(&self) -> Result<Vec<String>, SqlError> {
        let mut accounts: Vec<String> = Vec::new();
        let values = MacroValues::default();
        for plan in &self.plans {
            let Some(template) = &plan.list_query else {
                continue;
            };
            let rows = self
                .pool
                .fetch(template.sql(), &template.bind_values(&values))
                .await?;
            for row in rows {
                let value = if !plan.mapping.account_field.is_empty()
                    && row.has_column(&plan.mapping.account_field)
                {
                    row.get(&plan.mapping.account_field)
                } else {
                    row.values.first().and_then(|v| v.as_deref())
                };
                if let Some(account) = value
                    && !account.is_empty()
                    && !accounts.iter().any(|a| a == account)
                {
                    accounts.push(account.to_owned());
                }
            }
        }
        Ok(accounts)
    }
}

/// The row's attributes: non-NULL columns but the password; with `attribute[]`, only those and
/// the mapped fields, named as configured.
fn attributes(plan: &Plan, row: &SqlRow) -> Attributes {
    let mut out = Attributes::new();
    for (column, value) in row.columns.iter().zip(&row.values) {
        let Some(value) = value else { continue };
        if column.eq_ignore_ascii_case(&plan.mapping.password_field) {
            continue;
        }
        let key = plan
            .wanted
            .iter()
            .find(|w| w.eq_ignore_ascii_case(column))
            .cloned()
            .or_else(|| plan.attributes.is_empty().then(|| column.clone()));
        if let Some(key) = key {
            out.entry(key).or_default().push(value.clone());
        }
    }
    out
}
