//! P1: `POST /api/v1/auth/json`, answered from the in-process cache, against P0.

use crate::error::BenchError;
use crate::fixture::ALICE;
use crate::load::{Pace, Target};
use crate::phase::{Bench, PhaseReport, p0_bare};

pub const ID: &str = "P1";

/// The P1 request: a valid login that the in-process cache answers once warm.
pub fn target(bench: &Bench) -> Target {
    let f = &bench.fixture;
    Target::single(f.addr(), f.login("", ALICE.0, ALICE.1, "192.0.2.1"), 200)
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let reps = bench
        .measure(&target(bench), bench.settings.connections, Pace::Closed)
        .await?;
    let mut report = PhaseReport::ran(ID, "/auth/json, in-process cache hit", reps);
    if let Some(p0) = bench.report(p0_bare::ID) {
        let m = report.median.clone();
        report = report
            .ratio(
                "rate_vs_P0",
                m.rate / p0.median.rate,
                "requests/s of P1 / requests/s of the bare route",
            )
            .ratio(
                "cpu_vs_P0",
                m.cpu_us / p0.median.cpu_us,
                "server CPU-µs per request of P1 / of the bare route",
            )
            .detail(
                "cpu_us_over_P0",
                crate::phase::round(m.cpu_us - p0.median.cpu_us, 2),
            );
    }
    Ok(vec![report])
}
