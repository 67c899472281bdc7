#![allow(clippy::disallowed_methods)]
//! Specifications of the testkit's Redis services, run against real redis-server processes.

// clippy's allow-unwrap-in-tests covers `#[test]` functions only, not the helpers next to them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::env;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nauthilus_testkit::{
    RedisCluster, RedisSentinelSet, RedisServer, Reply, shared_redis, shared_redis_cluster,
    shared_redis_sentinel,
};

fn pong() -> Reply {
    Reply::Status("PONG".to_owned())
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(text.as_bytes().to_vec())
}

fn text(reply: Reply) -> String {
    reply.as_text().expect("text reply")
}

/// PING over a fresh connection without authenticating, returning the raw first reply line.
fn raw_ping(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn server_answers_ping_on_a_private_loopback_port_without_persistence() {
    let server = RedisServer::start().unwrap();

    assert_ne!(server.port(), 6379);
    assert_eq!(server.addr(), format!("127.0.0.1:{}", server.port()));
    assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port()));
    assert_eq!(server.command(&["PING"]).unwrap(), pong());
    assert_eq!(
        server.command(&["CONFIG", "GET", "save"]).unwrap(),
        Reply::Array(vec![bulk("save"), bulk("")])
    );
    assert_eq!(
        server.command(&["CONFIG", "GET", "appendonly"]).unwrap(),
        Reply::Array(vec![bulk("appendonly"), bulk("no")])
    );
}

#[test]
fn stopped_server_refuses_connections_and_starts_again_on_the_same_port() {
    let server = RedisServer::start().unwrap();
    let port = server.port();
    let first_pid = server.pid().unwrap();
    server.command(&["SET", "key", "value"]).unwrap();

    server.stop().unwrap();
    assert_eq!(server.pid(), None);
    assert!(TcpStream::connect(server.addr()).is_err());
    assert!(server.command(&["PING"]).is_err());

    server.start_again().unwrap();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), Some(first_pid));
    assert_eq!(server.command(&["PING"]).unwrap(), pong());
    // Killed like a crash, without persistence: the data is gone.
    assert_eq!(server.command(&["GET", "key"]).unwrap(), Reply::Nil);
    assert!(server.log_tail().contains("Ready to accept connections"));
}

#[test]
fn password_protected_server_demands_auth() {
    let server = RedisServer::builder()
        .requirepass("pass with \"quotes\" and spaces")
        .start()
        .unwrap();

    assert!(
        raw_ping(&server.addr()).starts_with("-NOAUTH"),
        "{}",
        raw_ping(&server.addr())
    );
    assert_eq!(server.command(&["PING"]).unwrap(), pong());
}

#[test]
fn acl_user_can_log_in() {
    let server = RedisServer::builder()
        .acl_user("nauthilus", "s3cret")
        .start()
        .unwrap();

    assert_eq!(server.command(&["ACL", "WHOAMI"]).unwrap(), bulk("nauthilus"));
}

#[test]
fn extra_config_lines_reach_the_server() {
    let server = RedisServer::builder()
        .config_line("maxmemory 12mb")
        .start()
        .unwrap();

    assert_eq!(
        server.command(&["CONFIG", "GET", "maxmemory"]).unwrap(),
        Reply::Array(vec![bulk("maxmemory"), bulk("12582912")])
    );
}

#[test]
fn dropping_a_server_kills_it_and_deletes_its_directory_at_once() {
    let server = RedisServer::start().unwrap();
    let (pid, dir, addr) = (server.pid().unwrap(), server.dir().to_owned(), server.addr());
    assert!(dir.exists());

    drop(server);

    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert!(!dir.exists());
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn cluster_forms_with_every_node_reporting_ok() {
    let cluster = RedisCluster::start().unwrap();

    assert_eq!(cluster.nodes().len(), 3);
    assert_eq!(cluster.seed_addrs(), cluster.node_addrs());
    for node in cluster.nodes() {
        let info = text(node.command(&["CLUSTER", "INFO"]).unwrap());
        assert!(info.contains("cluster_state:ok"), "{info}");
        assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
    }
}

#[test]
fn password_protected_cluster_forms() {
    let cluster = RedisCluster::builder().requirepass("cluster-pw").start().unwrap();

    let node = &cluster.nodes()[0];
    assert!(raw_ping(&node.addr()).starts_with("-NOAUTH"));
    assert!(text(node.command(&["CLUSTER", "INFO"]).unwrap()).contains("cluster_state:ok"));
}

#[test]
fn sentinels_report_the_master_and_know_the_replica() {
    let set = RedisSentinelSet::builder()
        .sentinels(3)
        .with_replica(true)
        .master_password("master-pw")
        .sentinel_password("sentinel-pw")
        .start()
        .unwrap();
    let master_port = set.master().port().to_string();

    assert_eq!(set.sentinel_addrs().len(), 3);
    for sentinel in set.sentinels() {
        assert!(raw_ping(&sentinel.addr()).starts_with("-NOAUTH"));
        assert_eq!(
            sentinel
                .command(&["SENTINEL", "get-master-addr-by-name", set.master_name()])
                .unwrap(),
            Reply::Array(vec![bulk("127.0.0.1"), bulk(&master_port)])
        );
    }
    assert_eq!(set.current_master_addr().unwrap(), set.master_addr());
    let replica = set.replica().unwrap();
    assert!(text(replica.command(&["INFO", "replication"]).unwrap()).contains("role:slave"));
}

#[test]
fn shared_instances_are_started_once_per_test_binary() {
    let first = shared_redis().unwrap();
    let from_other_thread = thread::spawn(|| shared_redis().unwrap().pid()).join().unwrap();

    assert!(std::ptr::eq(first, shared_redis().unwrap()));
    assert_eq!(from_other_thread, first.pid());
    assert_eq!(first.command(&["PING"]).unwrap(), pong());
}

// ---------------------------------------------------------------------------------------------
// Cleanup: a child process (this test binary, re-run) starts shared services and then exits,
// panics or is killed with SIGKILL; the services must disappear with it.

const CHILD_MODE: &str = "NAUTHILUS_TESTKIT_CHILD_MODE";
const CHILD_TEST: &str = "child_process_holding_shared_services";

/// Helper run by the cleanup specs in a child process; does nothing in an ordinary run.
#[test]
fn child_process_holding_shared_services() {
    let Ok(mode) = env::var(CHILD_MODE) else {
        return;
    };
    let mut servers = vec![shared_redis().unwrap()];
    if mode == "sigkill" {
        servers.extend(shared_redis_cluster().unwrap().nodes());
        let sentinel = shared_redis_sentinel().unwrap();
        servers.push(sentinel.master());
        servers.extend(sentinel.sentinels());
    }
    for server in servers {
        println!(
            "SERVICE {} {} {}",
            server.pid().unwrap(),
            server.addr(),
            server.dir().display()
        );
    }
    println!("READY");
    std::io::stdout().flush().unwrap();
    match mode.as_str() {
        "panic" => panic!("the child panics on purpose"),
        "sigkill" => thread::sleep(Duration::from_secs(300)),
        _ => {}
    }
}

struct ChildService {
    pid: u32,
    addr: String,
    dir: PathBuf,
}

/// Runs the helper in `mode`, returns the services it reported once it has ended.
fn run_child(mode: &str) -> Vec<ChildService> {
    let mut child = Command::new(env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut services = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert_ne!(
            stdout.read_line(&mut line).unwrap(),
            0,
            "child ended before READY"
        );
        // The harness prints `test <name> ... ` without a newline before the test's output.
        let line = line.trim();
        if line.ends_with("READY") {
            break;
        }
        if let Some((_, rest)) = line.split_once("SERVICE ") {
            let fields: Vec<&str> = rest.splitn(3, ' ').collect();
            services.push(ChildService {
                pid: fields[0].parse().unwrap(),
                addr: fields[1].to_owned(),
                dir: PathBuf::from(fields[2]),
            });
        }
    }
    assert!(!services.is_empty(), "child reported no services");
    for service in &services {
        assert!(Path::new(&format!("/proc/{}", service.pid)).exists());
        assert!(service.dir.exists());
    }
    if mode == "sigkill" {
        child.kill().unwrap();
    } else {
        stdout.read_to_end(&mut Vec::new()).unwrap();
    }
    child.wait().unwrap();
    services
}

fn assert_all_gone(services: &[ChildService]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for service in services {
        while Path::new(&format!("/proc/{}", service.pid)).exists() || service.dir.exists() {
            assert!(
                Instant::now() < deadline,
                "service {} outlived its test process",
                service.addr
            );
            thread::sleep(Duration::from_millis(10));
        }
        assert!(TcpStream::connect(&service.addr).is_err());
    }
}

#[test]
fn shared_services_end_when_the_test_process_exits() {
    assert_all_gone(&run_child("exit"));
}

#[test]
fn shared_services_end_when_the_test_process_panics() {
    assert_all_gone(&run_child("panic"));
}

#[test]
fn shared_services_end_when_the_test_process_is_killed() {
    let services = run_child("sigkill");
    assert!(services.len() >= 6, "redis, 3 cluster nodes, master, sentinel");
    assert_all_gone(&services);
}
