//! P1: `POST /api/v1/auth/json`, answered from the in-process cache, against P0.

use crate::error::BenchError;
use crate::fixture::ALICE;
use crate::load::{Pace, Target};
use crate::phase::{Bench, PhaseReport, median, p0_bare, paired};

pub const ID: &str = "P1";

/// The P1 request: a valid login that the in-process cache answers once warm.
pub fn target(bench: &Bench) -> Target {
    let f = &bench.fixture;
    Target::single(f.addr(), f.login("", ALICE.0, ALICE.1, "192.0.2.1"), 200)
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let bare = p0_bare::bare_target(bench).await?;
    let (reps, base) = bench
        .measure_paired(&target(bench), &bare, bench.settings.connections, Pace::Closed)
        .await?;
    let report = PhaseReport::ran(ID, "/auth/json, in-process cache hit", reps.clone())
        .ratio(
            "rate_vs_P0",
            paired(&reps, &base, |s| s.rate),
            "requests/s of P1 / of the bare route (median of paired repetitions)",
        )
        .ratio(
            "cpu_vs_P0",
            paired(&reps, &base, |s| s.cpu_us),
            "server CPU-µs per request of P1 / of the bare route (paired)",
        )
        .detail("paired_P0", median(&base).json());
    Ok(vec![report])
}
