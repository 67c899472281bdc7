//! One LDAP backend (`ldap` or `ldap(<pool>)`): the searches of its pool, chosen by protocol,
//! the user lookup (search on a lookup connection), the password check (bind as the found DN on
//! an auth connection) and the account listing; transient failures are retried with backoff.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use ldap3::{SearchEntry, SearchOptions};
use nauthilus_config::LdapSection;

use super::breaker::backoff;
use super::filter::MacroValues;
use super::pool::LdapPool;
use super::search::{FieldMapping, SearchPlan};
use super::settings::PoolSettings;
use super::{ConfigProblem, LdapError};

/// LDAP result code of a bind with a wrong password.
const INVALID_CREDENTIALS: u32 = 49;
/// LDAP result code of a bind the server refuses for this kind of authentication.
const INAPPROPRIATE_AUTHENTICATION: u32 = 48;
/// The attribute holding password hashes: never returned with the user.
const PASSWORD_ATTRIBUTE: &str = "userPassword";
/// LDAP result code of a search that hit the size limit.
const SIZE_LIMIT_EXCEEDED: u32 = 4;

/// One login or lookup as the LDAP backend needs it.
#[derive(Clone, Debug)]
pub struct LdapQuery<'a> {
    /// The protocol, lower-cased (`default` when none).
    pub protocol: &'a str,
    /// The macro values (user name, service, addresses).
    pub values: MacroValues<'a>,
    /// The password to check; `None` looks the user up only (`mode=no-auth`).
    pub password: Option<&'a [u8]>,
}

/// A user found in LDAP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdapUser {
    pub dn: String,
    /// The value of `mapping.account_field`.
    pub account: String,
    /// Returned attributes (with `dn`), names as the server spelled them.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub mapping: FieldMapping,
    /// `cache_name` of the search that found the user (empty = default).
    pub cache_name: String,
}

/// What the backend knows about a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LdapLookup {
    /// No search serves the protocol, or the search found nobody.
    NotFound,
    /// Found; `password_ok` is the result of the bind (true without a password to check).
    Found { user: Box<LdapUser>, password_ok: bool },
}

/// One LDAP backend: a pool and the searches that run on it.
#[derive(Debug)]
pub struct LdapBackend {
    pool: Arc<LdapPool>,
    searches: Vec<SearchPlan>,
}

/// Builds one backend per requested pool (`None` = `ldap.config`), collecting every problem,
/// and starts each pool's health check (so this must run inside a Tokio runtime). No
/// connection is opened here: a server that is down at startup only fails logins until it is up.
pub fn build_backends(
    section: &LdapSection,
    pools: &[Option<String>],
) -> Result<Vec<LdapBackend>, Vec<ConfigProblem>> {
    let backends = check_backends(section, pools)?;
    for backend in &backends {
        LdapPool::spawn_health_check(&backend.pool);
    }
    Ok(backends)
}

/// Checks the `ldap` section for the pools `server.backends` uses (filters, URIs, TLS files)
/// and builds the backends without starting anything; `--config-check` uses this.
pub fn check_backends(
    section: &LdapSection,
    pools: &[Option<String>],
) -> Result<Vec<LdapBackend>, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut plans: Vec<(Option<String>, SearchPlan)> = Vec::new();
    for (index, search) in section.search.iter().enumerate() {
        match SearchPlan::from_config(index, search) {
            Ok(plan) => plans.push((search.pool().map(str::to_owned), plan)),
            Err(mut p) => problems.append(&mut p),
        }
        if let Some(name) = search.pool()
            && !section.optional_ldap_pools.contains_key(name)
        {
            problems.push(ConfigProblem {
                path: format!("ldap.search[{index}].pool_name"),
                message: format!("no pool {name:?} in ldap.optional_ldap_pools"),
            });
        }
    }
    let mut backends = Vec::new();
    for pool_name in pools {
        let (name, path) = match pool_name {
            None => ("default".to_owned(), "ldap.config".to_owned()),
            Some(name) => (name.clone(), format!("ldap.optional_ldap_pools.{name}")),
        };
        let Some(config) = section.pool(pool_name.as_deref()) else {
            problems.push(ConfigProblem {
                path: "server.backends".into(),
                message: format!("ldap({name}) names no pool in ldap.optional_ldap_pools"),
            });
            continue;
        };
        let settings = match PoolSettings::from_config(&name, &path, config) {
            Ok(settings) => settings,
            Err(mut p) => {
                problems.append(&mut p);
                continue;
            }
        };
        let mut searches = Vec::new();
        let mut rest = Vec::new();
        for (pool, plan) in plans.drain(..) {
            if pool == *pool_name {
                searches.push(plan);
            } else {
                rest.push((pool, plan));
            }
        }
        plans = rest;
        if searches.is_empty() {
            problems.push(ConfigProblem {
                path: "ldap.search".into(),
                message: format!("no search uses the pool {name:?} that server.backends lists"),
            });
            continue;
        }
        backends.push(LdapBackend {
            pool: Arc::new(LdapPool::new(settings)),
            searches,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(backends)
}

impl LdapBackend {
    /// The pool this backend uses.
    pub fn pool(&self) -> &Arc<LdapPool> {
        &self.pool
    }

    /// True when some search has a `filter.list_accounts`.
    pub fn supports_list_accounts(&self) -> bool {
        self.searches.iter().any(|s| s.list_filter.is_some())
    }

    /// The search for `protocol`: the first naming it, else the first naming `default`.
    fn search_for(&self, protocol: &str) -> Option<&SearchPlan> {
        let names = |p: &str| self.searches.iter().find(|s| s.protocols.iter().any(|x| x == p));
        names(protocol).or_else(|| names("default"))
    }

    /// Finds the user and, with a password, checks it by binding as the user.
    pub async fn verify(&self, query: &LdapQuery<'_>) -> Result<LdapLookup, LdapError> {
        let Some(plan) = self.search_for(query.protocol) else {
            return Ok(LdapLookup::NotFound);
        };
        let Some(template) = &plan.user_filter else {
            return Ok(LdapLookup::NotFound);
        };
        let filter = template.expand(&query.values);
        let entries = self
            .retrying(|| self.search(plan, &filter, 2))
            .await
            .map_err(|e| with_filter(e, &filter))?;
        if entries.len() > 1 {
            return Err(LdapError::Ambiguous {
                user: query.values.user.to_owned(),
                count: entries.len(),
            });
        }
        let Some(entry) = entries.into_iter().next() else {
            return Ok(LdapLookup::NotFound);
        };
        let user = Box::new(to_user(plan, entry)?);
        let password_ok = match query.password {
            None => true,
            Some(password) => self.retrying(|| self.bind(&user.dn, password)).await?,
        };
        Ok(LdapLookup::Found { user, password_ok })
    }

    /// The accounts every search with a `filter.list_accounts` finds (values of its
    /// `account_field`), without duplicates, in search order.
    pub async fn list_accounts(&self) -> Result<Vec<String>, LdapError> {
        let mut accounts = Vec::new();
        let values = MacroValues::default();
        for plan in &self.searches {
            let Some(template) = &plan.list_filter else {
                continue;
            };
            let filter = template.expand(&values);
            let entries = self
                .retrying(|| self.search(plan, &filter, 0))
                .await
                .map_err(|e| with_filter(e, &filter))?;
            for entry in entries {
                if let Some(account) =
                    attribute(&entry.attrs, &plan.mapping.account_field).and_then(|v| v.first())
                    && !accounts.contains(account)
                {
                    accounts.push(account.clone());
                }
            }
        }
        Ok(accounts)
    }

    /// Runs `op` and retries transient failures `retry_max` times with exponential backoff.
    async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T, LdapError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, LdapError>>,
    {
        let s = self.pool.settings();
        let mut attempt = 0;
        loop {
            match op().await {
                Err(error) if error.is_transient() && attempt < s.retry_max => {
                    tracing::debug!(pool = %s.name, %error, attempt, "LDAP operation failed; retrying");
                    tokio::time::sleep(backoff(attempt, s.retry_base, s.retry_max_backoff)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One search on a lookup connection; `expect` > 0 caps the entries asked for.
    async fn search(
        &self,
        plan: &SearchPlan,
        filter: &str,
        expect: i32,
    ) -> Result<Vec<SearchEntry>, LdapError> {
        let s = self.pool.settings();
        let mut connection = self.pool.lookup().await?;
        let limit = match (expect, s.search_size_limit) {
            (0, configured) => configured,
            (wanted, 0) => wanted,
            (wanted, configured) => wanted.min(configured),
        };
        let result = connection
            .ldap()
            .with_timeout(s.search_timeout)
            .with_search_options(SearchOptions::new().sizelimit(limit))
            .search(&plan.base_dn, plan.scope, filter, &plan.attributes)
            .await;
        let result = match result {
            Ok(result) => result,
            Err(error) => {
                // The connection's state is unknown: drop it, and its idle siblings if the
                // server seems gone.
                let error = LdapError::from_ldap3("search", error, s.search_timeout);
                if error.is_transient() {
                    self.pool.discard_idle();
                }
                return Err(error);
            }
        };
        let ldap3::SearchResult(entries, outcome) = result;
        connection.release();
        match outcome.rc {
            0 => {}
            // More entries than a user lookup expects: the caller reports them as ambiguous.
            SIZE_LIMIT_EXCEEDED if expect > 0 => {}
            SIZE_LIMIT_EXCEEDED => {
                tracing::warn!(pool = %s.name, base_dn = %plan.base_dn, "LDAP search hit search_size_limit; the list is incomplete");
            }
            rc => {
                return Err(LdapError::Server {
                    op: "search",
                    rc,
                    text: outcome.text,
                });
            }
        }
        Ok(entries.into_iter().map(SearchEntry::construct).collect())
    }

    /// Binds as `dn` with `password` on an auth connection: `Ok(false)` for wrong credentials.
    async fn bind(&self, dn: &str, password: &[u8]) -> Result<bool, LdapError> {
        // An empty password would be an unauthenticated bind, which servers accept (RFC 4513).
        if password.is_empty() {
            return Ok(false);
        }
        // ldap3 takes the password as text; bytes that are not UTF-8 cannot be sent as given.
        let Ok(password) = std::str::from_utf8(password) else {
            return Ok(false);
        };
        let s = self.pool.settings();
        let mut connection = self.pool.auth().await?;
        match connection
            .ldap()
            .with_timeout(s.bind_timeout)
            .simple_bind(dn, password)
            .await
        {
            Ok(result) => {
                connection.release();
                match result.rc {
                    0 => Ok(true),
                    INVALID_CREDENTIALS | INAPPROPRIATE_AUTHENTICATION => Ok(false),
                    rc => Err(LdapError::Server {
                        op: "user bind",
                        rc,
                        text: result.text,
                    }),
                }
            }
            Err(error) => {
                let error = LdapError::from_ldap3("user bind", error, s.bind_timeout);
                if error.is_transient() {
                    self.pool.discard_idle();
                }
                Err(error)
            }
        }
    }
}

fn with_filter(error: LdapError, filter: &str) -> LdapError {
    match error {
        LdapError::InvalidFilter(_) => LdapError::InvalidFilter(filter.to_owned()),
        other => other,
    }
}

/// The values of attribute `name` (matched case-insensitively, as LDAP does).
fn attribute<'a>(
    attrs: &'a std::collections::HashMap<String, Vec<String>>,
    name: &str,
) -> Option<&'a Vec<String>> {
    attrs.get(name).or_else(|| {
        attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn to_user(plan: &SearchPlan, entry: SearchEntry) -> Result<LdapUser, LdapError> {
    let account = attribute(&entry.attrs, &plan.mapping.account_field)
        .and_then(|v| v.first())
        .cloned()
        .ok_or_else(|| LdapError::MissingAccountField {
            dn: entry.dn.clone(),
            field: plan.mapping.account_field.clone(),
        })?;
    // Password hashes never leave the server (they would become response headers).
    let mut attributes: BTreeMap<String, Vec<String>> = entry
        .attrs
        .into_iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case(PASSWORD_ATTRIBUTE))
        .collect();
    attributes.insert("dn".to_owned(), vec![entry.dn.clone()]);
    Ok(LdapUser {
        dn: entry.dn,
        account,
        attributes,
        mapping: plan.mapping.clone(),
        cache_name: plan.cache_name.clone(),
    })
}
