//! Brute-force behaviour over the in-process store, with time moved by hand (store TTLs and the
//! `now` the service is given advance together).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nauthilus_store::{KeyLayout, ManualClock, MemoryStore, Store};

use super::*;
use crate::password::Password;
use crate::request::{Protocol, Service};
use crate::session::SessionId;

pub(crate) struct Time {
    clock: ManualClock,
    start: SystemTime,
    elapsed: std::sync::Mutex<Duration>,
}

impl Time {
    pub(crate) fn new() -> Self {
        Self {
            clock: ManualClock::new(),
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            elapsed: std::sync::Mutex::new(Duration::ZERO),
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.start + *self.elapsed.lock().unwrap()
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.clock.advance(by);
        *self.elapsed.lock().unwrap() += by;
    }

    pub(crate) fn store(&self) -> Store {
        Store::memory(
            MemoryStore::with_clock(Arc::new(self.clock.clone())),
            KeyLayout::new("nauthilus:"),
        )
    }
}

pub(crate) fn config(brute_force_yaml: &str) -> Config {
    let yaml = format!(
        "server:\n  backends: [passwd_file]\n  features: [brute_force]\npasswd_file: {{path: /u}}\nbrute_force:\n{brute_force_yaml}"
    );
    nauthilus_config::load_str(&yaml, Path::new("/"), Vec::new())
        .unwrap_or_else(|e| panic!("{:?}", e.errors))
        .0
}

fn service(yaml: &str, time: &Time) -> BruteForce {
    BruteForce::from_config(
        &config(yaml),
        time.store(),
        PasswordDigester::new("0123456789abcdef"),
    )
    .unwrap()
}

fn request(ip: &str, user: &str, password: &str, protocol: &str) -> AuthRequest {
    let mut r = AuthRequest::new(
        SessionId::new(SystemTime::now()),
        Service::Json,
        user.into(),
        Password::new(password.as_bytes().to_vec()),
    );
    r.client.ip = ip.into();
    r.protocol = Protocol::new(protocol);
    r
}

const ONE_RULE: &str =
    "  buckets: [{name: r24, period: 1h, cidr: 24, ipv4: true, failed_requests: 3, ban_time: 10m}]\n";

async fn fail_n(bf: &BruteForce, time: &Time, ip: &str, n: usize) -> FailureRecord {
    static GUESS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut last = FailureRecord::default();
    for _ in 0..n {
        let i = GUESS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        last = bf
            .record_failure(
                &request(ip, "alice", &format!("guess{i}"), "imap"),
                "alice",
                time.now(),
            )
            .await
            .unwrap();
    }
    last
}

async fn fail_with(bf: &BruteForce, time: &Time, user: &str, password: &str) -> FailureRecord {
    bf.record_failure(&request("192.0.2.1", user, password, "imap"), user, time.now())
        .await
        .unwrap()
}

async fn banned(bf: &BruteForce, ip: &str, protocol: &str) -> Option<String> {
    bf.check(&request(ip, "alice", "x", protocol))
        .await
        .unwrap()
        .map(|b| b.rule)
}

/// `n` successful logins of `ip`, each with its own account (what tolerations count).
async fn succeed_as_distinct_accounts(bf: &BruteForce, time: &Time, ip: &str, n: usize) {
    for i in 0..n {
        let account = format!("user{i}");
        bf.record_success(&request(ip, &account, "ok", "imap"), &account, time.now())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn reaching_failed_requests_bans_the_network() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    assert!(fail_n(&bf, &time, "192.0.2.10", 2).await.banned.is_none());
    assert_eq!(banned(&bf, "192.0.2.10", "imap").await, None);
    let record = fail_n(&bf, &time, "192.0.2.10", 1).await;
    assert_eq!(
        record.banned,
        Some(Ban {
            rule: "r24".into(),
            scope: "192.0.2.0/24".into()
        })
    );
    assert_eq!(
        banned(&bf, "192.0.2.99", "smtp").await.as_deref(),
        Some("r24"),
        "the whole /24"
    );
    assert_eq!(banned(&bf, "192.0.3.1", "imap").await, None, "not the next /24");
    assert_eq!(bf.stats().bans, 1);
    assert_eq!(bf.stats().rule_bans, [("r24".to_owned(), 1)]);
}

#[tokio::test]
async fn failures_outside_the_period_are_forgotten() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    fail_n(&bf, &time, "192.0.2.10", 2).await;
    time.advance(Duration::from_secs(3600));
    assert!(fail_n(&bf, &time, "192.0.2.10", 2).await.banned.is_none());
    assert!(fail_n(&bf, &time, "192.0.2.10", 1).await.banned.is_some());
}

#[tokio::test]
async fn bans_expire_after_ban_time() {
    let time = Time::new();
    let bf = service(
        "  buckets: [{name: r, period: 1m, cidr: 32, ipv4: true, failed_requests: 2, ban_time: 10m}]\n",
        &time,
    );
    fail_n(&bf, &time, "192.0.2.1", 2).await;
    time.advance(Duration::from_secs(599));
    assert!(banned(&bf, "192.0.2.1", "imap").await.is_some());
    time.advance(Duration::from_secs(1));
    assert_eq!(banned(&bf, "192.0.2.1", "imap").await, None);
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_64() {
    let time = Time::new();
    let bf = service(
        "  buckets: [{name: r64, period: 1h, cidr: 64, ipv6: true, failed_requests: 2}]\n",
        &time,
    );
    bf.record_failure(&request("2001:db8:0:1::1", "a", "p1", "imap"), "a", time.now())
        .await
        .unwrap();
    bf.record_failure(&request("2001:db8:0:1::2", "b", "p2", "imap"), "b", time.now())
        .await
        .unwrap();
    assert_eq!(
        banned(&bf, "2001:db8:0:1:ffff::9", "imap").await.as_deref(),
        Some("r64")
    );
    assert_eq!(banned(&bf, "2001:db8:0:2::1", "imap").await, None);
    assert_eq!(
        banned(&bf, "192.0.2.1", "imap").await,
        None,
        "an IPv6 rule ignores IPv4"
    );
}

#[tokio::test]
async fn protocol_filters_count_and_ban_per_protocol() {
    let time = Time::new();
    let bf = service(
        "  buckets: [{name: imap, period: 1h, cidr: 32, ipv4: true, failed_requests: 2, filter_by_protocol: [imap]}]\n",
        &time,
    );
    for p in ["smtp", "smtp", "smtp"] {
        bf.record_failure(&request("192.0.2.1", "a", p, p), "a", time.now())
            .await
            .unwrap();
    }
    assert_eq!(
        banned(&bf, "192.0.2.1", "smtp").await,
        None,
        "smtp is not counted"
    );
    fail_n(&bf, &time, "192.0.2.1", 2).await;
    assert!(banned(&bf, "192.0.2.1", "imap").await.is_some());
    assert_eq!(
        banned(&bf, "192.0.2.1", "smtp").await,
        None,
        "the ban is for imap only"
    );
    let keys = bf.store().keys();
    assert!(
        bf.store()
            .exists(&keys.brute_force_bucket(3600, 32, 2, 4, "192.0.2.1/32:imap"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn oidc_client_filters_count_per_client_id() {
    let time = Time::new();
    let bf = service(
        "  buckets: [{name: app, period: 1h, cidr: 32, ipv4: true, failed_requests: 1, filter_by_oidc_cid: [webmail]}]\n",
        &time,
    );
    let mut r = request("192.0.2.1", "a", "p", "http");
    r.oidc_cid = "other".into();
    bf.record_failure(&r, "a", time.now()).await.unwrap();
    assert!(bf.check(&r).await.unwrap().is_none());
    r.oidc_cid = "webmail".into();
    r.password = Password::new(b"q".to_vec());
    let rec = bf.record_failure(&r, "a", time.now()).await.unwrap();
    assert_eq!(rec.banned.unwrap().scope, "192.0.2.1/32:oidc:webmail");
    assert!(bf.check(&r).await.unwrap().is_some());
}

#[tokio::test]
async fn the_same_wrong_password_is_counted_once() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    for _ in 0..50 {
        let rec = bf
            .record_failure(
                &request("192.0.2.1", "alice", "last-month", "imap"),
                "alice",
                time.now(),
            )
            .await
            .unwrap();
        assert!(rec.banned.is_none());
    }
    assert_eq!(bf.stats().counted, 1);
    assert_eq!(bf.stats().forgiven, 49);
    assert_eq!(banned(&bf, "192.0.2.1", "imap").await, None);
}

#[tokio::test]
async fn only_rwp_allowed_unique_hashes_passwords_are_forgiven() {
    let time = Time::new();
    let bf = service(
        "  buckets: [{name: r, period: 1h, cidr: 32, ipv4: true, failed_requests: 100}]\n  rwp_allowed_unique_hashes: 2\n",
        &time,
    );
    let fail = |pw: &'static str| {
        let bf = bf.clone();
        let now = time.now();
        async move {
            bf.record_failure(&request("192.0.2.1", "alice", pw, "imap"), "alice", now)
                .await
                .unwrap()
                .counted
        }
    };
    assert!(fail("a").await);
    assert!(fail("b").await);
    assert!(fail("c").await, "a third distinct password is counted");
    assert!(!fail("a").await);
    assert!(!fail("b").await);
    assert!(fail("c").await, "and, not remembered, counted every time");
}

#[tokio::test]
async fn a_repeated_password_counts_again_after_the_window() {
    let time = Time::new();
    let bf = service(&format!("{ONE_RULE}  rwp_window: 15m\n"), &time);
    assert!(fail_with(&bf, &time, "alice", "old").await.counted);
    time.advance(Duration::from_secs(14 * 60));
    assert!(!fail_with(&bf, &time, "alice", "old").await.counted);
    time.advance(Duration::from_secs(15 * 60));
    assert!(fail_with(&bf, &time, "alice", "old").await.counted);
}

#[tokio::test]
async fn repeated_passwords_are_per_account() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    assert!(fail_with(&bf, &time, "alice", "same").await.counted);
    assert!(
        fail_with(&bf, &time, "bob", "same").await.counted,
        "spraying one password over accounts is counted"
    );
}

#[tokio::test]
async fn allowlisted_clients_are_never_counted() {
    let time = Time::new();
    let bf = service(&format!("{ONE_RULE}  ip_whitelist: [192.0.2.0/28]\n"), &time);
    assert!(!fail_n(&bf, &time, "192.0.2.5", 10).await.counted);
    assert_eq!(banned(&bf, "192.0.2.5", "imap").await, None);
    assert!(fail_n(&bf, &time, "192.0.2.200", 3).await.banned.is_some());
    assert_eq!(
        banned(&bf, "192.0.2.5", "imap").await,
        None,
        "allowlisted inside a banned /24"
    );
}

#[tokio::test]
async fn protocols_outside_brute_force_protocols_are_not_counted() {
    let time = Time::new();
    let mut c = config(ONE_RULE);
    c.server.brute_force_protocols = vec!["imap".into()];
    let bf = BruteForce::from_config(&c, time.store(), PasswordDigester::new("n")).unwrap();
    for i in 0..5 {
        bf.record_failure(
            &request("192.0.2.1", "a", &format!("p{i}"), "smtp"),
            "a",
            time.now(),
        )
        .await
        .unwrap();
    }
    assert!(
        bf.check(&request("192.0.2.1", "a", "x", "imap"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_client_with_many_successes_is_tolerated() {
    let time = Time::new();
    let bf = service(&format!("{ONE_RULE}  tolerate_percent: 20\n"), &time);
    succeed_as_distinct_accounts(&bf, &time, "192.0.2.1", 20).await;
    let rec = fail_n(&bf, &time, "192.0.2.1", 4).await;
    assert!(
        rec.banned.is_none(),
        "4 failures against 20 successes are within 20 %"
    );
    let rec = fail_n(&bf, &time, "192.0.2.1", 1).await;
    assert!(rec.banned.is_some(), "the fifth failure is not");
    assert!(bf.stats().tolerated >= 1);
}

#[tokio::test]
async fn without_tolerations_successes_are_not_stored() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    bf.record_success(&request("192.0.2.1", "a", "ok", "imap"), "a", time.now())
        .await
        .unwrap();
    let keys = bf.store().keys();
    assert!(
        !bf.store()
            .exists(&keys.toleration("192.0.2.1", true))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn list_shows_bans_and_affected_accounts_with_filters() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    fail_n(&bf, &time, "192.0.2.10", 3).await;
    fail_n(&bf, &time, "198.51.100.1", 3).await;
    let all = bf.list(&ListFilter::default()).await.unwrap();
    assert_eq!(
        all.ip_addresses.into_iter().collect::<Vec<_>>(),
        [
            ("192.0.2.0/24".to_owned(), "r24".to_owned()),
            ("198.51.100.0/24".to_owned(), "r24".to_owned())
        ]
    );
    assert_eq!(all.accounts["alice"], ["192.0.2.10", "198.51.100.1"]);
    let some = bf
        .list(&ListFilter {
            ip_addresses: vec!["192.0.2.77".into()],
            accounts: vec!["bob".into()],
        })
        .await
        .unwrap();
    assert_eq!(some.ip_addresses.keys().collect::<Vec<_>>(), ["192.0.2.0/24"]);
    assert!(some.accounts.is_empty());
    time.advance(Duration::from_secs(600));
    assert!(
        bf.list(&ListFilter::default())
            .await
            .unwrap()
            .ip_addresses
            .is_empty(),
        "expired bans drop out"
    );
}

#[tokio::test]
async fn flush_lifts_the_ban_and_returns_the_removed_keys() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    fail_n(&bf, &time, "192.0.2.10", 3).await;
    let removed = bf
        .flush(&FlushRequest {
            ip_address: "192.0.2.10".into(),
            rule_name: "*".into(),
            protocol: None,
            oidc_cid: None,
        })
        .await
        .unwrap();
    assert_eq!(
        removed,
        [
            "nauthilus:bf:3600:24:3:4:192.0.2.0/24",
            "nauthilus:bf:affected:alice",
            "nauthilus:bf:ban:192.0.2.0/24",
        ]
    );
    assert_eq!(banned(&bf, "192.0.2.10", "imap").await, None);
    assert!(
        bf.list(&ListFilter::default())
            .await
            .unwrap()
            .ip_addresses
            .is_empty()
    );
}

#[tokio::test]
async fn flush_by_rule_and_protocol_touches_only_that_scope() {
    let time = Time::new();
    let bf = service(
        "  buckets:\n    - {name: imap, period: 1h, cidr: 32, ipv4: true, failed_requests: 1, filter_by_protocol: [imap, pop3]}\n    - {name: all, period: 1h, cidr: 24, ipv4: true, failed_requests: 5}\n",
        &time,
    );
    bf.record_failure(&request("192.0.2.1", "a", "p", "imap"), "a", time.now())
        .await
        .unwrap();
    bf.record_failure(&request("192.0.2.1", "a", "q", "pop3"), "a", time.now())
        .await
        .unwrap();
    let flush = |rule: &str, protocol: Option<&str>| FlushRequest {
        ip_address: "192.0.2.1".into(),
        rule_name: rule.into(),
        protocol: protocol.map(str::to_owned),
        oidc_cid: None,
    };
    let removed = bf.flush(&flush("imap", Some("pop3"))).await.unwrap();
    assert_eq!(
        removed,
        [
            "nauthilus:bf:3600:32:1:4:192.0.2.1/32:pop3",
            "nauthilus:bf:ban:192.0.2.1/32:pop3"
        ]
    );
    assert!(banned(&bf, "192.0.2.1", "imap").await.is_some());
    assert_eq!(banned(&bf, "192.0.2.1", "pop3").await, None);
    assert!(matches!(
        bf.flush(&flush("nope", None)).await,
        Err(FlushError::UnknownRule(_))
    ));
    let bad = FlushRequest {
        ip_address: "not-an-ip".into(),
        ..flush("*", None)
    };
    assert!(matches!(bf.flush(&bad).await, Err(FlushError::BadAddress(_))));
}

#[tokio::test]
async fn flush_account_forgets_the_password_history() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    assert!(fail_with(&bf, &time, "alice", "old").await.counted);
    let removed = bf.flush_account("alice").await.unwrap();
    assert_eq!(
        removed,
        [
            "nauthilus:bf:3600:24:3:4:192.0.2.0/24",
            "nauthilus:bf:rwp:192.0.2.1:alice",
            "nauthilus:bf:rwp_clients:alice"
        ]
    );
    assert!(
        fail_with(&bf, &time, "alice", "old").await.counted,
        "after a flush the password counts again"
    );
}

#[tokio::test]
async fn flush_account_lifts_the_bans_of_its_clients() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    fail_n(&bf, &time, "192.0.2.10", 3).await;
    assert!(banned(&bf, "192.0.2.10", "imap").await.is_some());
    let removed = bf.flush_account("alice").await.unwrap();
    assert!(
        removed.contains(&"nauthilus:bf:ban:192.0.2.0/24".to_owned()),
        "{removed:?}"
    );
    assert!(
        removed.contains(&"nauthilus:bf:affected:alice".to_owned()),
        "{removed:?}"
    );
    assert_eq!(banned(&bf, "192.0.2.10", "imap").await, None);
}

#[tokio::test]
async fn brute_force_is_off_without_the_feature() {
    let time = Time::new();
    let mut c = config(ONE_RULE);
    c.server.features.clear();
    assert!(BruteForce::from_config(&c, time.store(), PasswordDigester::new("n")).is_none());
}

async fn reserve(bf: &BruteForce, ip: &str, password: &str) -> Admission {
    bf.reserve(&request(ip, "alice", password, "imap")).await.unwrap()
}

fn admitted(a: Admission) -> Reservation {
    match a {
        Admission::Admitted(r) => r,
        Admission::Refused(ban) => panic!("refused: {ban:?}"),
    }
}

async fn bucket(bf: &BruteForce, key: &str) -> Option<String> {
    bf.store().get(key).await.unwrap()
}

const R24_BUCKET: &str = "nauthilus:bf:3600:24:3:4:192.0.2.0/24";

#[tokio::test]
async fn attempts_in_flight_fill_the_bucket_before_they_are_verified() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(admitted(reserve(&bf, "192.0.2.1", &format!("g{i}")).await));
    }
    assert_eq!(bucket(&bf, R24_BUCKET).await.as_deref(), Some("3"));
    for i in 3..6 {
        match reserve(&bf, "192.0.2.2", &format!("g{i}")).await {
            Admission::Refused(ban) => assert_eq!(
                ban,
                Ban {
                    rule: "r24".into(),
                    scope: "192.0.2.0/24".into()
                }
            ),
            Admission::Admitted(_) => panic!("a fourth attempt in flight is verified"),
        }
    }
    assert_eq!(
        bucket(&bf, R24_BUCKET).await.as_deref(),
        Some("3"),
        "refused attempts leave nothing reserved"
    );
    assert_eq!(bf.stats().refused_in_flight, 3);
    let mut records = Vec::new();
    for (i, r) in held.into_iter().enumerate() {
        let req = request("192.0.2.1", "alice", &format!("g{i}"), "imap");
        records.push(bf.confirm_failure(&req, r, "alice", time.now()).await.unwrap());
    }
    assert!(records.iter().all(|r| r.counted));
    assert!(
        records[2].banned.is_some(),
        "the failures fill the bucket: banned"
    );
    assert_eq!(
        bucket(&bf, R24_BUCKET).await.as_deref(),
        Some("3"),
        "counted once each"
    );
}

#[tokio::test]
async fn a_single_login_in_flight_is_refused_only_when_a_failure_would_have_banned() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    fail_n(&bf, &time, "192.0.2.1", 2).await;
    let r = admitted(reserve(&bf, "192.0.2.1", "secret").await);
    assert_eq!(
        bf.confirm_success(
            &request("192.0.2.1", "alice", "secret", "imap"),
            r,
            "alice",
            time.now()
        )
        .await
        .unwrap(),
        None
    );
    assert_eq!(
        bucket(&bf, R24_BUCKET).await.as_deref(),
        Some("2"),
        "a success gives its reservation back"
    );
    for _ in 0..5 {
        let r = admitted(reserve(&bf, "192.0.2.1", "secret").await);
        bf.release(r).await.unwrap();
    }
    assert_eq!(bucket(&bf, R24_BUCKET).await.as_deref(), Some("2"));
}

#[tokio::test]
async fn a_right_password_verified_while_the_network_got_banned_is_refused() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    let r = admitted(reserve(&bf, "192.0.2.1", "secret").await);
    // Meanwhile other clients of the /24 fill the bucket.
    let rec = fail_n(&bf, &time, "192.0.2.9", 2).await;
    assert!(
        rec.banned.is_some(),
        "2 failures + 1 in flight fill a bucket of 3"
    );
    let ban = bf
        .confirm_success(
            &request("192.0.2.1", "alice", "secret", "imap"),
            r,
            "alice",
            time.now(),
        )
        .await
        .unwrap();
    assert_eq!(ban.map(|b| b.scope).as_deref(), Some("192.0.2.0/24"));
}

#[tokio::test]
async fn a_forgiven_repeated_password_gives_its_reservation_back() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    for _ in 0..5 {
        let r = admitted(reserve(&bf, "192.0.2.1", "last-month").await);
        let req = request("192.0.2.1", "alice", "last-month", "imap");
        bf.confirm_failure(&req, r, "alice", time.now()).await.unwrap();
    }
    assert_eq!(bucket(&bf, R24_BUCKET).await.as_deref(), Some("1"));
    assert_eq!(bf.stats().forgiven, 4);
}

#[tokio::test]
async fn releasing_never_drives_an_expired_bucket_below_zero_or_recreates_it() {
    let time = Time::new();
    let bf = service(ONE_RULE, &time);
    let r = admitted(reserve(&bf, "192.0.2.1", "x").await);
    time.advance(Duration::from_secs(3600));
    bf.release(r).await.unwrap();
    assert!(!bf.store().exists(R24_BUCKET).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failures_are_counted_exactly() {
    const N: usize = 50;
    let time = Arc::new(Time::new());
    let bf = service(
        "  buckets: [{name: r, period: 1h, cidr: 32, ipv4: true, failed_requests: 1000}]\n",
        &time,
    );
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let (bf, time) = (bf.clone(), time.clone());
            tokio::spawn(async move {
                let req = request("192.0.2.1", "alice", &format!("p{i}"), "imap");
                let Admission::Admitted(r) = bf.reserve(&req).await.unwrap() else {
                    panic!("refused below the limit")
                };
                bf.confirm_failure(&req, r, "alice", time.now()).await.unwrap()
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().counted);
    }
    assert_eq!(
        bucket(&bf, "nauthilus:bf:3600:32:1000:4:192.0.2.1/32")
            .await
            .as_deref(),
        Some("50")
    );
}

#[tokio::test]
async fn logins_without_a_usable_address_are_counted_per_user_name() {
    for ip in ["", "unknown", "010.1.2.3", "IP", "192.0.2.1%eth0"] {
        let time = Time::new();
        let bf = service(ONE_RULE, &time);
        for i in 0..2 {
            let rec = bf
                .record_failure(
                    &request(ip, "Alice", &format!("g{i}"), "imap"),
                    "alice",
                    time.now(),
                )
                .await
                .unwrap();
            assert!(rec.counted && rec.banned.is_none(), "{ip:?}");
        }
        let rec = bf
            .record_failure(&request(ip, " alice", "g2", "imap"), "alice", time.now())
            .await
            .unwrap();
        assert_eq!(
            rec.banned,
            Some(Ban {
                rule: "r24".into(),
                scope: "account:alice".into()
            }),
            "{ip:?}: three guesses for one user name without an address ban"
        );
        assert_eq!(
            bucket(&bf, "nauthilus:bf:3600:3:account:alice").await.as_deref(),
            Some("3")
        );
        assert!(
            bf.check(&request(ip, "ALICE", "x", "imap"))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            bf.check(&request("", "alice", "x", "smtp"))
                .await
                .unwrap()
                .is_some(),
            "every address-less login of the name"
        );
        assert!(
            bf.check(&request("192.0.2.1", "alice", "x", "imap"))
                .await
                .unwrap()
                .is_none(),
            "logins with an address are not locked out"
        );
        assert!(
            bf.check(&request(ip, "bob", "x", "imap"))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(bf.stats().no_address, 3, "checks without an address");
    }
}

#[tokio::test]
async fn address_less_bans_are_listed_and_flushed_by_user_name() {
    let time = Time::new();
    let bf = service(
        "  buckets:\n    - {name: v4, period: 1h, cidr: 24, ipv4: true, failed_requests: 2}\n    - {name: v6, period: 1h, cidr: 24, ipv6: true, failed_requests: 2}\n",
        &time,
    );
    for i in 0..2 {
        bf.record_failure(
            &request("unknown", "a:b%c", &format!("g{i}"), "imap"),
            "a:b%c",
            time.now(),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        bucket(&bf, "nauthilus:bf:3600:2:account:a%3Ab%25c")
            .await
            .as_deref(),
        Some("2"),
        "rules that share a bucket key count once"
    );
    let list = bf.list(&ListFilter::default()).await.unwrap();
    assert_eq!(
        list.ip_addresses.into_iter().collect::<Vec<_>>(),
        [("account:a%3Ab%25c".to_owned(), "v4".to_owned())]
    );
    let filtered = bf
        .list(&ListFilter {
            ip_addresses: vec!["192.0.2.0/24".into()],
            accounts: vec![],
        })
        .await
        .unwrap();
    assert!(filtered.ip_addresses.is_empty());
    let removed = bf
        .flush(&FlushRequest {
            ip_address: "account:a%3Ab%25c".into(),
            rule_name: "*".into(),
            protocol: None,
            oidc_cid: None,
        })
        .await
        .unwrap();
    assert_eq!(
        removed,
        [
            "nauthilus:bf:3600:2:account:a%3Ab%25c",
            "nauthilus:bf:ban:account:a%3Ab%25c"
        ]
    );
    assert!(
        bf.check(&request("", "a:b%c", "x", "imap"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        bf.list(&ListFilter::default())
            .await
            .unwrap()
            .ip_addresses
            .is_empty()
    );

    for i in 0..2 {
        bf.record_failure(
            &request("", "a:b%c", &format!("h{i}"), "imap"),
            "a:b%c",
            time.now(),
        )
        .await
        .unwrap();
    }
    let removed = bf.flush_account("a:b%c").await.unwrap();
    assert!(
        removed.contains(&"nauthilus:bf:ban:account:a%3Ab%25c".to_owned())
            && removed.contains(&"nauthilus:bf:rwp:unknown:a:b%c".to_owned()),
        "{removed:?}"
    );
    assert!(
        bf.check(&request("", "a:b%c", "x", "imap"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn successes_of_one_account_buy_no_toleration() {
    let time = Time::new();
    let bf = service(&format!("{ONE_RULE}  tolerate_percent: 20\n"), &time);
    for _ in 0..199 {
        bf.record_success(
            &request("192.0.2.1", "mallory", "own", "imap"),
            "mallory",
            time.now(),
        )
        .await
        .unwrap();
    }
    let keys = bf.store().keys();
    assert_eq!(
        bf.store()
            .get(&keys.toleration("192.0.2.1", true))
            .await
            .unwrap()
            .as_deref(),
        Some("1"),
        "one account, one success per period"
    );
    let rec = fail_n(&bf, &time, "192.0.2.1", 3).await;
    assert!(
        rec.banned.is_some(),
        "3 guesses against one account's successes are not tolerated"
    );
}

#[tokio::test]
async fn a_success_counts_again_in_the_next_toleration_period() {
    let time = Time::new();
    let bf = service(
        &format!("{ONE_RULE}  tolerate_percent: 20\n  tolerate_ttl: 10m\n"),
        &time,
    );
    let keys = bf.store().keys();
    let p = keys.toleration("192.0.2.1", true);
    let req = request("192.0.2.1", "a", "ok", "imap");
    let succeed = || bf.record_success(&req, "a", time.now());
    succeed().await.unwrap();
    succeed().await.unwrap();
    assert_eq!(bf.store().get(&p).await.unwrap().as_deref(), Some("1"));
    time.advance(Duration::from_secs(600));
    succeed().await.unwrap();
    assert_eq!(
        bf.store().get(&p).await.unwrap().as_deref(),
        Some("1"),
        "a new period"
    );
    let b = "b".to_owned();
    bf.record_success(&request("192.0.2.1", &b, "ok", "imap"), &b, time.now())
        .await
        .unwrap();
    assert_eq!(bf.store().get(&p).await.unwrap().as_deref(), Some("2"));
}

#[tokio::test]
async fn a_tolerated_client_may_have_a_login_in_flight_beyond_the_bucket() {
    let time = Time::new();
    let bf = service(&format!("{ONE_RULE}  tolerate_percent: 50\n"), &time);
    succeed_as_distinct_accounts(&bf, &time, "192.0.2.1", 10).await;
    let rec = fail_n(&bf, &time, "192.0.2.1", 3).await;
    assert!(rec.banned.is_none(), "tolerated");
    let r = admitted(reserve(&bf, "192.0.2.1", "next").await);
    let keys = bf.store().keys();
    let n = keys.toleration("192.0.2.1", false);
    assert_eq!(
        bf.store().get(&n).await.unwrap().as_deref(),
        Some("4"),
        "held in flight"
    );
    bf.confirm_failure(
        &request("192.0.2.1", "alice", "next", "imap"),
        r,
        "alice",
        time.now(),
    )
    .await
    .unwrap();
    assert_eq!(
        bf.store().get(&n).await.unwrap().as_deref(),
        Some("4"),
        "not counted twice"
    );
    fail_n(&bf, &time, "192.0.2.1", 1).await;
    let refused = reserve(&bf, "192.0.2.1", "more").await;
    assert!(
        matches!(refused, Admission::Refused(_))
            || bf
                .check(&request("192.0.2.1", "a", "x", "imap"))
                .await
                .unwrap()
                .is_some(),
        "beyond the toleration: refused or banned"
    );
}

mod burst {
    //! The pipeline against a parallel burst on a slow-hash account: attempts in flight count
    //! before their (queued) verification, so the right password sent after the burst fails.

    use super::*;
    use crate::backend::Backend;
    use crate::outcome::{Decision, FailReason};
    use crate::pipeline::{Pipeline, PipelineParts};
    use nauthilus_backends::passwd_file::PasswdFile;
    use nauthilus_backends::password::PasswordVerifier;

    /// `slow-secret` as argon2id with m=16 MiB, t=2: a real, deliberately slow verification.
    const SLOW_USER: &str = "slow:{ARGON2ID}$argon2id$v=19$m=16384,t=2,p=1$YmYtYnVyc3Qtc2FsdC0xNg$PocIBHY2oBtLX54GWxc9JoBWXNNpfZsARvcckx937ko\n";

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_parallel_burst_cannot_outrun_the_bucket_on_a_slow_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, SLOW_USER).unwrap();
        let file = Arc::new(PasswdFile::open(&path).unwrap());
        let time = Arc::new(Time::new());
        let bf = service(ONE_RULE, &time);
        let mut parts = PipelineParts::new(PasswordVerifier::new(1));
        parts.backends = vec![Backend::PasswdFile(file)];
        parts.brute_force = Some(bf.clone());
        let pipeline = Pipeline::new(parts);
        let login = |password: String| {
            let (pipeline, time) = (pipeline.clone(), time.clone());
            tokio::spawn(async move {
                let req = request("192.0.2.1", "slow", &password, "imap");
                pipeline.authenticate(&req, time.now()).await
            })
        };
        let burst: Vec<_> = (0..60).map(|i| login(format!("guess-{i}"))).collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let right = login("slow-secret".into()).await.unwrap();
        assert!(
            matches!(right.decision, Decision::Fail(FailReason::BruteForce)),
            "the right password after the burst: {:?}",
            right.decision
        );
        let mut refused = 0;
        for t in burst {
            match t.await.unwrap().decision {
                Decision::Fail(FailReason::BruteForce) => refused += 1,
                Decision::Fail(FailReason::WrongPassword) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(refused, 57, "only failed_requests guesses were verified");
        assert!(
            bf.check(&request("192.0.2.1", "slow", "x", "imap"))
                .await
                .unwrap()
                .is_some()
        );
    }
}

mod property {
    //! No sequence of logins, waits and flushes lets a banned network log in before the ban
    //! expires or is flushed, even with the right password and a warm in-process cache.

    use proptest::prelude::*;

    use super::*;
    use crate::backend::Backend;
    use crate::memory_cache::MemoryAuthCache;
    use crate::pipeline::{Pipeline, PipelineParts};
    use nauthilus_backends::passwd_file::PasswdFile;
    use nauthilus_backends::password::PasswordVerifier;

    const IPS: [&str; 4] = ["192.0.2.1", "192.0.2.2", "198.51.100.1", "2001:db8::1"];
    const PASSWORDS: [&str; 4] = ["secret", "wrong1", "wrong2", "wrong3"];
    const BAN_SECS: u64 = 30;

    #[derive(Clone, Debug)]
    enum Step {
        Login { ip: usize, password: usize },
        Wait(u64),
        Flush { ip: usize },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0..IPS.len(), 0..PASSWORDS.len()).prop_map(|(ip, password)| Step::Login { ip, password }),
            2 => (1u64..40).prop_map(Step::Wait),
            1 => (0..IPS.len()).prop_map(|ip| Step::Flush { ip }),
        ]
    }

    /// A ban as the test saw it appear: its scope and when it must still hold.
    struct Seen {
        net: ipnet::IpNet,
        until: SystemTime,
    }

    async fn run(steps: Vec<Step>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, "alice:{PLAIN}secret\n").unwrap();
        let file = Arc::new(PasswdFile::open(&path).unwrap());
        let time = Time::new();
        let yaml = format!(
            "  buckets:\n    - {{name: r24, period: 1m, cidr: 24, ipv4: true, failed_requests: 3, ban_time: {BAN_SECS}s}}\n    - {{name: r64, period: 1m, cidr: 64, ipv6: true, failed_requests: 2, ban_time: {BAN_SECS}s}}\n"
        );
        let bf = service(&yaml, &time);
        let mut parts = PipelineParts::new(PasswordVerifier::new(1));
        parts.backends = vec![Backend::PasswdFile(file)];
        parts.memory_cache = Some(MemoryAuthCache::new(Duration::from_secs(30)));
        parts.brute_force = Some(bf.clone());
        let pipeline = Pipeline::new(parts);
        let mut seen: Vec<Seen> = Vec::new();
        for s in steps {
            match s {
                Step::Login { ip, password } => {
                    let req = request(IPS[ip], "alice", PASSWORDS[password], "imap");
                    let outcome = pipeline.authenticate(&req, time.now()).await;
                    let addr: IpAddr = IPS[ip].parse().unwrap();
                    let held = seen.iter().any(|b| b.net.contains(&addr) && time.now() < b.until);
                    assert!(!(held && outcome.is_ok()), "{} logged in while banned", IPS[ip]);
                }
                Step::Wait(secs) => time.advance(Duration::from_secs(secs)),
                Step::Flush { ip } => {
                    bf.flush(&FlushRequest {
                        ip_address: IPS[ip].into(),
                        rule_name: "*".into(),
                        protocol: None,
                        oidc_cid: None,
                    })
                    .await
                    .unwrap();
                    let addr: IpAddr = IPS[ip].parse().unwrap();
                    seen.retain(|b| !b.net.contains(&addr));
                }
            }
            // Bans that appeared in this step hold for ban_time from now.
            for scope in bf.list(&ListFilter::default()).await.unwrap().ip_addresses.keys() {
                let net: ipnet::IpNet = scope.parse().unwrap();
                if !seen.iter().any(|b| b.net == net && time.now() < b.until) {
                    seen.push(Seen {
                        net,
                        until: time.now() + Duration::from_secs(BAN_SECS),
                    });
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn a_banned_network_never_logs_in_before_expiry_or_flush(steps in proptest::collection::vec(step(), 1..60)) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(run(steps));
        }
    }
}
