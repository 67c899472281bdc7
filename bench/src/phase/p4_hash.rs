//! P4: the password verification path — both caches bypassed (`?in-memory=0&cache=0`), the
//! passwd-file backend verifies `{ARGON2ID}` and `{SSHA512}`. The ceiling of each is how many
//! hashes the server's cores can verify: cores / t_hash, with t_hash one verify measured alone
//! by criterion (in a child process on the server's cores, so its output stays out of ours).

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use nauthilus_backends::password::PasswordHash;

use crate::criterion_summary::median_ns;
use crate::error::{BenchError, IoContext};
use crate::fixture::{ARGON2ID, ARGON2ID_HASH, SSHA512, SSHA512_HASH};
use crate::load::{Pace, Target, exchange};
use crate::phase::{Bench, PhaseReport, median, p0_bare, paired, round};

pub const ID_ARGON2ID: &str = "P4a";
pub const ID_SSHA512: &str = "P4b";
/// The criterion group the child process writes.
const GROUP: &str = "hash_verify";
/// The argument that makes the benchmark binary measure hashes instead of running phases.
pub const CHILD_COMMAND: &str = "hash-verify";

/// Measures one verify of each scheme with criterion, writing its results under `dir` (runs in
/// the child process).
pub fn measure_hashes(dir: &Path) -> Result<(), BenchError> {
    let mut c = Criterion::default()
        .output_directory(dir)
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    let mut group = c.benchmark_group(GROUP);
    for (name, stored, password) in [
        ("argon2id", ARGON2ID_HASH, ARGON2ID.1),
        ("ssha512", SSHA512_HASH, SSHA512.1),
    ] {
        let hash = PasswordHash::parse(stored).map_err(|e| BenchError::Failed(format!("{name}: {e}")))?;
        if !hash.verify(password.as_bytes()) {
            return Err(BenchError::Failed(format!(
                "{name}: the password does not verify"
            )));
        }
        group.bench_function(name, |b| {
            b.iter(|| hash.verify(std::hint::black_box(password.as_bytes())))
        });
    }
    group.finish();
    Ok(())
}

/// Runs [`measure_hashes`] in a child process on the server's cores; returns t_hash (seconds)
/// of argon2id and ssha512.
fn hash_times(bench: &Bench) -> Result<(f64, f64), BenchError> {
    let dir = tempfile::tempdir().context("creating criterion's directory")?;
    let exe = std::env::current_exe().context("finding the benchmark binary")?;
    let log_path = dir.path().join("criterion.log");
    let log = std::fs::File::create(&log_path).context("creating criterion.log")?;
    let log2 = log.try_clone().context("cloning criterion.log")?;
    let status = bench
        .fixture
        .topology
        .on_server_cores(&exe.to_string_lossy())
        .arg(CHILD_COMMAND)
        .arg(dir.path())
        .stdout(log)
        .stderr(log2)
        .status()
        .context("running the hash benchmark")?;
    if !status.success() {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        return Err(BenchError::Failed(format!(
            "hash benchmark failed ({status}):\n{log}"
        )));
    }
    let t = |id: &str| {
        median_ns(dir.path(), GROUP, id)
            .map(|ns| ns / 1e9)
            .ok_or_else(|| BenchError::Failed(format!("criterion wrote no estimate for {id}")))
    };
    Ok((t("argon2id")?, t("ssha512")?))
}

async fn one(
    bench: &Bench,
    id: &str,
    scheme: &str,
    (user, password): (&str, &str),
    t_hash: f64,
    connections: usize,
    paired_with_bare: bool,
) -> Result<PhaseReport, BenchError> {
    let f = &bench.fixture;
    let request = f.login("?in-memory=0&cache=0", user, password, "192.0.2.4");
    let (status, _, _) = exchange(f.addr(), &request).await?;
    if status != 200 {
        return Err(BenchError::Failed(format!("{scheme} login answered {status}")));
    }
    let target = Target::single(f.addr(), request, 200);
    let bare = p0_bare::bare_target(bench).await?;
    let (reps, base) = if paired_with_bare {
        bench
            .measure_paired(&target, &bare, connections, Pace::Closed)
            .await?
    } else {
        (
            bench.measure(&target, connections, Pace::Closed).await?,
            Vec::new(),
        )
    };
    let cores = f.topology.server_cores as f64;
    let hash_ceiling = cores / t_hash;
    let mut report = PhaseReport::ran(
        id,
        &format!("{scheme} verify via passwd-file, no caches"),
        reps.clone(),
    )
    .detail("t_hash_us", round(t_hash * 1e6, 3))
    .detail("server_cores", f.topology.server_cores)
    .detail("hash_ceiling_per_s", round(hash_ceiling, 1));
    let m = report.median.clone();
    report = report.ratio(
        "rate_vs_hash_ceiling",
        m.rate / hash_ceiling,
        "requests/s / (server cores ÷ t_hash of one verify alone)",
    );
    if !base.is_empty() {
        report = report
            .detail("paired_P0", median(&base).json())
            .ratio(
                "rate_vs_P0",
                paired(&reps, &base, |s| s.rate),
                "requests/s / of the bare route (paired); the ceiling when hashing is cheaper",
            )
            .ratio(
                "cpu_vs_P0",
                paired(&reps, &base, |s| s.cpu_us),
                "server CPU-µs per request / of the bare route (paired)",
            );
    }
    Ok(report)
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let (t_argon2id, t_ssha512) = hash_times(bench)?;
    // Slow hashes: a few connections per core keep the verifier busy without a long queue.
    let slow = bench.fixture.topology.server_cores * 2;
    Ok(vec![
        one(
            bench,
            ID_ARGON2ID,
            "{ARGON2ID}",
            ARGON2ID,
            t_argon2id,
            slow,
            false,
        )
        .await?,
        one(
            bench,
            ID_SSHA512,
            "{SSHA512}",
            SSHA512,
            t_ssha512,
            bench.settings.connections,
            true,
        )
        .await?,
    ])
}
