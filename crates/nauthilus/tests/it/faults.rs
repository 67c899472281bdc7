//! Fault injection under load: while concurrent logins run (right password, wrong passwords,
//! unknown users), the store (a private redis-server) or the directory (a private slapd) is
//! killed like a crash and started again on the same port. Every answer must be right or a
//! temporary failure (never OK for a wrong password or an unknown user), the server must recover
//! without a restart, and brute-force state must survive as far as the store kept it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nauthilus_testkit::{RedisServer, Reply, Slapd};
use serde_json::json;

use crate::ldap::{imap_search, pool};
use crate::support::{TestServer, header};

const NONCE: &str = "it-nonce-0123456789abcdef";
/// Five failures from one /24 ban it (distinct passwords: a repeated one does not count).
const RULES: &str = "brute_force:\n  buckets:\n    - {name: b24, period: 1h, cidr: 24, ipv4: true, failed_requests: 5, ban_time: 1h}\n";
/// The network banned before the fault; its ban must outlive the fault when the store keeps it.
const BANNED_IP: &str = "203.0.113.9";
/// Upper bound on the logins one worker sends, whatever happens.
const MAX_PER_WORKER: usize = 2_000;
const WORKERS: usize = 6;
/// How long recovery may take before the test fails (not a timing assertion: a deadline).
const RECOVERY: Duration = Duration::from_secs(15);

/// The kinds of login the load mixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Right,
    WrongPassword,
    UnknownUser,
}

/// What the load saw, per kind and status.
#[derive(Default)]
struct Tally {
    counts: std::sync::Mutex<BTreeMap<(Kind, u16), usize>>,
    temporary: AtomicUsize,
    bad: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, kind: Kind, status: u16, auth_status: &str) {
        let allowed = match kind {
            Kind::Right => matches!(status, 200 | 500),
            Kind::WrongPassword | Kind::UnknownUser => matches!(status, 403 | 500),
        };
        let said_ok = auth_status == "OK";
        if !allowed || (kind != Kind::Right && said_ok) || (status == 500 && said_ok) {
            self.bad
                .lock()
                .unwrap()
                .push(format!("{kind:?}: {status} Auth-Status {auth_status:?}"));
        }
        if status == 500 {
            self.temporary.fetch_add(1, Ordering::SeqCst);
        }
        *self.counts.lock().unwrap().entry((kind, status)).or_default() += 1;
    }
}

/// The logins one fault test sends: who, with which password.
struct Logins {
    right: (&'static str, &'static str),
    unknown: &'static str,
}

async fn send(s: &TestServer, user: &str, password: &str, ip: &str) -> (u16, String) {
    let r = s
        .json(
            "",
            json!({"username": user, "password": password, "client_ip": ip, "protocol": "imap"}),
        )
        .await;
    (r.status().as_u16(), header(&r, "auth-status").to_owned())
}

/// Runs `WORKERS` login loops until `stop` (or `MAX_PER_WORKER` each). Right logins come from
/// their own networks (never banned), wrong ones from 192.0.2.0/24 (banned early, still 403).
fn start_load(
    s: &Arc<TestServer>,
    logins: &'static Logins,
    stop: &Arc<AtomicBool>,
    tally: &Arc<Tally>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..WORKERS)
        .map(|worker| {
            let (s, stop, tally) = (s.clone(), stop.clone(), tally.clone());
            tokio::spawn(async move {
                for i in 0..MAX_PER_WORKER {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let kind = [Kind::Right, Kind::WrongPassword, Kind::UnknownUser][(worker + i) % 3];
                    let guess = format!("guess-{worker}-{i}");
                    let (user, password, ip) = match kind {
                        Kind::Right => (
                            logins.right.0,
                            logins.right.1,
                            format!("198.51.{worker}.{}", i % 250 + 1),
                        ),
                        Kind::WrongPassword => {
                            (logins.right.0, guess.as_str(), format!("192.0.2.{}", i % 250 + 1))
                        }
                        Kind::UnknownUser => (
                            logins.unknown,
                            guess.as_str(),
                            format!("100.64.{worker}.{}", i % 250 + 1),
                        ),
                    };
                    let (status, auth_status) = send(&s, user, password, &ip).await;
                    tally.record(kind, status, &auth_status);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect()
}

/// Waits until `done` holds, failing after `RECOVERY`.
async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + RECOVERY;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {RECOVERY:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Bans `BANNED_IP`'s network with five distinct wrong passwords and checks that the right
/// password is refused from there.
async fn ban_network(s: &TestServer, logins: &Logins) {
    for i in 0..5 {
        let (status, _) = send(s, logins.right.0, &format!("ban-{i}"), BANNED_IP).await;
        assert_eq!(status, 403);
    }
    assert_banned(s, logins).await;
}

async fn assert_banned(s: &TestServer, logins: &Logins) {
    let (status, auth_status) = send(s, logins.right.0, logins.right.1, BANNED_IP).await;
    assert_eq!(
        (status, auth_status.as_str()),
        (403, "Invalid login or password"),
        "still banned"
    );
}

/// Runs the load, calls `fault` (kill and restart) in the middle, waits for recovery and
/// returns what the load saw.
async fn under_load(
    s: Arc<TestServer>,
    logins: &'static Logins,
    kill: impl FnOnce() + Send + 'static,
    restart: impl FnOnce() + Send + 'static,
) -> Arc<Tally> {
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let workers = start_load(&s, logins, &stop, &tally);
    let settled = |t: &Tally| {
        t.counts
            .lock()
            .unwrap()
            .get(&(Kind::Right, 200))
            .copied()
            .unwrap_or(0)
    };
    wait_for("logins before the fault", async || settled(&tally) >= 10).await;

    tokio::task::spawn_blocking(kill).await.unwrap();
    wait_for("a temporary failure while the service is down", async || {
        tally.temporary.load(Ordering::SeqCst) > 0
    })
    .await;
    tokio::task::spawn_blocking(restart).await.unwrap();

    // Recovery without restarting our server: right logins work again, wrong ones are refused.
    wait_for("right logins after the restart", async || {
        send(&s, logins.right.0, logins.right.1, "198.51.200.1").await.0 == 200
    })
    .await;
    let before = settled(&tally);
    wait_for("right logins under load after the restart", async || {
        settled(&tally) >= before + 10
    })
    .await;
    let (status, _) = send(&s, logins.right.0, "after-restart", "198.51.201.1").await;
    assert_eq!(status, 403, "a wrong password after recovery");
    let (status, _) = send(&s, logins.unknown, "after-restart", "198.51.201.1").await;
    assert_eq!(status, 403, "an unknown user after recovery");

    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    let bad = tally.bad.lock().unwrap();
    assert!(
        bad.is_empty(),
        "answers that are neither right nor temporary: {bad:?}"
    );
    drop(bad);
    eprintln!("answers (kind, status) -> count: {}", summary(&tally));
    tally
}

fn summary(tally: &Tally) -> String {
    format!("{:?}", tally.counts.lock().unwrap())
}

static PASSWD_LOGINS: Logins = Logins {
    right: ("alice@example.test", "alice-secret"),
    unknown: "nobody@example.test",
};

static LDAP_LOGINS: Logins = Logins {
    right: ("alice", "alice-secret"),
    unknown: "nobody",
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_and_restarting_redis_under_load_never_lets_a_wrong_login_in_and_recovers() {
    // Every write reaches the append-only file before Redis answers: a SIGKILL loses nothing,
    // so neither may we.
    let redis = Arc::new(
        RedisServer::builder()
            .config_line("appendonly yes")
            .config_line("appendfsync always")
            .start()
            .unwrap(),
    );
    let prefix = "itfault:";
    let store = format!(
        "features: [brute_force]\nredis:\n  master: {{address: \"{}\"}}\n  prefix: \"{prefix}\"\n  password_nonce: {NONCE}\n  positive_cache_ttl: 1h",
        redis.addr()
    );
    let s = Arc::new(TestServer::with_config(&store, &format!("local_cache_auth_ttl: 0\n{RULES}")).await);
    ban_network(&s, &PASSWD_LOGINS).await;
    let ban_key = format!("{prefix}bf:ban:203.0.113.0/24");
    assert_eq!(redis.command(&["EXISTS", &ban_key]).unwrap(), Reply::Integer(1));

    let (killed, restarted) = (redis.clone(), redis.clone());
    let tally = under_load(
        s.clone(),
        &PASSWD_LOGINS,
        move || killed.stop().unwrap(),
        move || restarted.start_again().unwrap(),
    )
    .await;

    // The ban was in the append-only file: Redis kept it, and so does the server.
    assert_eq!(redis.command(&["EXISTS", &ban_key]).unwrap(), Reply::Integer(1));
    assert_banned(&s, &PASSWD_LOGINS).await;
    // Counting goes on after the restart: a fresh network is banned after five failures.
    for i in 0..5 {
        assert_eq!(
            send(&s, "alice@example.test", &format!("again-{i}"), "203.0.114.1")
                .await
                .0,
            403
        );
    }
    let (status, _) = send(&s, "alice@example.test", "alice-secret", "203.0.114.2").await;
    assert_eq!(status, 403, "banned after the restart: {}", summary(&tally));
    let fresh_ban = format!("{prefix}bf:ban:203.0.114.0/24");
    assert_eq!(redis.command(&["EXISTS", &fresh_ban]).unwrap(), Reply::Integer(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_and_restarting_slapd_under_load_never_lets_a_wrong_login_in_and_recovers() {
    let slapd = Arc::new(Slapd::builder().tls(false).start().unwrap());
    // Brute-force state in process: the directory going away must not touch it.
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [ldap]\n  features: [brute_force]\n  log: {{level: error}}\nlocal_cache_auth_ttl: 0\n{RULES}ldap:\n  config:\n{}  search:\n{}",
        pool(
            &[slapd.url()],
            "    cb_failure_threshold: 2\n    cb_cooldown: 1h\n    health_check_interval: 100ms\n"
        ),
        imap_search()
    );
    let s = Arc::new(TestServer::from_yaml(tempfile::tempdir().unwrap(), &yaml).await);
    ban_network(&s, &LDAP_LOGINS).await;

    let (killed, restarted) = (slapd.clone(), slapd.clone());
    let tally = under_load(
        s.clone(),
        &LDAP_LOGINS,
        move || killed.stop().unwrap(),
        move || restarted.start_again().unwrap(),
    )
    .await;

    assert_banned(&s, &LDAP_LOGINS).await;
    let (status, _) = send(&s, "bob", "bob-secret", "198.51.202.1").await;
    assert_eq!(status, 200, "another user after recovery: {}", summary(&tally));
}
