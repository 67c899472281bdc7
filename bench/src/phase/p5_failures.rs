//! P5: failed logins at a fixed rate (open loop, 20 % of P1's peak: a failure costs a few times
//! a cached login, so at L's rate the server would be saturated): wrong passwords for a cached
//! account, each from another address of 198.18.0.0/15 (the benchmarking range), as a
//! password-spraying botnet sends them. Measured twice: against the server with brute-force
//! protection (P5: buckets fill, networks get banned, banned logins stop at the ban check) and
//! against the one without (P5n: every failure goes through the caches and the passwd-file).
//! The figure is the server's CPU per failed login against a successful cached one on the same
//! server (P1's request at the same rate, measured in turn with it): with brute force on, a
//! cached login pays for the ban check too, so P5 compares like with like.

use std::net::SocketAddr;
use std::sync::Arc;

use nauthilus_testkit::Reply;

use crate::error::BenchError;
use crate::fixture::{ALICE, login_to};
use crate::load::{Pace, Target};
use crate::phase::{Bench, PhaseReport, latency, median, paired, round};

pub const ID: &str = "P5";
pub const ID_UNGUARDED: &str = "P5n";
/// Distinct (password, client address) pairs sent in turn.
const VARIANTS: u32 = 4096;
/// The share of P1's peak rate at which failures are sent.
const RATE_SHARE: f64 = 0.2;

fn failures(addr: SocketAddr) -> Target {
    let requests = (0..VARIANTS)
        .map(|i| {
            let ip = format!("198.18.{}.{}", i / 256, i % 256);
            login_to(addr, "", ALICE.0, &format!("wrong-{i}"), &ip)
        })
        .collect();
    Target {
        addr,
        requests: Arc::new(requests),
        expect_status: 403,
    }
}

async fn one(
    bench: &Bench,
    id: &str,
    title: &str,
    addr: SocketAddr,
    rate: f64,
) -> Result<PhaseReport, BenchError> {
    let pace = Pace::Open { rate };
    // P1's request, to the same server.
    let cached = Target::single(addr, login_to(addr, "", ALICE.0, ALICE.1, "192.0.2.1"), 200);
    let (reps, base) = bench
        .measure_paired(&failures(addr), &cached, bench.settings.connections, pace)
        .await?;
    let report = PhaseReport::ran(id, title, reps.clone())
        .detail("rate_per_s", round(rate, 1))
        .detail("paired_P1", median(&base).json())
        .ratio(
            "cpu_vs_P1",
            paired(&reps, &base, |s| s.cpu_us),
            "server CPU-µs per failed login / per cached login (P1's request) to the same server, same rate (paired)",
        );
    Ok(report)
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let rate = latency::share_of_peak(bench, RATE_SHARE)?;
    let f = &bench.fixture;
    let guarded = one(
        bench,
        ID,
        "failed logins, brute force on, 20 % of P1's peak, open loop",
        f.guarded.addr(),
        rate,
    )
    .await?;
    let guarded = match f.redis.command(&["SCARD", "nauthilus:bf:bans"])? {
        Reply::Integer(n) => guarded.detail("banned_networks_after", n),
        _ => guarded,
    };
    let unguarded = one(
        bench,
        ID_UNGUARDED,
        "failed logins, no brute force, 20 % of P1's peak, open loop",
        f.addr(),
        rate,
    )
    .await?;
    Ok(vec![guarded, unguarded])
}
