//! `--instructions` (phase `I`): instructions the server executes per request of P0 (the bare
//! route), P1 (in-process cache hit) and P2 (brute force + positive cache in Redis), counted by
//! valgrind's callgrind. Unlike rates and CPU time, an instruction count hardly moves when other
//! processes share the machine, so a change's cost shows even on a busy machine.
//!
//! Two extra servers of the run's configuration (without and with brute force, on the run's
//! Redis) run under `valgrind --tool=callgrind`. For each path: warm-up requests (callgrind
//! translates code the first time it runs), then `callgrind_control --zero`, `COUNT` requests
//! one after the other on one keep-alive connection, `callgrind_control --dump`; the dump's
//! total of `Ir` divided by `COUNT` is the figure. It includes everything the process does in
//! that time (all threads: hyper, the pipeline, the Redis client, the logger), which is what a
//! request costs. `perf stat -e instructions` would do the same where the machine exposes the
//! counter; virtual machines often do not.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::error::{BenchError, IoContext};
use crate::fixture::{ALICE, login_body, login_to};
use crate::load::{Target, exchange, post_json, sequential};
use crate::phase::{Bench, PhaseReport};
use crate::server::ServerProcess;

pub const ID: &str = "I";
/// Requests counted per path and repetition.
const COUNT: usize = 1000;
/// Requests before counting.
const WARMUP: usize = 300;
/// Servers under valgrind start slowly.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// True when valgrind (with `callgrind_control`) is installed.
pub fn available() -> bool {
    ["valgrind", "callgrind_control"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A server under callgrind and where its dumps go.
struct Counted {
    server: ServerProcess,
    dir: PathBuf,
}

impl Counted {
    fn start(bench: &Bench, dir: &Path, brute_force: bool) -> Result<Self, BenchError> {
        let dir = dir.join(if brute_force { "guarded" } else { "server" });
        std::fs::create_dir_all(&dir).context(format!("creating {}", dir.display()))?;
        let wrapper = vec![
            "valgrind".to_owned(),
            "--tool=callgrind".to_owned(),
            format!("--callgrind-out-file={}/callgrind.out.%p", dir.display()),
            "--collect-atstart=yes".to_owned(),
            "--quiet".to_owned(),
        ];
        let server = bench
            .fixture
            .start_server(&wrapper, STARTUP_TIMEOUT, brute_force)?;
        Ok(Self { server, dir })
    }

    fn control(&self, what: &str) -> Result<(), BenchError> {
        let status = Command::new("callgrind_control")
            .arg(what)
            .arg(self.server.pid().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running callgrind_control (Debian package valgrind)")?;
        if status.success() {
            Ok(())
        } else {
            Err(BenchError::Failed(format!("callgrind_control {what} failed")))
        }
    }

    /// Instructions per request of `target` over `COUNT` requests.
    async fn per_request(&self, target: &Target) -> Result<f64, BenchError> {
        let before = dumps(&self.dir)?;
        self.control("--zero")?;
        sequential(target, COUNT).await?;
        self.control("--dump")?;
        let after = dumps(&self.dir)?;
        let new = after
            .iter()
            .filter(|p| !before.contains(p))
            .max()
            .ok_or_else(|| BenchError::Failed("callgrind wrote no dump".into()))?;
        let text = std::fs::read_to_string(new).context(format!("reading {}", new.display()))?;
        let total =
            total_ir(&text).ok_or_else(|| BenchError::Failed(format!("no totals in {}", new.display())))?;
        Ok(total as f64 / COUNT as f64)
    }
}

fn dumps(dir: &Path) -> Result<Vec<PathBuf>, BenchError> {
    Ok(std::fs::read_dir(dir)
        .context(format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect())
}

/// The `Ir` total of a callgrind dump (`totals:` line, else `summary:`).
fn total_ir(text: &str) -> Option<u64> {
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    line("totals:").or_else(|| line("summary:"))
}

/// Counts instructions per request of P0, P1 and P2; dumps go under `dir`.
pub async fn run(bench: &Bench, dir: &Path) -> Result<Vec<PhaseReport>, BenchError> {
    if !available() {
        return Ok(vec![PhaseReport::skipped(
            ID,
            "instructions per request (callgrind)",
            "valgrind is not installed (Debian package valgrind)",
        )]);
    }
    let plain = Counted::start(bench, dir, false)?;
    let guarded = Counted::start(bench, dir, true)?;
    let (p1_request, p2_request) = (
        login_to(plain.server.addr(), "", ALICE.0, ALICE.1, "192.0.2.1"),
        login_to(
            guarded.server.addr(),
            "?in-memory=0",
            ALICE.0,
            ALICE.1,
            "192.0.2.1",
        ),
    );
    // The bare route answers as many bytes as P1's answer has.
    let (status, _, body) = exchange(plain.server.addr(), &p1_request).await?;
    if status != 200 {
        return Err(BenchError::Failed(format!("P1's login answered {status}")));
    }
    let p0_request = post_json(
        plain.server.addr(),
        &format!("/api/v1/bench/bare?bytes={}", body.len()),
        &login_body(ALICE.0, ALICE.1, "192.0.2.1"),
    );
    let paths = [
        ("P0", &plain, Target::single(plain.server.addr(), p0_request, 200)),
        ("P1", &plain, Target::single(plain.server.addr(), p1_request, 200)),
        (
            "P2",
            &guarded,
            Target::single(guarded.server.addr(), p2_request, 200),
        ),
    ];
    let reps = bench.settings.reps.max(1);
    let mut figures: Vec<(&str, Vec<f64>)> = Vec::new();
    for (name, server, target) in &paths {
        sequential(target, WARMUP).await?;
        let mut counts = Vec::with_capacity(reps);
        for _ in 0..reps {
            counts.push(server.per_request(target).await?);
        }
        eprintln!("    {name}: {counts:.0?} instructions per request");
        figures.push((name, counts));
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let of = |name: &str| {
        figures
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(f64::NAN, |(_, v)| median(v))
    };
    let mut report = PhaseReport::ran(ID, "instructions per request (callgrind, sequential)", Vec::new())
        .detail("requests_per_repetition", COUNT)
        .detail("tool", "valgrind --tool=callgrind, Ir of all threads");
    for (name, counts) in &figures {
        report = report.detail(
            &format!("{name}_instructions_per_request"),
            json!({"median": median(counts).round(), "repetitions": counts.iter().map(|c| c.round()).collect::<Vec<_>>()}),
        );
    }
    let p0 = of("P0");
    Ok(vec![
        report
            .ratio(
                "P1_vs_P0",
                of("P1") / p0,
                "instructions per P1 request / per bare request",
            )
            .ratio(
                "P2_vs_P0",
                of("P2") / p0,
                "instructions per P2 request / per bare request",
            ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_comes_from_the_totals_line() {
        let dump = "version: 1\nevents: Ir\nsummary: 1234\nfn=main\n1 1\ntotals: 1234\n";
        assert_eq!(total_ir(dump), Some(1234));
        assert_eq!(total_ir("events: Ir\nsummary: 99\n"), Some(99));
        assert_eq!(total_ir("events: Ir\n"), None);
    }
}
