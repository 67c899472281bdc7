//! P2: `POST /api/v1/auth/json?in-memory=0` to the server with brute-force protection — the
//! in-process cache is bypassed; the ban check and the positive cache go to a real Redis. Its ceiling is Redis itself, measured in the same run with
//! `redis-benchmark` (GET, unpipelined, client on the server's cores like our server) and
//! divided by the round trips one login makes, counted from Redis's `INFO stats` over
//! sequential logins.

use std::process::Stdio;

use crate::error::{BenchError, IoContext};
use crate::fixture::{ALICE, info_number};
use crate::load::{Pace, Target, exchange};
use crate::phase::{Bench, PhaseReport, Sample, median, p0_bare, paired, round};

pub const ID: &str = "P2";
/// Sequential logins over which round trips and commands are counted.
const PROBE_LOGINS: u64 = 200;
/// GETs per `redis-benchmark` repetition.
const REDIS_BENCHMARK_REQUESTS: &str = "100000";

/// The P2 request.
pub fn target(bench: &Bench) -> Target {
    let f = &bench.fixture;
    Target::single(
        f.guarded.addr(),
        f.guarded_login("?in-memory=0", ALICE.0, ALICE.1, "192.0.2.1"),
        200,
    )
}

/// GETs per second `redis-benchmark` reaches against the run's Redis (16 clients, no pipelining).
fn redis_get_rate(bench: &Bench) -> Result<f64, BenchError> {
    let port = bench.fixture.redis.port().to_string();
    let out = bench
        .fixture
        .topology
        .on_server_cores("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port, "-t", "get", "-c", "16", "-P", "1"])
        .args(["-n", REDIS_BENCHMARK_REQUESTS, "--csv"])
        .stderr(Stdio::null())
        .output()
        .context("running redis-benchmark (Debian package redis-tools)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("\"GET\",\""))
        .and_then(|rest| rest.split('"').next())
        .and_then(|rate| rate.parse().ok())
        .ok_or_else(|| BenchError::Failed(format!("unexpected redis-benchmark output: {text}")))
}

/// Redis round trips (read events) and commands per login, over sequential logins.
async fn per_login(bench: &Bench) -> Result<(f64, f64), BenchError> {
    let f = &bench.fixture;
    let request = target(bench).requests[0].clone();
    let before = f.redis_info()?;
    for _ in 0..PROBE_LOGINS {
        let (status, head, _) = exchange(f.guarded.addr(), &request).await?;
        if status != 200
            || !head
                .to_ascii_lowercase()
                .contains("x-nauthilus-memory-cache: miss")
        {
            return Err(BenchError::Failed(format!(
                "P2 login did not bypass the in-process cache: {head}"
            )));
        }
    }
    let after = f.redis_info()?;
    let delta = |field: &str| -> Result<f64, BenchError> {
        let d = info_number(&after, field)?.saturating_sub(info_number(&before, field)?);
        // The first INFO counts as a command and the second as a read: not the logins'.
        Ok(d.saturating_sub(1) as f64 / PROBE_LOGINS as f64)
    };
    Ok((
        delta("total_reads_processed")?,
        delta("total_commands_processed")?,
    ))
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    // Warm the positive cache (the first login verifies against the passwd-file and writes it).
    let target = target(bench);
    exchange(target.addr, &target.requests[0]).await?;
    let (round_trips, commands) = per_login(bench).await?;
    let bare = p0_bare::bare_target(bench).await?;
    let n = bench.settings.connections;
    bench.warm_up(&bare, n, Pace::Closed).await?;
    bench.warm_up(&target, n, Pace::Closed).await?;

    // Per repetition: Redis alone, the bare route, P2 — each ratio is taken within one pair.
    let redis_pid = bench.fixture.redis.pid();
    let (mut reps, mut base, mut ceilings) = (Vec::new(), Vec::new(), Vec::new());
    let mut redis_cpu = std::time::Duration::ZERO;
    for _ in 0..bench.settings.reps.max(1) {
        let ceiling = redis_get_rate(bench)? / round_trips.max(1.0);
        ceilings.push(Sample {
            rate: ceiling,
            ..Sample::default()
        });
        base.push(bench.sample(&bare, bench.spec(n, Pace::Closed)).await?);
        let before = redis_pid.map(|p| bench.cpu_of(p)).transpose()?;
        reps.push(bench.sample(&target, bench.spec(n, Pace::Closed)).await?);
        if let (Some(p), Some(b)) = (redis_pid, before) {
            redis_cpu += bench.cpu_of(p)? - b;
        }
    }
    let total: u64 = reps.iter().map(|s| s.requests).sum();
    let ceiling = median(&ceilings).rate;
    let report = PhaseReport::ran(
        ID,
        "/auth/json?in-memory=0: brute force + positive cache in Redis",
        reps.clone(),
    )
    .detail(
        "redis_cpu_us_per_request",
        round(redis_cpu.as_secs_f64() * 1e6 / total.max(1) as f64, 2),
    )
    .detail("redis_get_per_s", round(ceiling * round_trips.max(1.0), 0))
    .detail("redis_round_trips_per_login", round(round_trips, 2))
    .detail("redis_commands_per_login", round(commands, 2))
    .detail("redis_ceiling_logins_per_s", round(ceiling, 0))
    .detail("brute_force", "on: ban check, then the positive cache")
    .detail("paired_P0", median(&base).json())
    .ratio(
        "rate_vs_redis_ceiling",
        paired(&reps, &ceilings, |s| s.rate),
        "requests/s of P2 / (redis-benchmark GET/s ÷ round trips per login), paired",
    )
    .ratio(
        "rate_vs_P0",
        paired(&reps, &base, |s| s.rate),
        "requests/s of P2 / of the bare route (paired)",
    )
    .ratio(
        "cpu_vs_P0",
        paired(&reps, &base, |s| s.cpu_us),
        "server CPU-µs per request of P2 / of the bare route (paired)",
    );
    Ok(vec![report])
}
