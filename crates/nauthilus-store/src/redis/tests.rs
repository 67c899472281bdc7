//! The Redis store against real servers started by the testkit: the conformance suite in every
//! mode, outages and recovery, timeouts, TLS, and Sentinel failover.

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nauthilus_config::{ConfigDuration, RedisConfig};
use nauthilus_testkit::{
    RedisCluster, RedisSentinelSet, RedisServer, shared_redis, shared_redis_cluster, shared_redis_sentinel,
};

use crate::{Store, StoreError, conformance};

/// Upper bound for anything that must not hang; generous because machines are noisy.
const PATIENCE: Duration = Duration::from_secs(20);

fn standalone(addr: &str) -> RedisConfig {
    let mut config = RedisConfig::default();
    config.master.address = addr.to_owned();
    config.dial_timeout = ConfigDuration::from_secs(2);
    config
}

async fn bounded<T>(what: &str, work: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, work).await {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {PATIENCE:?}"),
    }
}

/// Retries `probe` until the store answers again.
async fn until_ok(store: &Store, key: &str) {
    bounded("recovery", async {
        loop {
            if store.set(key, "back", None).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "expected Unavailable, got {result:?}"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

#[tokio::test]
async fn standalone_store_passes_the_conformance_suite() {
    let redis = shared_redis().unwrap();
    let store = Store::connect(&standalone(&redis.addr())).await.unwrap();
    assert_eq!(store.kind(), "redis");
    conformance::run_all(&store, "conformance:standalone:").await;
}

#[tokio::test]
async fn acl_user_with_password_and_database_3_pass_the_conformance_suite() {
    let redis = RedisServer::builder()
        .requirepass("default-secret")
        .acl_user("nauthilus", "acl-secret")
        .start()
        .unwrap();
    let mut config = standalone(&redis.addr());
    config.master.username = "nauthilus".into();
    config.master.password = "acl-secret".into();
    config.database_number = 3;
    let store = Store::connect(&config).await.unwrap();
    conformance::run_all(&store, "conformance:acl:").await;
    store.set("in-db-3", "yes", None).await.unwrap();
    let keyspace = redis.command(&["INFO", "keyspace"]).unwrap().to_string();
    assert!(
        keyspace.contains("db3:keys=1") && !keyspace.contains("db0:"),
        "{keyspace}"
    );
}

#[tokio::test]
async fn a_wrong_password_makes_operations_unavailable() {
    let redis = RedisServer::builder().requirepass("right").start().unwrap();
    let mut config = standalone(&redis.addr());
    config.master.password = "wrong".into();
    let store = Store::connect(&config).await.unwrap();
    assert_unavailable(store.get("k").await);
}

#[tokio::test]
async fn cluster_store_passes_the_conformance_suite() {
    let cluster = shared_redis_cluster().unwrap();
    let mut config = RedisConfig::default();
    config.cluster.addresses = cluster.seed_addrs();
    let store = Store::connect(&config).await.unwrap();
    conformance::run_all(&store, "conformance:cluster:").await;
    // Keys of the suite land on different masters: spread a few and read them back.
    for i in 0..20 {
        store
            .set(&format!("spread:{i}"), &i.to_string(), None)
            .await
            .unwrap();
    }
    for i in 0..20 {
        assert_eq!(
            store.get(&format!("spread:{i}")).await.unwrap(),
            Some(i.to_string())
        );
    }
}

#[tokio::test]
async fn cluster_password_is_used() {
    let cluster = RedisCluster::builder()
        .requirepass("cluster-secret")
        .start()
        .unwrap();
    let mut config = RedisConfig::default();
    config.cluster.addresses = cluster.seed_addrs();
    config.cluster.password = "cluster-secret".into();
    let store = Store::connect(&config).await.unwrap();
    conformance::run_all(&store, "conformance:cluster-auth:").await;
}

#[tokio::test]
async fn sentinel_store_passes_the_conformance_suite() {
    let set = shared_redis_sentinel().unwrap();
    let mut config = RedisConfig::default();
    config.sentinels.master = set.master_name().to_owned();
    config.sentinels.addresses = set.sentinel_addrs();
    let store = Store::connect(&config).await.unwrap();
    conformance::run_all(&store, "conformance:sentinel:").await;
}

#[tokio::test]
async fn sentinel_and_master_passwords_are_both_used() {
    let set = RedisSentinelSet::builder()
        .master_password("master-secret")
        .sentinel_password("sentinel-secret")
        .start()
        .unwrap();
    let mut config = RedisConfig::default();
    config.sentinels.master = set.master_name().to_owned();
    config.sentinels.addresses = set.sentinel_addrs();
    config.sentinels.password = "sentinel-secret".into();
    config.master.password = "master-secret".into();
    let store = Store::connect(&config).await.unwrap();
    conformance::run_all(&store, "conformance:sentinel-auth:").await;
}

#[tokio::test]
async fn an_outage_fails_fast_and_the_same_store_recovers() {
    let redis = RedisServer::start().unwrap();
    let mut config = standalone(&redis.addr());
    config.pool_size = std::num::NonZeroU16::new(3).unwrap();
    let store = Store::connect(&config).await.unwrap();
    store.set("outage:k", "v", None).await.unwrap();

    redis.stop().unwrap();
    bounded("operations during the outage", async {
        for _ in 0..10 {
            assert_unavailable(store.get("outage:k").await);
            assert_unavailable(store.incr("outage:n", 1, None).await);
        }
        assert_unavailable(store.ping().await);
    })
    .await;

    redis.start_again().unwrap();
    until_ok(&store, "outage:k").await;
    // Every slot is refilled: a run of operations all succeed.
    for _ in 0..10 {
        assert_eq!(store.get("outage:k").await.unwrap().as_deref(), Some("back"));
    }
}

#[tokio::test]
async fn connect_succeeds_while_redis_is_down_and_works_once_it_starts() {
    let redis = RedisServer::start().unwrap();
    redis.stop().unwrap();
    let store = bounded("connect", Store::connect(&standalone(&redis.addr())))
        .await
        .unwrap();
    bounded("operations while down", async {
        assert_unavailable(store.set("late:k", "v", None).await);
        assert_unavailable(store.get("late:k").await);
    })
    .await;
    redis.start_again().unwrap();
    until_ok(&store, "late:k").await;
    assert_eq!(store.get("late:k").await.unwrap().as_deref(), Some("back"));
}

#[tokio::test]
async fn a_command_that_gets_no_answer_is_cut_off_by_the_command_timeout() {
    let redis = RedisServer::start().unwrap();
    let mut config = standalone(&redis.addr());
    config.read_timeout = ConfigDuration::from_millis(200);
    config.write_timeout = ConfigDuration::from_millis(100);
    let store = Store::connect(&config).await.unwrap();
    store.ping().await.unwrap();
    redis.command(&["CLIENT", "PAUSE", "1000", "ALL"]).unwrap();
    bounded("a paused command", async {
        assert_unavailable(store.get("paused").await)
    })
    .await;
    // Once the pause ends, the replaced connection is back.
    until_ok(&store, "paused").await;
}

#[tokio::test]
async fn cluster_store_can_start_while_the_cluster_is_down_and_recovers() {
    let cluster = RedisCluster::start().unwrap();
    for node in cluster.nodes() {
        node.stop().unwrap();
    }
    let mut config = RedisConfig::default();
    config.cluster.addresses = cluster.seed_addrs();
    config.dial_timeout = ConfigDuration::from_secs(1);
    let store = bounded("connect", Store::connect(&config)).await.unwrap();
    bounded("an operation while down", async {
        assert_unavailable(store.get("cluster-late:k").await)
    })
    .await;

    for node in cluster.nodes() {
        node.start_again().unwrap();
    }
    // The nodes answer CLUSTERDOWN for a moment while they find each other again.
    until_ok(&store, "cluster-late:k").await;
    assert_eq!(
        store.get("cluster-late:k").await.unwrap().as_deref(),
        Some("back")
    );
}

#[tokio::test]
async fn sentinel_failover_is_followed_without_a_new_store() {
    let set = RedisSentinelSet::builder().with_replica(true).start().unwrap();
    let mut config = RedisConfig::default();
    config.sentinels.master = set.master_name().to_owned();
    config.sentinels.addresses = set.sentinel_addrs();
    let store = Store::connect(&config).await.unwrap();
    store.set("failover:k", "before", None).await.unwrap();
    let old_master = set.current_master_addr().unwrap();

    set.master().stop().unwrap();
    bounded("failover", async {
        loop {
            if set.current_master_addr().is_ok_and(|addr| addr != old_master) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    until_ok(&store, "failover:k").await;
    // The client may reconnect once more while the sentinels settle: read until it answers.
    let value = bounded("the read after the failover", async {
        loop {
            match store.get("failover:k").await {
                Ok(value) => return value,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await;
    assert_eq!(value.as_deref(), Some("back"));
}

#[tokio::test]
async fn a_manual_sentinel_failover_moves_writes_to_the_new_master() {
    // The old master stays up as a replica: a connection left on it would answer READONLY.
    let set = RedisSentinelSet::builder().with_replica(true).start().unwrap();
    let mut config = RedisConfig::default();
    config.sentinels.master = set.master_name().to_owned();
    config.sentinels.addresses = set.sentinel_addrs();
    let store = Store::connect(&config).await.unwrap();
    store.set("manual:k", "before", None).await.unwrap();
    let old_master = set.current_master_addr().unwrap();

    // The sentinel refuses (NOGOODSLAVE) until it has fresh INFO from the replica.
    bounded("the failover request", async {
        while let Err(e) = set.sentinels()[0].command(&["SENTINEL", "FAILOVER", set.master_name()]) {
            assert!(e.to_string().contains("NOGOODSLAVE"), "{e}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    bounded("failover", async {
        loop {
            if set.current_master_addr().is_ok_and(|addr| addr != old_master) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let new_master = set.current_master_addr().unwrap();
    let on_new = if set.master().addr() == new_master {
        set.master()
    } else {
        set.replica().unwrap()
    };
    // Writes reach the new master (a write that went to the old one would be lost when it is
    // demoted, so it would not show there).
    bounded("writes reaching the new master", async {
        for attempt in 0.. {
            let value = attempt.to_string();
            if store.set("manual:k", &value, None).await.is_ok()
                && on_new.command(&["GET", "manual:k"]).unwrap().as_text() == Some(value)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn hash_prefix_scan_follows_the_cursor_to_the_end() {
    let redis = shared_redis().unwrap();
    let store = Store::connect(&standalone(&redis.addr())).await.unwrap();
    let names: Vec<String> = (0..3000)
        .map(|i| format!("{}|{i}", if i % 2 == 0 { "even" } else { "odd" }))
        .collect();
    let fields: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    store.hash_replace("scan:big", &fields, None).await.unwrap();
    let found = store.hash_fields_with_prefix("scan:big", "even|").await.unwrap();
    assert_eq!(found.len(), 1500);
    assert!(found.iter().all(|(f, _)| f.starts_with("even|")));
    store.delete("scan:big").await.unwrap();
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        pki.ca("ca");
        pki.ca("other-ca");
        pki.leaf(
            "server",
            "ca",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        pki.leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }

    fn ca(&self, name: &str) {
        openssl(
            self.dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
            ],
        );
    }

    fn leaf(&self, name: &str, ca: &str, extensions: &str) {
        std::fs::write(self.path(&format!("{name}.ext")), extensions).unwrap();
        openssl(
            self.dir.path(),
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            self.dir.path(),
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }

    /// A redis-server with a TLS port next to its plain one (which the testkit probes).
    fn server(&self, extra: &[&str]) -> (RedisServer, u16) {
        let tls_port = free_port();
        let mut builder = RedisServer::builder()
            .config_line(format!("tls-port {tls_port}"))
            .config_line(format!("tls-cert-file {}", self.file("server.pem")))
            .config_line(format!("tls-key-file {}", self.file("server.key")))
            .config_line(format!("tls-ca-cert-file {}", self.file("ca.pem")));
        for line in extra {
            builder = builder.config_line(*line);
        }
        (builder.start().unwrap(), tls_port)
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tls_config(port: u16, pki: &Pki, ca: &str) -> RedisConfig {
    let mut config = standalone(&format!("127.0.0.1:{port}"));
    config.tls.enabled = true;
    config.tls.ca_file = pki.file(ca);
    config
}

fn install_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[tokio::test]
async fn tls_verifies_the_server_against_ca_file() {
    install_ring();
    let pki = Pki::new();
    let (_redis, port) = pki.server(&["tls-auth-clients no"]);

    let store = Store::connect(&tls_config(port, &pki, "ca.pem")).await.unwrap();
    conformance::run_all(&store, "conformance:tls:").await;

    let wrong_ca = Store::connect(&tls_config(port, &pki, "other-ca.pem"))
        .await
        .unwrap();
    assert_unavailable(wrong_ca.ping().await);

    let mut skip = tls_config(port, &pki, "other-ca.pem");
    skip.tls.skip_verify = true;
    Store::connect(&skip).await.unwrap().ping().await.unwrap();
}

#[tokio::test]
async fn tls_client_certificates_and_minimum_version_are_honoured() {
    install_ring();
    let pki = Pki::new();
    let (_redis, port) = pki.server(&["tls-auth-clients yes", "tls-protocols \"TLSv1.2\""]);

    let mut with_cert = tls_config(port, &pki, "ca.pem");
    with_cert.tls.cert = pki.file("client.pem");
    with_cert.tls.key = pki.file("client.key");
    Store::connect(&with_cert).await.unwrap().ping().await.unwrap();

    let without_cert = Store::connect(&tls_config(port, &pki, "ca.pem")).await.unwrap();
    assert_unavailable(without_cert.ping().await);

    // The server speaks only TLS 1.2: a TLS 1.3 minimum must refuse it.
    with_cert.tls.min_tls_version = "tls1.3".into();
    let too_old = Store::connect(&with_cert).await.unwrap();
    assert_unavailable(too_old.ping().await);
}

#[tokio::test]
async fn unusable_settings_are_configuration_errors() {
    let mut config = standalone("127.0.0.1:1");
    config.tls.enabled = true;
    config.tls.ca_file = "/nonexistent/ca.pem".into();
    assert!(matches!(
        Store::connect(&config).await,
        Err(StoreError::Config(_))
    ));
    assert!(matches!(
        Store::connect(&RedisConfig::default()).await,
        Err(StoreError::Config(_))
    ));
    let mut cluster = RedisConfig::default();
    cluster.cluster.addresses = vec!["127.0.0.1:1".into()];
    cluster.tls.enabled = true;
    cluster.tls.skip_verify = true;
    cluster.tls.min_tls_version = "tls1.3".into();
    assert!(matches!(
        Store::connect(&cluster).await,
        Err(StoreError::Config(_))
    ));
}
