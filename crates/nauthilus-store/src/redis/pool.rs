//! The connection pool: `pool_size` slots used round-robin, each holding a live connection or
//! nothing, and one background task that refills empty slots with backoff.
//!
//! Requests never connect. A request takes the next live connection; if there is none, Redis is
//! known to be down and the request fails at once with `Unavailable`, while the background task
//! keeps trying (so the server starts with Redis down and recovers without a restart). A
//! connection that fails is emptied out of its slot (if the server went away: with every
//! connection that existed when the operation started, since they share the server's fate) and
//! the task reconnects; in Sentinel mode every reconnect asks the sentinels for the master.
//! Cluster connections follow the topology and reconnect to nodes themselves, so in Cluster mode
//! a slot is only refilled when its first connection attempt failed.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::connect::{Conn, Connector};
use super::sentinel;
use crate::StoreError;

/// First pause after a failed reconnect; doubles up to [`MAX_BACKOFF`].
pub(super) const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between reconnect attempts: how long recovery may lag behind Redis.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A connection taken from the pool for one operation.
pub(crate) struct Lease {
    slot: usize,
    id: u64,
    /// Connections with smaller ids existed when the operation started.
    older_than: u64,
    pub(crate) conn: Conn,
}

/// What a failed operation says about its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Damage {
    /// The connection may be stuck (no answer in time): replace it.
    Connection,
    /// The server went away or changed role: replace every connection that existed when the
    /// operation started (they all lead to that server); newer ones were made after the event.
    Server,
}

/// A live connection and its id (ids grow, so they order connections by age), or nothing.
type Slot = RwLock<Option<(u64, Conn)>>;

#[derive(Debug, Default)]
struct Health {
    down: bool,
    last_error: String,
}

/// Slots of live connections, refilled in the background.
pub(crate) struct Pool {
    connector: Connector,
    slots: Box<[Slot]>,
    next_slot: AtomicUsize,
    next_id: AtomicU64,
    health: Mutex<Health>,
    /// Operations that found a live connection / found none (for metrics).
    hits: AtomicU64,
    misses: AtomicU64,
    /// Wakes the refill task; dropping the pool closes it, which ends the task.
    wake: mpsc::Sender<()>,
    /// Dropped with the pool, which tells the Sentinel watcher to stop.
    _closed: watch::Sender<()>,
}

impl Pool {
    /// Makes one attempt to fill every slot (bounded by the dial timeout plus one command
    /// timeout, even when several sentinels do not answer), then leaves the rest to a
    /// background task. Succeeds whether or not Redis answered.
    pub(crate) async fn start(connector: Connector, size: usize) -> Arc<Self> {
        let (wake, woken) = mpsc::channel(1);
        let (closed, watch_closed) = watch::channel(());
        let pool = Arc::new(Self {
            connector,
            slots: (0..size.max(1)).map(|_| RwLock::new(None)).collect(),
            next_slot: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            health: Mutex::new(Health::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            wake,
            _closed: closed,
        });
        let limit = pool.connector.connect_timeout();
        if tokio::time::timeout(limit, pool.refill()).await.is_err() {
            tracing::warn!(
                mode = pool.connector.mode(),
                "redis did not answer within {limit:?} at startup; answering temporary failures and \
                 reconnecting in the background"
            );
            let mut health = pool.lock_health();
            health.down = true;
            health.last_error = format!("no answer within {limit:?} at startup");
        }
        tokio::spawn(refill_task(Arc::downgrade(&pool), woken));
        if pool.connector.sentinel().is_some() {
            tokio::spawn(sentinel::follow_failovers(Arc::downgrade(&pool), watch_closed));
        }
        pool
    }

    /// (slots, live connections, operations that found a connection, operations that found none).
    pub(crate) fn counts(&self) -> (usize, usize, u64, u64) {
        let live = self.slots.iter().filter(|s| read(s).is_some()).count();
        (
            self.slots.len(),
            live,
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn connector(&self) -> &Connector {
        &self.connector
    }

    /// The next live connection, or `Unavailable` at once if there is none.
    pub(crate) fn lease(&self) -> Result<Lease, StoreError> {
        let older_than = self.next_id.load(Ordering::Relaxed);
        let n = self.slots.len();
        let start = self.next_slot.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let slot = (start.wrapping_add(i)) % n;
            if let Some((id, conn)) = self.slots.get(slot).and_then(|s| read(s).clone()) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Lease {
                    slot,
                    id,
                    older_than,
                    conn,
                });
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let _ = self.wake.try_send(());
        let health = self.lock_health();
        let why = if health.last_error.is_empty() {
            String::new()
        } else {
            format!(": {}", health.last_error)
        };
        Err(StoreError::Unavailable(format!(
            "redis {} is unreachable, reconnecting in the background{why}",
            self.connector.mode()
        )))
    }

    /// Takes the leased connection (for `Damage::Server` every one as old) out of service.
    /// Cluster connections are left alone: they reconnect to each node by themselves, and
    /// replacing one because a single node failed would drop the links to the healthy ones.
    pub(crate) fn damaged(&self, lease: &Lease, damage: Damage) {
        if !self.connector.single_server() {
            return;
        }
        for (index, slot) in self.slots.iter().enumerate() {
            let mut slot = write(slot);
            let hit = match &*slot {
                Some((id, _)) if index == lease.slot => *id == lease.id,
                Some((id, _)) => damage == Damage::Server && *id < lease.older_than,
                None => false,
            };
            if hit {
                *slot = None;
            }
        }
        let _ = self.wake.try_send(());
    }

    /// Takes every connection out of service (the master moved); the refill task reconnects.
    pub(crate) fn replace_all(&self) {
        for slot in &self.slots {
            *write(slot) = None;
        }
        let _ = self.wake.try_send(());
    }

    /// Opens connections for the empty slots; `Err` if any of them could not be filled.
    async fn refill(&self) -> Result<(), ()> {
        let empty: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| read(s).is_none())
            .map(|(i, _)| i)
            .collect();
        if empty.is_empty() {
            return Ok(());
        }
        let opened = self.connector.open(empty.len()).await;
        let mut first_error = None;
        for (index, result) in empty.into_iter().zip(opened) {
            match result {
                Ok(conn) => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    if let Some(slot) = self.slots.get(index) {
                        *write(slot) = Some((id, conn));
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let mut health = self.lock_health();
        match first_error {
            None => {
                if health.down {
                    tracing::info!(mode = self.connector.mode(), "redis is reachable again");
                }
                *health = Health::default();
                Ok(())
            }
            Some(error) => {
                if health.down {
                    tracing::debug!(mode = self.connector.mode(), %error, "redis still unreachable");
                } else {
                    tracing::warn!(
                        mode = self.connector.mode(),
                        %error,
                        "redis unreachable; answering temporary failures and reconnecting in the background"
                    );
                }
                health.down = true;
                health.last_error = error;
                Err(())
            }
        }
    }

    fn lock_health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Refills empty slots until the pool is dropped; waits for a wake-up while all are live.
async fn refill_task(pool: Weak<Pool>, mut woken: mpsc::Receiver<()>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let Some(strong) = pool.upgrade() else { return };
        let all_live = strong.slots.iter().all(|s| read(s).is_some());
        if all_live {
            drop(strong);
            backoff = MIN_BACKOFF;
            if woken.recv().await.is_none() {
                return;
            }
            continue;
        }
        let refilled = strong.refill().await;
        drop(strong);
        if refilled.is_err() {
            tokio::time::sleep(jitter(backoff)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Between half and all of `pause`, so many instances do not reconnect in step.
pub(super) fn jitter(pause: Duration) -> Duration {
    let random = RandomState::new().hash_one(pause.as_nanos());
    let half = pause / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_nanos(random % nanos)
}

// A poisoned slot lock only means a panic elsewhere; the slot's value is still whole.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all_of_the_pause() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(200));
            assert!(
                j >= Duration::from_millis(100) && j < Duration::from_millis(200),
                "{j:?}"
            );
        }
    }
}
