//! L: latency at half of P1's peak rate, open loop (latency counted from when each request was
//! due), for P1's request and for the bare route at the same rate.

use crate::error::BenchError;
use crate::load::Pace;
use crate::phase::{Bench, PhaseReport, p0_bare, p1_memory, paired, round};

pub const ID: &str = "L";
pub const ID_BARE: &str = "L0";

/// The open-loop rate of L: half of P1's measured peak.
pub fn half_peak(bench: &Bench) -> Result<f64, BenchError> {
    share_of_peak(bench, 0.5)
}

/// `share` of P1's measured peak (the median of its repetitions).
pub fn share_of_peak(bench: &Bench, share: f64) -> Result<f64, BenchError> {
    bench
        .report(p1_memory::ID)
        .map(|p1| p1.median.rate * share)
        .ok_or_else(|| BenchError::Failed("L and P5 need P1's peak rate: run P1 first".into()))
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let rate = half_peak(bench)?;
    let pace = Pace::Open { rate };
    let n = bench.settings.connections;
    let bare = p0_bare::bare_target(bench).await?;
    let (login, base) = bench
        .measure_paired(&p1_memory::target(bench), &bare, n, pace)
        .await?;
    let bare = PhaseReport::ran(
        ID_BARE,
        "bare route at 50 % of P1's peak, open loop",
        base.clone(),
    )
    .detail("rate_per_s", round(rate, 1));
    let report = PhaseReport::ran(
        ID,
        "/auth/json cache hit at 50 % of P1's peak, open loop",
        login.clone(),
    )
    .detail("rate_per_s", round(rate, 1))
    .ratio(
        "p50_vs_bare",
        paired(&login, &base, |s| s.p50_us),
        "p50 of P1's request / of the bare route, same rate (paired)",
    )
    .ratio(
        "p99_vs_bare",
        paired(&login, &base, |s| s.p99_us),
        "p99 of P1's request / of the bare route, same rate (paired)",
    )
    .ratio(
        "cpu_vs_bare",
        paired(&login, &base, |s| s.cpu_us),
        "server CPU-µs per request / of the bare route, same rate (paired)",
    );
    Ok(vec![bare, report])
}
