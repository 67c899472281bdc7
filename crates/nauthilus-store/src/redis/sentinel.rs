//! Sentinel mode: finding the master through the sentinels, and following failovers.
//!
//! Every (re)connect asks the sentinels for the current master and checks with ROLE that it is
//! one. A watcher task subscribes to `+switch-master` on a sentinel (as go-redis does) and, when
//! our master moves, takes every pooled connection out of service so the pool reconnects to the
//! new master at once, instead of writing to a demoted master until Sentinel disconnects us.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use futures::StreamExt;
use futures::future::join_all;
use redis::aio::{MultiplexedConnection, PubSub, PubSubSink, PubSubStream};
use redis::{RedisConnectionInfo, Value};
use tokio::sync::watch;
use tokio::time::timeout;

use super::connect::{Conn, Connector, Endpoint, list};
use super::pool::{MAX_BACKOFF, MIN_BACKOFF, Pool, jitter};

/// How often the watcher checks that its sentinel link is alive.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// The channel on which sentinels announce a new master.
const SWITCH_MASTER: &str = "+switch-master";

/// The sentinels, the master's name, and the credentials for each.
pub(crate) struct SentinelTarget {
    master_name: String,
    sentinels: Vec<Endpoint>,
    sentinel_auth: RedisConnectionInfo,
    master_auth: RedisConnectionInfo,
    /// The sentinel that answered last; asked first next time.
    preferred: AtomicUsize,
    /// The master the pool's connections were last opened to.
    current: Mutex<Option<Endpoint>>,
}

impl SentinelTarget {
    pub(super) fn new(
        master_name: String,
        sentinels: Vec<Endpoint>,
        sentinel_auth: RedisConnectionInfo,
        master_auth: RedisConnectionInfo,
    ) -> Self {
        Self {
            master_name,
            sentinels,
            sentinel_auth,
            master_auth,
            preferred: AtomicUsize::new(0),
            current: Mutex::new(None),
        }
    }

    /// Resolves the master once, then opens `count` connections to it.
    pub(super) async fn open_master(&self, connector: &Connector, count: usize) -> Vec<Result<Conn, String>> {
        let master = match self.resolve(connector).await {
            Ok(master) => master,
            Err(e) => return (0..count).map(|_| Err(e.clone())).collect(),
        };
        *self.lock_current() = Some(master.clone());
        join_all((0..count).map(|_| async {
            let conn = connector.open_single(&master, &self.master_auth).await?;
            check_is_master(connector, &master, conn).await.map(Conn::Single)
        }))
        .await
    }

    /// Asks the sentinels, the last one that answered first, for the master's address.
    async fn resolve(&self, connector: &Connector) -> Result<Endpoint, String> {
        let mut failures = Vec::new();
        for sentinel in self.in_preferred_order() {
            match self.ask(connector, sentinel).await {
                Ok(master) => return Ok(master),
                Err(e) => failures.push(e),
            }
        }
        Err(format!(
            "no sentinel named master {:?}: {}",
            self.master_name,
            failures.join("; ")
        ))
    }

    async fn ask(&self, connector: &Connector, sentinel: &Endpoint) -> Result<Endpoint, String> {
        let mut conn = connector.open_single(sentinel, &self.sentinel_auth).await?;
        let mut ask = redis::cmd("SENTINEL");
        ask.arg("get-master-addr-by-name").arg(&self.master_name);
        let step = "SENTINEL get-master-addr-by-name";
        let reply: Option<(String, u16)> = connector
            .bounded(
                connector.command_timeout(),
                sentinel,
                step,
                ask.query_async(&mut conn),
            )
            .await?;
        match reply {
            Some((host, port)) => {
                self.prefer(sentinel);
                Ok(Endpoint { host, port })
            }
            None => Err(format!("{sentinel}: does not know master {:?}", self.master_name)),
        }
    }

    /// A subscription to `+switch-master` on the first sentinel that accepts one.
    async fn subscribe(&self, connector: &Connector) -> Result<(PubSubSink, PubSubStream), String> {
        let limit = connector.command_timeout();
        let mut failures = Vec::new();
        for sentinel in self.in_preferred_order() {
            let subscribed = async {
                let stream = connector.open_stream(sentinel).await?;
                let pubsub = connector.bounded(
                    limit,
                    sentinel,
                    "handshake",
                    PubSub::new(&self.sentinel_auth, stream),
                );
                let (mut sink, messages) = pubsub.await?.split();
                connector
                    .bounded(limit, sentinel, "SUBSCRIBE", sink.subscribe(SWITCH_MASTER))
                    .await?;
                Ok::<_, String>((sink, messages))
            };
            match subscribed.await {
                Ok(subscription) => {
                    self.prefer(sentinel);
                    return Ok(subscription);
                }
                Err(e) => failures.push(e),
            }
        }
        Err(failures.join("; "))
    }

    /// True if a `+switch-master` payload (`<name> <old ip> <old port> <new ip> <new port>`) is
    /// about our master.
    fn names_our_master(&self, payload: &str) -> bool {
        payload.split(' ').next() == Some(self.master_name.as_str())
    }

    fn in_preferred_order(&self) -> impl Iterator<Item = &Endpoint> {
        let first = self.preferred.load(Ordering::Relaxed);
        self.sentinels
            .iter()
            .cycle()
            .skip(first % self.sentinels.len().max(1))
            .take(self.sentinels.len())
    }

    fn prefer(&self, sentinel: &Endpoint) {
        if let Some(index) = self.sentinels.iter().position(|s| s == sentinel) {
            self.preferred.store(index, Ordering::Relaxed);
        }
    }

    fn lock_current(&self) -> std::sync::MutexGuard<'_, Option<Endpoint>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for SentinelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the auth fields: they hold passwords.
        f.debug_struct("SentinelTarget")
            .field("master_name", &self.master_name)
            .field("sentinels", &list(&self.sentinels))
            .finish()
    }
}

/// Sentinels can lag behind a failover; a connection to a replica would fail every write.
async fn check_is_master(
    connector: &Connector,
    to: &Endpoint,
    mut conn: MultiplexedConnection,
) -> Result<MultiplexedConnection, String> {
    let limit = connector.command_timeout();
    match timeout(limit, redis::cmd("ROLE").query_async::<Vec<Value>>(&mut conn)).await {
        Ok(Ok(reply)) => match reply.first() {
            Some(Value::BulkString(role)) if role.as_slice() == b"master" => Ok(conn),
            _ => Err(format!("{to}: the sentinels' master is not a master (yet)")),
        },
        // A user without the ROLE command cannot check; trust the sentinels.
        Ok(Err(e)) if e.code() == Some("NOPERM") => Ok(conn),
        Ok(Err(e)) => Err(format!("{to}: ROLE: {e}")),
        Err(_) => Err(format!("{to}: ROLE: no answer within {limit:?}")),
    }
}

/// Follows `+switch-master` until the pool is dropped (`closed` then reports an error).
/// After each (re)subscription it also compares the master the sentinels name now with the one
/// the pool uses, in case a switch happened while no sentinel was listened to.
pub(super) async fn follow_failovers(pool: Weak<Pool>, mut closed: watch::Receiver<()>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let Some(strong) = pool.upgrade() else { return };
        let Some(sentinel) = strong.connector().sentinel() else {
            return;
        };
        let subscribed = sentinel.subscribe(strong.connector()).await;
        if subscribed.is_ok() {
            let now = sentinel.resolve(strong.connector()).await.ok();
            let used = sentinel.lock_current().clone();
            if now.is_some() && used.is_some() && now != used {
                tracing::info!(master = ?now.map(|m| m.to_string()), "redis sentinel named a new master; reconnecting");
                strong.replace_all();
            }
        }
        drop(strong);
        let Ok((mut sink, mut messages)) = subscribed else {
            tokio::select! {
                _ = closed.changed() => return,
                () = tokio::time::sleep(jitter(backoff)) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        };
        backoff = MIN_BACKOFF;
        loop {
            tokio::select! {
                _ = closed.changed() => return,
                message = messages.next() => {
                    // `None`: the sentinel link is gone; subscribe again (to another one if need be).
                    let Some(message) = message else { break };
                    let payload: String = message.get_payload().unwrap_or_default();
                    let Some(pool) = pool.upgrade() else { return };
                    if pool.connector().sentinel().is_some_and(|s| s.names_our_master(&payload)) {
                        tracing::info!(switch = %payload, "redis sentinel failover; reconnecting to the new master");
                        pool.replace_all();
                    }
                }
                () = tokio::time::sleep(HEARTBEAT) => {
                    let Some(limit) = pool.upgrade().map(|p| p.connector().command_timeout()) else { return };
                    if !matches!(timeout(limit, sink.ping::<Value>()).await, Ok(Ok(_))) {
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(sentinels: &[&str]) -> SentinelTarget {
        let sentinels = sentinels
            .iter()
            .map(|s| Endpoint::parse("k", s).unwrap())
            .collect();
        SentinelTarget::new(
            "mymaster".into(),
            sentinels,
            RedisConnectionInfo::default(),
            RedisConnectionInfo::default(),
        )
    }

    #[test]
    fn switch_master_messages_are_matched_by_master_name() {
        let t = target(&["127.0.0.1:26379"]);
        assert!(t.names_our_master("mymaster 127.0.0.1 6379 127.0.0.1 6380"));
        assert!(!t.names_our_master("mymaster2 127.0.0.1 6379 127.0.0.1 6380"));
        assert!(!t.names_our_master(""));
    }

    #[test]
    fn the_sentinel_that_answered_last_is_asked_first() {
        let t = target(&["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]);
        let order = |t: &SentinelTarget| t.in_preferred_order().map(|e| e.port).collect::<Vec<_>>();
        assert_eq!(order(&t), [1, 2, 3]);
        t.prefer(&Endpoint::parse("k", "127.0.0.1:3").unwrap());
        assert_eq!(order(&t), [3, 1, 2]);
    }
}
