//! The Redis store (standalone, Sentinel, Cluster): each store operation as Redis commands, run
//! on a pooled connection and bounded by the command timeout (the larger of `read_timeout` and
//! `write_timeout`). Semantics match `memory.rs`; the conformance suite checks both.
//!
//! - `connect.rs`: settings → connections (TCP, TLS, AUTH, SELECT, Sentinel, Cluster).
//! - `pool.rs`: round-robin slots and the background reconnect.
//! - `sentinel.rs`: master discovery and failover following.
//! - `commands.rs`: the commands and scripts themselves.

mod commands;
mod connect;
mod pool;
mod sentinel;
mod tls;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use nauthilus_config::RedisConfig;
use redis::{ErrorKind, FromRedisValue, RedisError, ServerErrorKind, Value, cmd};

use self::commands as c;
use self::connect::{Conn, Connector};
use self::pool::{Damage, Lease, Pool};
use crate::{StoreError, StoreResult, Ttl};

/// Validates the settings the way `connect` does, without connecting.
pub(crate) fn check_config(config: &RedisConfig) -> StoreResult<()> {
    Connector::from_config(config).map(|_| ())
}

/// State in Redis, shared by every instance that points at the same Redis.
#[derive(Clone)]
pub(crate) struct RedisStore {
    pool: Arc<Pool>,
    /// Operations that got no answer within the command timeout.
    timeouts: Arc<std::sync::atomic::AtomicU64>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("connector", self.pool.connector())
            .finish()
    }
}

impl RedisStore {
    /// Checks the settings, then tries once to connect. Redis being down (or refusing our
    /// credentials) is logged, not returned: commands fail with `Unavailable` until the
    /// background reconnect succeeds. Only unusable settings are errors (`StoreError::Config`).
    pub(crate) async fn connect(config: &RedisConfig) -> StoreResult<Self> {
        let connector = Connector::from_config(config)?;
        let size = usize::from(config.pool_size.get()).min(1024);
        Ok(Self {
            pool: Pool::start(connector, size).await,
            timeouts: Arc::default(),
        })
    }

    /// Runs `op` on a pooled connection within the command timeout.
    async fn run<T>(&self, op: impl AsyncFnOnce(&mut Conn) -> redis::RedisResult<T>) -> StoreResult<T> {
        let mut lease = self.pool.lease()?;
        let limit = self.pool.connector().command_timeout();
        match tokio::time::timeout(limit, op(&mut lease.conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failed(&lease, e)),
            Err(_) => {
                self.timeouts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.pool.damaged(&lease, Damage::Connection);
                let mode = self.pool.connector().mode();
                Err(StoreError::Unavailable(format!(
                    "redis {mode} did not answer within {limit:?}"
                )))
            }
        }
    }

    async fn query<T: FromRedisValue>(&self, command: &redis::Cmd) -> StoreResult<T> {
        self.run(async |conn| command.query_async(conn).await).await
    }

    /// Sorts an error into "Redis said no" (`Command`) and "Redis is not there" (`Unavailable`),
    /// and takes connections that can no longer be trusted out of service.
    fn failed(&self, lease: &Lease, error: RedisError) -> StoreError {
        match classify(&error) {
            Verdict::Command => StoreError::Command(error.to_string()),
            Verdict::Unavailable(damage) => {
                if let Some(damage) = damage {
                    self.pool.damaged(lease, damage);
                }
                StoreError::Unavailable(format!("redis {}: {error}", self.pool.connector().mode()))
            }
        }
    }

    pub(crate) fn stats(&self) -> crate::StoreStats {
        let (pool_size, connections, hits, misses) = self.pool.counts();
        crate::StoreStats {
            kind: "redis",
            mode: self.pool.connector().mode(),
            pool_size,
            connections,
            connection_hits: hits,
            connection_misses: misses,
            timeouts: self.timeouts.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Any command, as scripts send them (`nauthilus_redis`).
    pub(crate) async fn raw(&self, command: &redis::Cmd) -> StoreResult<Value> {
        self.query(command).await
    }

    /// Several commands in one round trip; one reply per command.
    pub(crate) async fn raw_pipeline(&self, pipe: &redis::Pipeline) -> StoreResult<Vec<Value>> {
        self.run(async |conn| pipe.query_async(conn).await).await
    }

    pub(crate) async fn ping(&self) -> StoreResult<()> {
        let _: Value = self.query(&cmd("PING")).await?;
        Ok(())
    }

    pub(crate) async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        self.query(cmd("GET").arg(key)).await
    }

    /// GET of several keys: one pipeline (one round trip) on a single server; in a Cluster, where
    /// the keys may live on different nodes, one GET per key, all in flight at once.
    pub(crate) async fn get_many(&self, keys: &[&str]) -> StoreResult<Vec<Option<String>>> {
        if keys.len() > 1 && self.pool.connector().mode() != "cluster" {
            let mut p = redis::pipe();
            for key in keys {
                p.cmd("GET").arg(*key);
            }
            return self.run(async |conn| p.query_async(conn).await).await;
        }
        futures::future::try_join_all(keys.iter().map(|k| self.get(k))).await
    }

    /// True when `other` is this same store (clones share the pool).
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.pool, &other.pool)
    }

    /// Reads of several kinds: one pipeline on a single server; in a Cluster one command per
    /// read, all in flight at once (as `get_many`).
    pub(crate) async fn read_batch(&self, reads: &[crate::Read<'_>]) -> StoreResult<Vec<crate::ReadReply>> {
        if self.pool.connector().mode() == "cluster" {
            return futures::future::try_join_all(reads.iter().map(async |r| self.read_one(*r).await)).await;
        }
        let mut p = redis::pipe();
        for read in reads {
            p.add_command(c::read(*read));
        }
        let values: Vec<Value> = self.run(async |conn| p.query_async(conn).await).await?;
        if values.len() != reads.len() {
            return Err(StoreError::Command(format!(
                "{} replies to {} reads",
                values.len(),
                reads.len()
            )));
        }
        reads
            .iter()
            .zip(values)
            .map(|(read, value)| c::read_reply(*read, value).map_err(StoreError::Command))
            .collect()
    }

    async fn read_one(&self, read: crate::Read<'_>) -> StoreResult<crate::ReadReply> {
        let value: Value = self.query(&c::read(read)).await?;
        c::read_reply(read, value).map_err(StoreError::Command)
    }

    pub(crate) async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> StoreResult<()> {
        let _: Value = self.query(&c::set(key, value, ttl, false)).await?;
        Ok(())
    }

    pub(crate) async fn set_nx(&self, key: &str, value: &str, ttl: Option<Duration>) -> StoreResult<bool> {
        let reply: Value = self.query(&c::set(key, value, ttl, true)).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    pub(crate) async fn get_del(&self, key: &str) -> StoreResult<Option<String>> {
        self.query(cmd("GETDEL").arg(key)).await
    }

    pub(crate) async fn delete(&self, key: &str) -> StoreResult<bool> {
        Ok(self.query::<u64>(cmd("DEL").arg(key)).await? > 0)
    }

    pub(crate) async fn exists(&self, key: &str) -> StoreResult<bool> {
        Ok(self.query::<u64>(cmd("EXISTS").arg(key)).await? > 0)
    }

    pub(crate) async fn ttl(&self, key: &str) -> StoreResult<Ttl> {
        Ok(c::ttl_from_pttl(self.query(cmd("PTTL").arg(key)).await?))
    }

    pub(crate) async fn expire(&self, key: &str, ttl: Duration) -> StoreResult<bool> {
        Ok(self
            .query::<u64>(cmd("PEXPIRE").arg(key).arg(c::millis(ttl)))
            .await?
            == 1)
    }

    pub(crate) async fn hash_get_all(&self, key: &str) -> StoreResult<HashMap<String, String>> {
        self.query(cmd("HGETALL").arg(key)).await
    }

    pub(crate) async fn hash_get(&self, key: &str, field: &str) -> StoreResult<Option<String>> {
        self.query(cmd("HGET").arg(key).arg(field)).await
    }

    /// No fields: nothing to write (HSET needs at least one).
    pub(crate) async fn hash_set(&self, key: &str, fields: &[(&str, &str)]) -> StoreResult<()> {
        if fields.is_empty() {
            return Ok(());
        }
        let _: Value = self.query(&c::hset(key, fields)).await?;
        Ok(())
    }

    /// No fields: the hash is deleted, as a hash without fields does not exist.
    pub(crate) async fn hash_replace(
        &self,
        key: &str,
        fields: &[(&str, &str)],
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        if fields.is_empty() {
            self.delete(key).await?;
            return Ok(());
        }
        let transaction = c::hash_replace(key, fields, ttl);
        self.run(async |conn| transaction.query_async::<()>(conn).await)
            .await
    }

    pub(crate) async fn hash_delete(&self, key: &str, fields: &[&str]) -> StoreResult<u64> {
        if fields.is_empty() {
            return Ok(0);
        }
        self.query(&c::key_and_members("HDEL", key, fields)).await
    }

    /// HSCAN with the escaped prefix as MATCH pattern, until the cursor comes back to 0. Each
    /// round trip is one bounded command; fields seen twice (HSCAN may repeat) count once.
    pub(crate) async fn hash_fields_with_prefix(
        &self,
        key: &str,
        prefix: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        let mut found = HashMap::new();
        let mut cursor = "0".to_owned();
        loop {
            let (next, flat): (String, Vec<String>) =
                self.query(&c::hscan_prefix(key, &cursor, prefix)).await?;
            let mut items = flat.into_iter();
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                if field.starts_with(prefix) {
                    found.insert(field, value);
                }
            }
            if next == "0" {
                return Ok(found.into_iter().collect());
            }
            cursor = next;
        }
    }

    pub(crate) async fn incr(
        &self,
        key: &str,
        by: i64,
        ttl_if_created: Option<Duration>,
    ) -> StoreResult<i64> {
        match ttl_if_created {
            None => self.query(cmd("INCRBY").arg(key).arg(by)).await,
            Some(ttl) => {
                let mut call = c::INCR_TTL_IF_CREATED.key(key);
                call.arg(by).arg(c::millis(ttl));
                self.run(async |conn| call.invoke_async(conn).await).await
            }
        }
    }

    pub(crate) async fn decr_if_positive(&self, key: &str) -> StoreResult<i64> {
        let call = c::DECR_IF_POSITIVE.key(key);
        self.run(async |conn| call.invoke_async(conn).await).await
    }

    /// No members: nothing changes (SADD needs at least one, and an empty set does not exist).
    pub(crate) async fn set_add(
        &self,
        key: &str,
        members: &[&str],
        ttl: Option<Duration>,
    ) -> StoreResult<u64> {
        if members.is_empty() {
            return Ok(0);
        }
        match ttl {
            None => self.query(&c::key_and_members("SADD", key, members)).await,
            Some(ttl) => {
                let mut call = c::SADD_WITH_TTL.key(key);
                call.arg(c::millis(ttl)).arg(members);
                self.run(async |conn| call.invoke_async(conn).await).await
            }
        }
    }

    pub(crate) async fn set_members(&self, key: &str) -> StoreResult<Vec<String>> {
        self.query(cmd("SMEMBERS").arg(key)).await
    }

    pub(crate) async fn set_remove(&self, key: &str, members: &[&str]) -> StoreResult<u64> {
        if members.is_empty() {
            return Ok(0);
        }
        self.query(&c::key_and_members("SREM", key, members)).await
    }
}

/// What an error means for the caller and for the connection it came from.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Redis refused this command (wrong type, not an integer, no permission, ...).
    Command,
    /// Redis could not serve it now; the connection may need replacing.
    Unavailable(Option<Damage>),
}

fn classify(error: &RedisError) -> Verdict {
    match error.kind() {
        // The socket failed or closed: the server (or the path to it) went away.
        ErrorKind::Io => Verdict::Unavailable(Some(Damage::Server)),
        // After a Sentinel failover the old master answers READONLY: find the new one.
        ErrorKind::Server(ServerErrorKind::ReadOnly) => Verdict::Unavailable(Some(Damage::Server)),
        // A garbled reply stream or lost authentication: this connection is unusable.
        ErrorKind::Parse | ErrorKind::AuthenticationFailed => Verdict::Unavailable(Some(Damage::Connection)),
        // Temporary states of a healthy server or cluster, and cluster routing trouble.
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::MasterDown
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask,
        )
        | ErrorKind::ClusterConnectionNotFound => Verdict::Unavailable(None),
        _ => Verdict::Command,
    }
}

#[cfg(test)]
mod classify_tests {
    use super::*;

    fn error(kind: ErrorKind) -> RedisError {
        RedisError::from((kind, "test"))
    }

    #[test]
    fn refusals_are_command_errors_and_outages_are_unavailable() {
        assert_eq!(
            classify(&error(ErrorKind::Server(ServerErrorKind::ResponseError))),
            Verdict::Command
        );
        assert_eq!(
            classify(&error(ErrorKind::Server(ServerErrorKind::NoPerm))),
            Verdict::Command
        );
        assert_eq!(
            classify(&error(ErrorKind::UnexpectedReturnType)),
            Verdict::Command
        );
        assert_eq!(
            classify(&error(ErrorKind::Io)),
            Verdict::Unavailable(Some(Damage::Server))
        );
        assert_eq!(
            classify(&error(ErrorKind::Server(ServerErrorKind::ReadOnly))),
            Verdict::Unavailable(Some(Damage::Server)),
            "a demoted master sends us back to the sentinels"
        );
        assert_eq!(
            classify(&error(ErrorKind::Server(ServerErrorKind::ClusterDown))),
            Verdict::Unavailable(None)
        );
        assert_eq!(
            classify(&error(ErrorKind::Server(ServerErrorKind::BusyLoading))),
            Verdict::Unavailable(None)
        );
    }
}
