//! One instance of each service per test binary, started on first use and kept in a static.
//!
//! Statics are never dropped; the supervisor (see the crate docs) removes the processes when the
//! test process exits. Tests share these instances and run in parallel, so they must not stop
//! them and should keep their data apart (key prefixes unique per test).

use std::sync::OnceLock;

use crate::{MariaDb, Postgres, RedisCluster, RedisSentinelSet, RedisServer, Slapd, TestkitError};

static REDIS: OnceLock<Result<RedisServer, String>> = OnceLock::new();
static CLUSTER: OnceLock<Result<RedisCluster, String>> = OnceLock::new();
static SENTINEL: OnceLock<Result<RedisSentinelSet, String>> = OnceLock::new();
static SLAPD: OnceLock<Result<Slapd, String>> = OnceLock::new();
static POSTGRES: OnceLock<Result<Postgres, String>> = OnceLock::new();
static MARIADB: OnceLock<Result<MariaDb, String>> = OnceLock::new();

/// The test binary's shared plain redis-server (no password), started on first call.
pub fn shared_redis() -> Result<&'static RedisServer, TestkitError> {
    shared(&REDIS, "redis-server", RedisServer::start)
}

/// The test binary's shared 3-master Redis Cluster (no password), started on first call.
pub fn shared_redis_cluster() -> Result<&'static RedisCluster, TestkitError> {
    shared(&CLUSTER, "redis cluster", RedisCluster::start)
}

/// The test binary's shared sentinel set (master `mymaster`, one sentinel, no passwords).
pub fn shared_redis_sentinel() -> Result<&'static RedisSentinelSet, TestkitError> {
    shared(&SENTINEL, "redis sentinel set", RedisSentinelSet::start)
}

/// The test binary's shared slapd (default fixture, TLS on), started on first call. Tests must
/// not stop it; fault tests start their own [`Slapd`].
pub fn shared_slapd() -> Result<&'static Slapd, TestkitError> {
    shared(&SLAPD, "slapd", Slapd::start)
}

/// The test binary's shared PostgreSQL server, started on first call. Tests must not stop it;
/// they keep their data apart in databases or tables of their own.
pub fn shared_postgres() -> Result<&'static Postgres, TestkitError> {
    shared(&POSTGRES, "postgres", Postgres::start)
}

/// The test binary's shared MariaDB server, started on first call. Tests must not stop it.
pub fn shared_mariadb() -> Result<&'static MariaDb, TestkitError> {
    shared(&MARIADB, "mariadb", MariaDb::start)
}

/// Starts the service once; a failure is remembered so later callers fail fast with its text.
fn shared<T>(
    cell: &'static OnceLock<Result<T, String>>,
    service: &'static str,
    start: impl FnOnce() -> Result<T, TestkitError>,
) -> Result<&'static T, TestkitError> {
    cell.get_or_init(|| start().map_err(|err| err.to_string()))
        .as_ref()
        .map_err(|message| TestkitError::SharedStart {
            service,
            message: message.clone(),
        })
}
