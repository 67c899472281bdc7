//! P5: failed logins at a fixed rate (open loop, the L rate): wrong passwords for a cached
//! account from many client addresses, as a password-spraying attack sends them. The figure is
//! the server's CPU per failed login against a successful cached one (L) at the same rate.

use std::sync::Arc;

use crate::error::BenchError;
use crate::fixture::ALICE;
use crate::load::{Pace, Target};
use crate::phase::{Bench, PhaseReport, latency, round};

pub const ID: &str = "P5";
/// Distinct (password, client address) pairs sent in turn.
const VARIANTS: usize = 64;

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let rate = latency::half_peak(bench)?;
    let f = &bench.fixture;
    let requests = (0..VARIANTS)
        .map(|i| {
            f.login(
                "",
                ALICE.0,
                &format!("wrong-{i}"),
                &format!("198.51.100.{}", i + 1),
            )
        })
        .collect();
    let target = Target {
        addr: f.addr(),
        requests: Arc::new(requests),
        expect_status: 403,
    };
    let reps = bench
        .measure(&target, bench.settings.connections, Pace::Open { rate })
        .await?;
    let mut report = PhaseReport::ran(ID, "failed logins at 50 % of P1's peak, open loop", reps)
        .detail("rate_per_s", round(rate, 1));
    let m = report.median.clone();
    if let Some(p1) = bench.report(crate::phase::p1_memory::ID) {
        report = report.ratio(
            "cpu_vs_P1_peak",
            m.cpu_us / p1.median.cpu_us,
            "server CPU-µs per failed login / per cached login at P1's peak",
        );
    }
    if let Some(l) = bench.report(latency::ID) {
        report = report.ratio(
            "cpu_vs_P1",
            m.cpu_us / l.median.cpu_us,
            "server CPU-µs per failed login / per cached login (L), same rate",
        );
    }
    Ok(vec![report])
}
