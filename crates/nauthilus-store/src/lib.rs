//! The shared state store. One `Store` with two implementations: `Memory` (embedded mode, one
//! instance) and `Redis` (standalone, Sentinel, Cluster; many instances). Both speak the same
//! Redis-shaped primitives (strings, hashes, sets, counters, TTLs) over the same key layout, and
//! both pass the same conformance suite.
//!
//! TLS to Redis uses rustls with the ring provider. Cluster connections are opened by the redis
//! crate, which needs the process-wide provider: call
//! `rustls::crypto::ring::default_provider().install_default()` before `Store::connect`.

// Tests may read the clock directly; the code under test takes it as an argument.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod clock;
mod error;
pub mod keys;
mod memory;
mod redis;

#[cfg(test)]
mod conformance;

use std::collections::HashMap;
use std::time::Duration;

use nauthilus_config::RedisConfig;

use crate::redis::RedisStore;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::StoreError;
pub use keys::{DEFAULT_CACHE_NAME, KeyLayout};
pub use memory::MemoryStore;

/// Why raw commands fail in embedded mode.
const NO_REDIS: &str = "raw Redis commands need server.redis (embedded mode has no Redis)";

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// How long a key has left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// No such key.
    Missing,
    /// The key never expires.
    Persistent,
    /// The key expires after this long.
    Expires(Duration),
}

/// One read of a [`Store::read_batch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read<'a> {
    /// `GET key`: a string.
    Get(&'a str),
    /// `HGET key field`: one field of a hash.
    HashGet(&'a str, &'a str),
    /// `HGETALL key`: every field of a hash.
    HashGetAll(&'a str),
}

/// The answer to one [`Read`], in the same position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadReply {
    /// Of `Get` and `HashGet`.
    Value(Option<String>),
    /// Of `HashGetAll` (empty when there is no such key).
    Hash(HashMap<String, String>),
}

impl ReadReply {
    /// The value of a `Get` or `HashGet` (`None` for a hash reply).
    pub fn into_value(self) -> Option<String> {
        match self {
            Self::Value(v) => v,
            Self::Hash(_) => None,
        }
    }

    /// The fields of a `HashGetAll` (empty for a value reply).
    pub fn into_hash(self) -> HashMap<String, String> {
        match self {
            Self::Hash(h) => h,
            Self::Value(_) => HashMap::new(),
        }
    }
}

/// What the store can tell about itself, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreStats {
    /// `memory` or `redis`.
    pub kind: &'static str,
    /// `embedded`, `standalone`, `sentinel` or `cluster`.
    pub mode: &'static str,
    /// Connections the pool keeps (`server.redis.pool_size`; 0 in memory).
    pub pool_size: usize,
    /// Live connections now.
    pub connections: usize,
    /// Operations that found a live connection.
    pub connection_hits: u64,
    /// Operations that found none (Redis unreachable) and failed at once.
    pub connection_misses: u64,
    /// Operations that got no answer within the command timeout.
    pub timeouts: u64,
}

/// Where state lives, and the key layout it is written in.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    keys: KeyLayout,
}

#[derive(Clone, Debug)]
enum Backend {
    Memory(MemoryStore),
    Redis(RedisStore),
}

macro_rules! dispatch {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match &$self.backend {
            Backend::Memory(m) => m.$method($($arg),*),
            Backend::Redis(r) => r.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// An in-process store (embedded mode).
    pub fn memory(memory: MemoryStore, keys: KeyLayout) -> Self {
        Self {
            backend: Backend::Memory(memory),
            keys,
        }
    }

    /// A Redis store (standalone, Sentinel or Cluster, as `config.mode()` says), with keys under
    /// `config.prefix`. Returns once the first connection attempt has finished (bounded by the
    /// dial timeout plus one command timeout), whether or not Redis answered: while it is down, operations fail at once
    /// with `Unavailable` and a background task reconnects. Errors only for settings that cannot
    /// work (`StoreError::Config`), including embedded mode, which uses [`Store::memory`].
    pub async fn connect(config: &RedisConfig) -> StoreResult<Self> {
        let redis = RedisStore::connect(config).await?;
        Ok(Self {
            backend: Backend::Redis(redis),
            keys: KeyLayout::new(config.prefix.clone()),
        })
    }

    /// Checks Redis settings that can be checked without connecting (addresses, TLS files and
    /// versions), as `--config-check` does. Embedded mode has nothing to check.
    pub fn check_config(config: &RedisConfig) -> StoreResult<()> {
        if config.mode() == nauthilus_config::RedisMode::Embedded {
            return Ok(());
        }
        crate::redis::check_config(config)
    }

    /// The key layout (prefix) this store's users write in.
    pub fn keys(&self) -> &KeyLayout {
        &self.keys
    }

    /// True when `other` is the same store (a clone of it), so that reads for both can go in
    /// one [`Store::read_batch`].
    pub fn same_as(&self, other: &Store) -> bool {
        let same_backend = match (&self.backend, &other.backend) {
            (Backend::Memory(a), Backend::Memory(b)) => a.same_as(b),
            (Backend::Redis(a), Backend::Redis(b)) => a.same_as(b),
            _ => false,
        };
        same_backend && self.keys == other.keys
    }

    /// `memory` or `redis`, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match &self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// Pool counters and connection state (no I/O).
    pub fn stats(&self) -> StoreStats {
        match &self.backend {
            Backend::Memory(_) => StoreStats {
                kind: "memory",
                mode: "embedded",
                pool_size: 0,
                connections: 0,
                connection_hits: 0,
                connection_misses: 0,
                timeouts: 0,
            },
            Backend::Redis(r) => r.stats(),
        }
    }

    /// Sends one raw Redis command (for scripts); the in-process store has no Redis.
    pub async fn raw(&self, command: &::redis::Cmd) -> StoreResult<::redis::Value> {
        match &self.backend {
            Backend::Memory(_) => Err(StoreError::Unavailable(NO_REDIS.into())),
            Backend::Redis(r) => r.raw(command).await,
        }
    }

    /// Sends raw Redis commands in one round trip (for scripts).
    pub async fn raw_pipeline(&self, pipe: &::redis::Pipeline) -> StoreResult<Vec<::redis::Value>> {
        match &self.backend {
            Backend::Memory(_) => Err(StoreError::Unavailable(NO_REDIS.into())),
            Backend::Redis(r) => r.raw_pipeline(pipe).await,
        }
    }

    /// Checks that the store answers.
    pub async fn ping(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(r) => r.ping().await,
        }
    }

    /// The string at `key`.
    pub async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        dispatch!(self, get(key))
    }

    /// The strings at several keys, in order, in one round trip where the store allows it (a
    /// Cluster sends one command per key, concurrently). A key holding another type is an error.
    pub async fn get_many(&self, keys: &[&str]) -> StoreResult<Vec<Option<String>>> {
        dispatch!(self, get_many(keys))
    }

    /// Several reads of any kind, answered in order, in one round trip on a single server
    /// (standalone, Sentinel); a Cluster sends one command per key, all in flight at once (the
    /// keys may live on different nodes). A key holding another type is an error, as for the
    /// single reads.
    pub async fn read_batch(&self, reads: &[Read<'_>]) -> StoreResult<Vec<ReadReply>> {
        if reads.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, read_batch(reads))
    }

    /// Sets a string, replacing any value and TTL.
    pub async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> StoreResult<()> {
        dispatch!(self, set(key, value, ttl))
    }

    /// Sets a string only if the key does not exist; true if it was set.
    pub async fn set_nx(&self, key: &str, value: &str, ttl: Option<Duration>) -> StoreResult<bool> {
        dispatch!(self, set_nx(key, value, ttl))
    }

    /// Reads and deletes a string in one step (one-time values such as authorisation codes).
    pub async fn get_del(&self, key: &str) -> StoreResult<Option<String>> {
        dispatch!(self, get_del(key))
    }

    /// Deletes a key of any type; true if it existed.
    pub async fn delete(&self, key: &str) -> StoreResult<bool> {
        dispatch!(self, delete(key))
    }

    /// True if the key exists.
    pub async fn exists(&self, key: &str) -> StoreResult<bool> {
        dispatch!(self, exists(key))
    }

    /// How long the key has left.
    pub async fn ttl(&self, key: &str) -> StoreResult<Ttl> {
        dispatch!(self, ttl(key))
    }

    /// Sets a key's TTL; false if there is no such key.
    pub async fn expire(&self, key: &str, ttl: Duration) -> StoreResult<bool> {
        dispatch!(self, expire(key, ttl))
    }

    /// Every field of a hash (empty if the key does not exist).
    pub async fn hash_get_all(&self, key: &str) -> StoreResult<HashMap<String, String>> {
        dispatch!(self, hash_get_all(key))
    }

    /// One field of a hash.
    pub async fn hash_get(&self, key: &str, field: &str) -> StoreResult<Option<String>> {
        dispatch!(self, hash_get(key, field))
    }

    /// Sets fields of a hash, keeping its other fields and its TTL.
    pub async fn hash_set(&self, key: &str, fields: &[(&str, &str)]) -> StoreResult<()> {
        dispatch!(self, hash_set(key, fields))
    }

    /// Replaces a whole hash and sets its TTL, atomically: readers see the old or the new hash.
    pub async fn hash_replace(
        &self,
        key: &str,
        fields: &[(&str, &str)],
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        dispatch!(self, hash_replace(key, fields, ttl))
    }

    /// Deletes fields of a hash; returns how many existed.
    pub async fn hash_delete(&self, key: &str, fields: &[&str]) -> StoreResult<u64> {
        dispatch!(self, hash_delete(key, fields))
    }

    /// The fields of a hash whose names start with `prefix` (taken literally, not as a pattern).
    pub async fn hash_fields_with_prefix(
        &self,
        key: &str,
        prefix: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        dispatch!(self, hash_fields_with_prefix(key, prefix))
    }

    /// Adds `by` to an integer string, creating it (with `ttl_if_created`) if missing.
    pub async fn incr(&self, key: &str, by: i64, ttl_if_created: Option<Duration>) -> StoreResult<i64> {
        dispatch!(self, incr(key, by, ttl_if_created))
    }

    /// Subtracts one from an integer string if it is above zero, atomically; returns the value
    /// after (0 for a missing key). Never creates a key, never goes below zero, keeps the TTL:
    /// the undo of an [`Store::incr`] that may race with the key expiring (brute-force
    /// reservations released after the verdict).
    pub async fn decr_if_positive(&self, key: &str) -> StoreResult<i64> {
        dispatch!(self, decr_if_positive(key))
    }

    /// Adds members to a set; with a TTL, (re)sets the set's TTL. Returns how many were new.
    pub async fn set_add(&self, key: &str, members: &[&str], ttl: Option<Duration>) -> StoreResult<u64> {
        dispatch!(self, set_add(key, members, ttl))
    }

    /// The members of a set (empty if the key does not exist).
    pub async fn set_members(&self, key: &str) -> StoreResult<Vec<String>> {
        dispatch!(self, set_members(key))
    }

    /// Removes members from a set; returns how many were present.
    pub async fn set_remove(&self, key: &str, members: &[&str]) -> StoreResult<u64> {
        dispatch!(self, set_remove(key, members))
    }
}

#[cfg(test)]
mod memory_conformance {
    use std::sync::Arc;

    use super::*;

    fn store() -> (Store, ManualClock) {
        let clock = ManualClock::new();
        (
            Store::memory(
                MemoryStore::with_clock(Arc::new(clock.clone())),
                KeyLayout::new("t:"),
            ),
            clock,
        )
    }

    #[tokio::test]
    async fn memory_store_passes_the_conformance_suite() {
        let (s, _) = store();
        conformance::run_all(&s, "c:").await;
    }

    #[tokio::test]
    async fn memory_store_expires_keys_when_time_passes() {
        let (s, clock) = store();
        s.set("k", "v", Some(Duration::from_secs(10))).await.unwrap();
        s.hash_replace("h", &[("a", "1")], Some(Duration::from_secs(5)))
            .await
            .unwrap();
        s.incr("n", 1, Some(Duration::from_secs(5))).await.unwrap();
        clock.advance(Duration::from_secs(5));
        assert_eq!(s.get("k").await.unwrap().as_deref(), Some("v"));
        assert!(s.hash_get_all("h").await.unwrap().is_empty());
        assert_eq!(
            s.incr("n", 1, Some(Duration::from_secs(5))).await.unwrap(),
            1,
            "expired counter restarts"
        );
        assert_eq!(s.ttl("k").await.unwrap(), Ttl::Expires(Duration::from_secs(5)));
        clock.advance(Duration::from_secs(5));
        assert_eq!(s.get("k").await.unwrap(), None);
        assert_eq!(s.ttl("k").await.unwrap(), Ttl::Missing);
    }

    #[tokio::test]
    async fn expired_keys_are_swept_from_memory() {
        let (s, clock) = store();
        for i in 0..2000 {
            s.set(&format!("k{i}"), "v", Some(Duration::from_secs(1)))
                .await
                .unwrap();
        }
        clock.advance(Duration::from_secs(2));
        for i in 0..1100 {
            s.set(&format!("live{i}"), "v", None).await.unwrap();
        }
        let Backend::Memory(m) = &s.backend else {
            panic!("not the memory store")
        };
        assert!(m.len() <= 1100 + 1024, "expired keys were not swept: {}", m.len());
    }
}
