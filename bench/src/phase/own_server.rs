//! Measuring a server process a phase starts for itself (S1, R1), which the fixture does not
//! know: the same load and CPU accounting as [`Bench::sample`], by the process's own pid.

use crate::error::BenchError;
use crate::load::{LoadSpec, Pace, Target, generate};
use crate::phase::{Bench, Sample};
use crate::server::ServerProcess;

/// One load run against `server` with its CPU time around it. Fails when no answer was right.
pub async fn sample(
    bench: &Bench,
    server: &ServerProcess,
    target: &Target,
    spec: LoadSpec,
) -> Result<Sample, BenchError> {
    let before = bench.cpu_of(server.pid())?;
    let out = generate(target, spec).await?;
    let after = bench.cpu_of(server.pid())?;
    if out.completed == 0 {
        return Err(BenchError::Failed(format!(
            "no expected answer ({} errors; first: {})",
            out.errors,
            out.first_error.as_deref().unwrap_or("none")
        )));
    }
    if let Some(e) = &out.first_error {
        eprintln!("    warning: {} errors, first: {e}", out.errors);
    }
    Ok(Sample {
        rate: out.rate(),
        cpu_us: (after - before).as_secs_f64() * 1e6 / out.completed as f64,
        p50_us: out.quantile_us(0.50),
        p99_us: out.quantile_us(0.99),
        requests: out.completed,
        errors: out.errors,
        response_bytes: out.response_bytes,
    })
}

/// Warm-up, then `settings.reps` repetitions against `server`.
pub async fn measure(
    bench: &Bench,
    server: &ServerProcess,
    target: &Target,
    connections: usize,
) -> Result<Vec<Sample>, BenchError> {
    bench.warm_up(target, connections, Pace::Closed).await?;
    let mut reps = Vec::with_capacity(bench.settings.reps);
    for _ in 0..bench.settings.reps.max(1) {
        reps.push(sample(bench, server, target, bench.spec(connections, Pace::Closed)).await?);
    }
    Ok(reps)
}
