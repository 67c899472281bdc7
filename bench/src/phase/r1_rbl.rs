//! R1: what the `rbl` feature costs a login. A private authoritative DNS server (the test kit's,
//! on its own thread on the load cores) serves two block lists; a server with `features: [rbl]`
//! over both lists and one without features (otherwise the same: passwd-file, in-process cache)
//! answer the same `POST /api/v1/auth/json` in turn, from:
//!
//! - `R1`: clients no list names, each a fresh address (a new /16 per repetition), so every
//!   login asks both lists (in parallel) and waits for the slower answer;
//! - `R1c`: one such client again and again: the resolver's cache answers (negative TTL);
//! - `R1a`: an allowlisted client (`ip_whitelist`): no lookup at all;
//! - `R1-0`: the server without features, for the same fresh addresses.
//!
//! Each is measured with one connection (the added latency of one login) and with the run's
//! connections (the rate and CPU per login).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use nauthilus_testkit::{DnsServer, Zone};
use serde_json::json;

use crate::error::BenchError;
use crate::fixture::{ALICE, login_to};
use crate::load::{Pace, Target, exchange};
use crate::phase::{Bench, PhaseReport, Sample, median, own_server, paired, round};
use crate::server::ServerProcess;

pub const ID: &str = "R1";
/// Fresh addresses per repetition (one /16).
const FRESH: u32 = 65_536;
const ALICE_HASH: &str = "{SSHA256}R5jGdFZfOruhMlcRnrzDes1/d929GI05XMMyRDVVthjCR8w9";

/// The DNS server on a thread of its own, stopped when dropped.
struct DnsThread {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsThread {
    fn start(zones: Vec<Zone>) -> Result<Self, BenchError> {
        let (started, addr) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    let _ = started.send(Err(e.to_string()));
                    return;
                }
            };
            runtime.block_on(async move {
                match DnsServer::start(zones).await {
                    Ok(mut server) => {
                        let _ = started.send(Ok(server.addr()));
                        let _ = stopped.await;
                        server.stop().await;
                    }
                    Err(e) => {
                        let _ = started.send(Err(e));
                    }
                }
            });
        });
        let addr = addr
            .recv()
            .map_err(|_| BenchError::Failed("the DNS thread ended".into()))?
            .map_err(|e| BenchError::Failed(format!("the DNS server did not start: {e}")))?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for DnsThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Two lists that name a few documentation addresses (none of the measured clients).
fn zones() -> Vec<Zone> {
    vec![
        Zone::new("bl1.test", 300).a("5.113.0.203", Ipv4Addr::new(127, 0, 0, 2)),
        Zone::new("bl2.test", 300).a("5.113.0.203", Ipv4Addr::new(127, 0, 0, 3)),
    ]
}

fn config(addr: SocketAddr, dns: Option<SocketAddr>) -> String {
    let mut yaml = format!(
        "server:\n  address: \"{addr}\"\n  backends: [passwd_file]\n  log: {{level: error}}\n  \
         equalize_failure_timing: false\n"
    );
    if let Some(dns) = dns {
        yaml.push_str(&format!(
            "  features: [rbl]\n  dns: {{resolver: \"{dns}\", timeout: 2s}}\n\
             realtime_blackhole_lists:\n  threshold: 10\n  ip_whitelist: [198.51.100.0/24]\n  lists:\n    \
             - {{name: one, rbl: bl1.test, ipv4: true, ipv6: true, return_code: 127.0.0.2, weight: 5}}\n    \
             - {{name: two, rbl: bl2.test, ipv4: true, ipv6: true, return_code: 127.0.0.3, weight: 5}}\n"
        ));
    }
    yaml.push_str("passwd_file: {path: users.passwd}\n");
    yaml
}

fn users() -> String {
    format!("{}:{ALICE_HASH}:1000:1000::/home/alice::\n", ALICE.0)
}

/// Logins of alice from `10.<block>.0.0/16`, one address each.
fn fresh(addr: SocketAddr, block: u8) -> Target {
    let requests = (0..FRESH)
        .map(|i| {
            let ip = Ipv4Addr::from(0x0a00_0000 | (u32::from(block) << 16) | i);
            login_to(addr, "", ALICE.0, ALICE.1, &ip.to_string())
        })
        .collect();
    Target {
        addr,
        requests: Arc::new(requests),
        expect_status: 200,
    }
}

async fn check(target: &Target) -> Result<(), BenchError> {
    let first = target
        .requests
        .first()
        .ok_or_else(|| BenchError::Failed("no request".into()))?;
    let (status, _, body) = exchange(target.addr, first).await?;
    if status != 200 {
        return Err(BenchError::Failed(format!(
            "R1's login answered {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(())
}

/// The samples of one kind of request: with one connection and with the run's.
#[derive(Default)]
struct Series {
    one: Vec<Sample>,
    many: Vec<Sample>,
}

impl Series {
    fn of(&mut self, one_connection: bool) -> &mut Vec<Sample> {
        if one_connection {
            &mut self.one
        } else {
            &mut self.many
        }
    }
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let dns = DnsThread::start(zones())?;
    let topology = &bench.fixture.topology;
    let binary = &bench.fixture.server_binary;
    let files = [("users.passwd", users())];
    let rbl = ServerProcess::start(binary, &|a| config(a, Some(dns.addr)), &files, topology)?;
    let plain = ServerProcess::start(binary, &|a| config(a, None), &files, topology)?;
    let allowlisted = Target::single(
        rbl.addr(),
        login_to(rbl.addr(), "", ALICE.0, ALICE.1, "198.51.100.9"),
        200,
    );
    let cached = Target::single(
        rbl.addr(),
        login_to(rbl.addr(), "", ALICE.0, ALICE.1, "192.0.2.200"),
        200,
    );
    for t in [
        &allowlisted,
        &cached,
        &fresh(rbl.addr(), 0),
        &fresh(plain.addr(), 0),
    ] {
        check(t).await?;
    }
    let n = bench.settings.connections;
    // Warm both servers (block 1: these addresses are not measured again).
    bench.warm_up(&fresh(rbl.addr(), 1), n, Pace::Closed).await?;
    bench.warm_up(&fresh(plain.addr(), 1), n, Pace::Closed).await?;
    let (mut listed, mut hit, mut allowed, mut none) = (
        Series::default(),
        Series::default(),
        Series::default(),
        Series::default(),
    );
    let mut block = 2u8;
    for _ in 0..bench.settings.reps.max(1) {
        for connections in [1, n] {
            let one = connections == 1;
            let spec = bench.spec(connections, Pace::Closed);
            let s = own_server::sample(bench, &plain, &fresh(plain.addr(), block), spec).await?;
            none.of(one).push(s);
            let s = own_server::sample(bench, &rbl, &fresh(rbl.addr(), block), spec).await?;
            listed.of(one).push(s);
            hit.of(one)
                .push(own_server::sample(bench, &rbl, &cached, spec).await?);
            allowed
                .of(one)
                .push(own_server::sample(bench, &rbl, &allowlisted, spec).await?);
            block = block
                .checked_add(1)
                .ok_or_else(|| BenchError::Failed("too many repetitions for R1's address blocks".into()))?;
        }
    }
    let p50 = |s: &[Sample]| median(s).p50_us;
    let report = |id: &str, title: &str, s: &Series| {
        PhaseReport::ran(id, title, s.many.clone())
            .detail("one_connection", median(&s.one).json())
            .detail(
                "p50_added_us_one_connection",
                round(p50(&s.one) - p50(&none.one), 1),
            )
            .ratio(
                "rate_vs_no_rbl",
                paired(&s.many, &none.many, |x| x.rate),
                "requests/s / of the same server without features, same connections (paired)",
            )
            .ratio(
                "p50_vs_no_rbl_one_connection",
                paired(&s.one, &none.one, |x| x.p50_us),
                "p50 with one connection / of the server without features (paired)",
            )
            .ratio(
                "cpu_vs_no_rbl",
                paired(&s.many, &none.many, |x| x.cpu_us),
                "server CPU-µs per login / of the server without features (paired)",
            )
    };
    let base = PhaseReport::ran(
        "R1-0",
        "/auth/json, no features, a fresh client address per login",
        none.many.clone(),
    )
    .detail("one_connection", median(&none.one).json());
    Ok(vec![
        base,
        report(
            ID,
            "rbl, two lists, a fresh unlisted client per login (both looked up in parallel)",
            &listed,
        )
        .detail("lists", json!(["bl1.test", "bl2.test"])),
        report(
            "R1c",
            "rbl, two lists, the same client again (resolver cache)",
            &hit,
        ),
        report("R1a", "rbl, allowlisted client (no lookup)", &allowed),
    ])
}
