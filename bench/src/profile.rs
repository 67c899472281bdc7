//! Optional profiles (`--profile`): `perf record -g` of the server while a closed loop runs a
//! phase's request, summarised with `perf report` (self time and, separately, time including
//! callees, by symbol).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{BenchError, IoContext};
use crate::load::{LoadSpec, Pace, Target, generate};

/// Lines of each `perf report` view kept in the summary.
const TOP: usize = 25;

/// Profiles the server (`pid`) under `target` for `duration`; writes `perf.data` and the
/// reports to `dir/<name>-*.txt` and returns the summary text.
pub async fn profile(
    pid: u32,
    target: &Target,
    connections: usize,
    duration: Duration,
    dir: &Path,
    name: &str,
) -> Result<String, BenchError> {
    std::fs::create_dir_all(dir).context(format!("creating {}", dir.display()))?;
    let data = dir.join(format!("{name}.perf.data"));
    let mut perf = Command::new("perf")
        .args(["record", "-F", "999", "-g", "-p", &pid.to_string(), "-o"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("running perf (Debian package linux-perf)")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let load = generate(
        target,
        LoadSpec {
            connections,
            pace: Pace::Closed,
            duration,
        },
    )
    .await;
    let _ = Command::new("kill")
        .args(["-INT", &perf.id().to_string()])
        .status();
    let _ = perf.wait();
    load?;
    let mut summary = String::new();
    for (view, args) in [("self", vec!["--no-children"]), ("children", vec!["--children"])] {
        let out = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--sort",
                "symbol",
                "-g",
                "none",
                "--percent-limit",
                "0.5",
            ])
            .args(&args)
            .arg("-i")
            .arg(&data)
            .stderr(Stdio::null())
            .output()
            .context("running perf report")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        std::fs::write(dir.join(format!("{name}-{view}.txt")), &text).context("writing the perf report")?;
        summary.push_str(&format!("--- {name}: {view} ---\n"));
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .take(TOP)
        {
            // perf pads its columns to a terminal width; keep the percentages and the symbol.
            let line = line.trim_end();
            summary.push_str(
                line.strip_suffix('-')
                    .map_or(line, |l| l.trim_end().trim_end_matches('-').trim_end()),
            );
            summary.push('\n');
        }
    }
    Ok(summary)
}
