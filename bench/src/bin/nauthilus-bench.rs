//! `nauthilus-bench`: the phases of `bench/run`, in one run, against one server process.
//! Prints the table on stderr and one JSON object on stdout.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use nauthilus_bench::cpu::{Topology, allowed_cpus};
use nauthilus_bench::fixture::Fixture;
use nauthilus_bench::phase::{self, Bench, PhaseReport, Settings};
use nauthilus_bench::report::{Machine, json, table};
use nauthilus_bench::{BenchError, profile};

/// The phases, in order: L and P5 pace themselves from P1, the ratios divide by P0. `I`
/// (instructions per request under callgrind) runs only when asked for (`--instructions`, or
/// `--only I`).
const PHASES: &[&str] = &[
    "P0", "P1", "P2", "P3", "S1", "R1", "P4", "L", "P5", "L1", "O1", "O2", "M", "I",
];

#[derive(Parser, Debug)]
#[command(about = "Measures nauthilus against the machine's own ceilings and prints ratios")]
struct Args {
    /// The server binary, built with `--features bench` (default: `nauthilus` beside this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Seconds of load before each phase's repetitions.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Seconds of one repetition.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Repetitions per phase (the median is reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Connections of the load generator.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Only these phases (comma-separated ids, e.g. `P0,P1`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Also profile the server with perf under P1's and P2's load; reports go to this directory.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Also count instructions per P0, P1 and P2 request with valgrind's callgrind (phase I).
    #[arg(long)]
    instructions: bool,
    /// Also write the JSON object to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    // Child mode: the hash-verify measurement of P4, kept out of this process's output.
    if argv.get(1).map(String::as_str) == Some(phase::p4_hash::CHILD_COMMAND) {
        let Some(dir) = argv.get(2) else {
            eprintln!("usage: nauthilus-bench {} DIR", phase::p4_hash::CHILD_COMMAND);
            return ExitCode::FAILURE;
        };
        return match phase::p4_hash::measure_hashes(std::path::Path::new(dir)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if argv.get(1).map(String::as_str) == Some(phase::s1_sql::CHILD_COMMAND) {
        return match phase::s1_sql::child_main(&argv[2..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if argv.get(1).map(String::as_str) == Some(phase::p3_ldap::CHILD_COMMAND) {
        return match phase::p3_ldap::child_main(&argv[2..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the phases; `Ok(false)` when one of them failed (the others still ran).
fn run(args: Args) -> Result<bool, BenchError> {
    let started = Instant::now();
    let server = match args.server {
        Some(p) => p,
        None => std::env::current_exe()
            .map_err(|e| BenchError::Failed(format!("cannot find this binary: {e}")))?
            .with_file_name("nauthilus"),
    };
    // The server's directory is its working directory: the path must not be relative.
    let server = std::fs::canonicalize(&server)
        .map_err(|e| BenchError::Failed(format!("{}: {e}", server.display())))?;
    let topology = Topology::split(&allowed_cpus());
    // Described before pinning: afterwards this process sees only its own cores.
    let machine = Machine::describe(topology.server_cpus.as_deref(), topology.client_cpus.as_deref());
    topology.pin_self()?;
    eprintln!(
        "==> {} × {} ; server on cpu {}, load on cpu {}",
        machine.nproc, machine.cpu_model, machine.server_cpus, machine.client_cpus
    );
    let settings = Settings {
        warmup: secs(args.warmup),
        duration: secs(args.seconds),
        reps: args.reps.max(1),
        connections: args.connections.max(1),
    };
    let fixture = Fixture::start(server, topology)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Failed(format!("cannot start the runtime: {e}")))?;
    let mut bench = Bench::new(settings, fixture);
    let mut all_ok = true;
    runtime.block_on(async {
        for &id in PHASES {
            let asked = args.only.iter().any(|o| o == id);
            let wanted = if id == nauthilus_bench::instructions::ID {
                asked || args.instructions
            } else {
                args.only.is_empty() || asked
            };
            if !wanted {
                continue;
            }
            eprintln!("==> {id}");
            match run_phase(id, &bench).await {
                Ok(reports) => bench.reports.extend(reports),
                Err(e) => {
                    all_ok = false;
                    eprintln!("    {id} failed: {e}");
                    bench
                        .reports
                        .push(PhaseReport::skipped(id, "", &format!("failed: {e}")));
                }
            }
        }
    });
    let mut extra = serde_json::Map::new();
    if let Some(dir) = &args.profile {
        let summary = runtime.block_on(profiles(&bench, dir))?;
        eprintln!("{summary}");
        extra.insert("profiles".into(), summary.into());
    }
    extra.insert(
        "wall_time_s".into(),
        phase::round(started.elapsed().as_secs_f64(), 1).into(),
    );
    eprintln!("\n{}", table(&bench.reports));
    let object = json(&machine, &bench.settings, &bench.reports, extra);
    let text = serde_json::to_string_pretty(&object)
        .map_err(|e| BenchError::Failed(format!("cannot render JSON: {e}")))?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, &text)
            .map_err(|e| BenchError::Failed(format!("writing {}: {e}", path.display())))?;
    }
    Ok(all_ok)
}

async fn run_phase(id: &str, bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    match id {
        "P0" => phase::p0_bare::run(bench).await,
        "P1" => phase::p1_memory::run(bench).await,
        "P2" => phase::p2_redis::run(bench).await,
        "P3" => phase::p3_ldap::run(bench).await,
        "S1" => phase::s1_sql::run(bench).await,
        "R1" => phase::r1_rbl::run(bench).await,
        "P4" => phase::p4_hash::run(bench).await,
        "L" => phase::latency::run(bench).await,
        "P5" => phase::p5_failures::run(bench).await,
        "L1" => phase::l1_lua::run(bench).await,
        "M" => phase::m_memory::run(bench).await,
        "I" => {
            let dir = tempfile::tempdir()
                .map_err(|e| BenchError::Failed(format!("cannot create a directory for callgrind: {e}")))?;
            nauthilus_bench::instructions::run(bench, dir.path()).await
        }
        "O1" => phase::o1_client_credentials::run(bench).await,
        "O2" => phase::o2_introspection::run(bench).await,
        other => Err(BenchError::Failed(format!("no phase {other}"))),
    }
}

/// perf profiles of the server under P1's and P2's requests.
async fn profiles(bench: &Bench, dir: &std::path::Path) -> Result<String, BenchError> {
    let (n, d) = (
        bench.settings.connections,
        bench.settings.duration.max(Duration::from_secs(5)),
    );
    let mut summary = String::new();
    for (name, target) in [
        ("P1", phase::p1_memory::target(bench)),
        ("P2", phase::p2_redis::target(bench)),
    ] {
        eprintln!("==> profiling {name}");
        let pid = bench
            .fixture
            .process(target.addr)
            .map(|s| s.pid())
            .ok_or_else(|| BenchError::Failed(format!("no server for {name}")))?;
        summary.push_str(&profile::profile(pid, &target, n, d, dir, name).await?);
    }
    Ok(summary)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.0, 3600.0))
}
