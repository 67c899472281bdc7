//! Connections of one LDAP pool: the server list (failover in configured order, a circuit
//! breaker per server), a bounded *lookup* pool (connections bound as `bind_dn` or by SASL
//! EXTERNAL) and a bounded *auth* pool (connections used to bind as users), and a background
//! health check that probes servers marked down and keeps the idle minimum open.
//!
//! A connection is used by one request at a time (checked out, then released or discarded), so
//! a user bind on an auth connection can never leak into another request.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::LdapError;
use super::breaker::{BreakerState, CircuitBreaker};
use super::settings::PoolSettings;

/// What a connection is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Searches, bound as the service account.
    Lookup,
    /// Binds as the users whose passwords are checked.
    Auth,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Self::Lookup => "lookup",
            Self::Auth => "auth",
        }
    }
}

/// One server URL with its breaker.
#[derive(Debug)]
struct Server {
    url: String,
    breaker: Mutex<CircuitBreaker>,
}

/// One configured LDAP pool (`ldap.config` or `ldap.optional_ldap_pools.<name>`).
#[derive(Debug)]
pub struct LdapPool {
    settings: PoolSettings,
    servers: Vec<Server>,
    lookup: Connections,
    auth: Connections,
}

/// The bounded set of connections of one role.
#[derive(Debug)]
struct Connections {
    role: Role,
    permits: Semaphore,
    idle: Mutex<Vec<Ldap>>,
    idle_min: usize,
}

/// A connection checked out of a pool; [`release`](Self::release) returns it, dropping it
/// closes it (after an error, when its state is unknown).
pub struct PooledConnection<'a> {
    ldap: Ldap,
    connections: &'a Connections,
    _permit: SemaphorePermit<'a>,
}

impl PooledConnection<'_> {
    /// The connection.
    pub fn ldap(&mut self) -> &mut Ldap {
        &mut self.ldap
    }

    /// Returns a healthy connection to the pool for reuse.
    pub fn release(self) {
        let Self {
            mut ldap,
            connections,
            ..
        } = self;
        if !ldap.is_closed() {
            lock(&connections.idle).push(ldap);
        }
    }
}

impl LdapPool {
    /// A pool over `settings`; no connection is opened yet.
    pub fn new(settings: PoolSettings) -> Self {
        let servers = settings
            .servers
            .iter()
            .map(|url| Server {
                url: url.clone(),
                breaker: Mutex::new(CircuitBreaker::new(
                    settings.cb_failure_threshold,
                    settings.cb_cooldown,
                )),
            })
            .collect();
        Self {
            lookup: Connections::new(
                Role::Lookup,
                settings.lookup_pool_size,
                settings.lookup_idle_pool_size,
            ),
            auth: Connections::new(Role::Auth, settings.auth_pool_size, settings.auth_idle_pool_size),
            servers,
            settings,
        }
    }

    /// The checked settings.
    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    /// The pool's name (`default` for `ldap.config`).
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Which servers are currently marked down by their breaker.
    pub fn servers_down(&self) -> Vec<String> {
        self.servers
            .iter()
            .filter(|s| lock(&s.breaker).is_tripped())
            .map(|s| s.url.clone())
            .collect()
    }

    /// A snapshot of the pool for metrics and health checks: each server's breaker and each
    /// role's connections. Cheap: a few short locks, no I/O.
    pub fn status(&self) -> PoolStatus {
        PoolStatus {
            name: self.settings.name.clone(),
            servers: self
                .servers
                .iter()
                .map(|s| ServerStatus {
                    url: s.url.clone(),
                    breaker: lock(&s.breaker).state(),
                })
                .collect(),
            lookup: self.lookup.status(self.settings.lookup_pool_size),
            auth: self.auth.status(self.settings.auth_pool_size),
        }
    }

    /// A lookup connection (idle or new), waiting at most `connect_abort_timeout` for a free slot.
    pub async fn lookup(&self) -> Result<PooledConnection<'_>, LdapError> {
        self.checkout(&self.lookup).await
    }

    /// An auth connection (idle or new).
    pub async fn auth(&self) -> Result<PooledConnection<'_>, LdapError> {
        self.checkout(&self.auth).await
    }

    /// Drops the idle connections of both roles (after a connection error: they probably lead
    /// to the same dead server).
    pub fn discard_idle(&self) {
        lock(&self.lookup.idle).clear();
        lock(&self.auth.idle).clear();
    }

    async fn checkout<'a>(&'a self, connections: &'a Connections) -> Result<PooledConnection<'a>, LdapError> {
        let waited = self.settings.connect_timeout;
        let permit = match tokio::time::timeout(waited, connections.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            // A closed semaphore cannot happen (it is never closed); report it as exhaustion.
            Ok(Err(_)) | Err(_) => {
                return Err(LdapError::PoolExhausted {
                    pool: self.settings.name.clone(),
                    role: connections.role.name(),
                    waited,
                });
            }
        };
        let reused = {
            let mut idle = lock(&connections.idle);
            let mut found = None;
            while let Some(mut ldap) = idle.pop() {
                if !ldap.is_closed() {
                    found = Some(ldap);
                    break;
                }
            }
            found
        };
        let ldap = match reused {
            Some(ldap) => ldap,
            None => self.connect(connections.role, nauthilus_clock::instant()).await?,
        };
        Ok(PooledConnection {
            ldap,
            connections,
            _permit: permit,
        })
    }

    /// Opens a connection for `role` on the first server, in configured order, that the
    /// breakers allow and that answers.
    async fn connect(&self, role: Role, now: Instant) -> Result<Ldap, LdapError> {
        let mut last = None;
        for server in &self.servers {
            if !lock(&server.breaker).allow(now) {
                continue;
            }
            match self.open(&server.url, role).await {
                Ok(ldap) => {
                    lock(&server.breaker).record_success();
                    return Ok(ldap);
                }
                Err(error) => {
                    tracing::warn!(pool = %self.settings.name, server = %server.url, role = role.name(), %error, "LDAP server failed");
                    lock(&server.breaker).record_failure(nauthilus_clock::instant());
                    last = Some(error);
                }
            }
        }
        Err(match last {
            Some(error) => LdapError::Unavailable {
                pool: self.settings.name.clone(),
                last: error.to_string(),
            },
            None => LdapError::AllServersDown {
                pool: self.settings.name.clone(),
            },
        })
    }

    /// Connects to `url` (TCP or Unix socket, TLS for ldaps:// and StartTLS) and, for lookup
    /// connections, binds as the service account; all within the configured timeouts.
    async fn open(&self, url: &str, role: Role) -> Result<Ldap, LdapError> {
        let s = &self.settings;
        let conn_settings = LdapConnSettings::new()
            .set_conn_timeout(s.connect_timeout)
            .set_starttls(s.starttls && url.starts_with("ldap://"))
            .set_config(s.tls.clone());
        // ldap3 applies no timeout to ldapi://, and StartTLS adds a round trip: bound it here.
        let (conn, mut ldap) = match tokio::time::timeout(
            s.connect_timeout,
            LdapConnAsync::with_settings(conn_settings, url),
        )
        .await
        {
            Ok(Ok(pair)) => pair,
            Ok(Err(error)) => return Err(LdapError::from_ldap3("connect", error, s.connect_timeout)),
            Err(_) => {
                return Err(LdapError::Timeout {
                    op: "connect",
                    after: s.connect_timeout,
                });
            }
        };
        ldap3::drive!(conn);
        if role == Role::Lookup {
            let result = if s.sasl_external {
                ldap.with_timeout(s.bind_timeout).sasl_external_bind().await
            } else if s.bind_dn.is_empty() {
                // Anonymous lookups: nothing to bind.
                return Ok(ldap);
            } else {
                ldap.with_timeout(s.bind_timeout)
                    .simple_bind(&s.bind_dn, &s.bind_pw)
                    .await
            };
            let result = result.map_err(|e| LdapError::from_ldap3("service bind", e, s.bind_timeout))?;
            if result.rc != 0 {
                return Err(LdapError::Server {
                    op: "service bind",
                    rc: result.rc,
                    text: result.text,
                });
            }
        }
        Ok(ldap)
    }

    /// One health-check round at `now`: probes every server whose breaker is open (success
    /// closes it, failure keeps it open), then opens connections up to each role's idle minimum.
    pub async fn health_check(&self, now: Instant) {
        for server in &self.servers {
            if !lock(&server.breaker).is_tripped() {
                continue;
            }
            match self.open(&server.url, Role::Lookup).await {
                Ok(_probe) => {
                    tracing::info!(pool = %self.settings.name, server = %server.url, "LDAP server is back");
                    lock(&server.breaker).record_success();
                }
                Err(error) => {
                    tracing::debug!(pool = %self.settings.name, server = %server.url, %error, "LDAP server still down");
                    lock(&server.breaker).record_failure(now);
                }
            }
        }
        for connections in [&self.lookup, &self.auth] {
            let missing = connections.idle_min.saturating_sub(lock(&connections.idle).len());
            for _ in 0..missing {
                match self.checkout(connections).await {
                    Ok(connection) => connection.release(),
                    Err(_) => break,
                }
            }
        }
    }

    /// Runs [`health_check`](Self::health_check) every `health_check_interval` (if non-zero)
    /// until the pool is dropped. Must be called inside a Tokio runtime.
    pub fn spawn_health_check(pool: &Arc<Self>) {
        let interval = pool.settings.health_check_interval;
        if interval.is_zero() {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(pool);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(pool) = weak.upgrade() else { break };
                // A round can take several connect timeouts; never longer than one interval more.
                let bound = interval.max(Duration::from_secs(1)) + pool.settings.connect_timeout;
                let _ = tokio::time::timeout(bound, pool.health_check(nauthilus_clock::instant())).await;
            }
        });
    }
}

/// What [`LdapPool::status`] reports.
#[derive(Clone, Debug)]
pub struct PoolStatus {
    /// The pool's name (`default` for `ldap.config`).
    pub name: String,
    /// Every configured server, in failover order.
    pub servers: Vec<ServerStatus>,
    pub lookup: RoleStatus,
    pub auth: RoleStatus,
}

impl PoolStatus {
    /// True when at least one server's breaker is closed (connections are attempted).
    pub fn any_server_up(&self) -> bool {
        self.servers
            .iter()
            .any(|s| matches!(s.breaker, BreakerState::Closed { .. }))
    }
}

/// One server of a pool.
#[derive(Clone, Debug)]
pub struct ServerStatus {
    pub url: String,
    pub breaker: BreakerState,
}

/// The connections of one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleStatus {
    /// Connections this role may have open at once.
    pub size: usize,
    /// Connections checked out by requests now.
    pub in_use: usize,
    /// Open connections waiting in the pool.
    pub idle: usize,
}

impl Connections {
    fn status(&self, size: usize) -> RoleStatus {
        RoleStatus {
            size,
            in_use: size.saturating_sub(self.permits.available_permits()),
            idle: lock(&self.idle).len(),
        }
    }

    fn new(role: Role, size: usize, idle_min: usize) -> Self {
        Self {
            role,
            permits: Semaphore::new(size),
            idle: Mutex::new(Vec::with_capacity(size)),
            idle_min,
        }
    }
}

/// Locks a mutex; a poisoned one (a panic elsewhere while holding it) is still usable here,
/// since every critical section leaves the data consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
