//! L: latency at half of P1's peak rate, open loop (latency counted from when each request was
//! due), for P1's request and for the bare route at the same rate.

use crate::error::BenchError;
use crate::load::Pace;
use crate::phase::{Bench, PhaseReport, p0_bare, p1_memory, round};

pub const ID: &str = "L";
pub const ID_BARE: &str = "L0";

/// The open-loop rate of L and P5: half of P1's measured peak.
pub fn half_peak(bench: &Bench) -> Result<f64, BenchError> {
    bench
        .report(p1_memory::ID)
        .map(|p1| p1.median.rate / 2.0)
        .ok_or_else(|| BenchError::Failed("L and P5 need P1's peak rate: run P1 first".into()))
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let rate = half_peak(bench)?;
    let pace = Pace::Open { rate };
    let n = bench.settings.connections;
    let bare = bench
        .measure(&p0_bare::bare_target(bench).await?, n, pace)
        .await?;
    let login = bench.measure(&p1_memory::target(bench), n, pace).await?;
    let bare = PhaseReport::ran(ID_BARE, "bare route at 50 % of P1's peak, open loop", bare)
        .detail("rate_per_s", round(rate, 1));
    let mut report = PhaseReport::ran(ID, "/auth/json cache hit at 50 % of P1's peak, open loop", login)
        .detail("rate_per_s", round(rate, 1));
    let (m, b) = (report.median.clone(), bare.median.clone());
    report = report
        .ratio(
            "p50_vs_bare",
            m.p50_us / b.p50_us,
            "p50 of P1's request / p50 of the bare route, same rate",
        )
        .ratio(
            "p99_vs_bare",
            m.p99_us / b.p99_us,
            "p99 of P1's request / p99 of the bare route, same rate",
        )
        .ratio(
            "cpu_vs_bare",
            m.cpu_us / b.cpu_us,
            "server CPU-µs per request / of the bare route, same rate",
        );
    Ok(vec![bare, report])
}
