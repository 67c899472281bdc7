//! Reads criterion's results back and prints the summary of the criterion bench in `benches/`:
//! each login path's median latency, and its cost over a bare endpoint measured in the same run.

use std::path::{Path, PathBuf};

/// Where criterion writes, under the workspace's target directory.
pub fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

/// The median (ns) criterion estimated for `group/id` in the last run.
pub fn median_ns(dir: &Path, group: &str, id: &str) -> Option<f64> {
    let path = dir.join(group).join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// One row of the summary: a benchmark and how to name it.
pub struct Row<'a> {
    pub group: &'a str,
    pub id: &'a str,
    pub label: &'a str,
}

/// Prints medians, the difference to `baseline` (same group) and the ratio to it.
pub fn print_summary(dir: &Path, title: &str, baseline: &Row<'_>, rows: &[Row<'_>]) {
    println!("\n{title}");
    let base = median_ns(dir, baseline.group, baseline.id);
    println!(
        "  {:<46} {:>12}",
        baseline.label,
        base.map_or("n/a".into(), format_ns)
    );
    for row in rows {
        let Some(m) = median_ns(dir, row.group, row.id) else {
            println!("  {:<46} {:>12}", row.label, "n/a");
            continue;
        };
        match base {
            Some(b) if b > 0.0 => println!(
                "  {:<46} {:>12}   {:>+11} over baseline   ×{:.2}",
                row.label,
                format_ns(m),
                format_ns(m - b),
                m / b
            ),
            _ => println!("  {:<46} {:>12}", row.label, format_ns(m)),
        }
    }
}

fn format_ns(ns: f64) -> String {
    if ns.abs() >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns.abs() >= 1_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}
