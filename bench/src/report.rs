//! The results of a run: one JSON object (stdout) and a short table (stderr).

use serde_json::{Map, Value, json};

use crate::phase::PhaseReport;

/// Where and how the run happened.
#[derive(Clone, Debug)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub server_cpus: String,
    pub client_cpus: String,
}

impl Machine {
    /// This machine, as `/proc/cpuinfo` describes it.
    pub fn describe(server_cpus: Option<&str>, client_cpus: Option<&str>) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            nproc: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            server_cpus: server_cpus.unwrap_or("not pinned").to_owned(),
            client_cpus: client_cpus.unwrap_or("not pinned").to_owned(),
        }
    }
}

/// The whole run as one JSON object.
pub fn json(
    machine: &Machine,
    settings: &crate::phase::Settings,
    reports: &[PhaseReport],
    extra: Map<String, Value>,
) -> Value {
    let mut o = Map::new();
    o.insert(
        "machine".into(),
        json!({
            "nproc": machine.nproc,
            "cpu_model": machine.cpu_model,
            "server_cpus": machine.server_cpus,
            "load_cpus": machine.client_cpus,
        }),
    );
    o.insert(
        "settings".into(),
        json!({
            "warmup_s": settings.warmup.as_secs_f64(),
            "duration_s": settings.duration.as_secs_f64(),
            "repetitions": settings.reps,
            "connections": settings.connections,
            "statistic": "median of the repetitions",
        }),
    );
    o.insert(
        "phases".into(),
        Value::Array(reports.iter().map(PhaseReport::json).collect()),
    );
    o.extend(extra);
    Value::Object(o)
}

/// The table: one line per phase, its ratios below it.
pub fn table(reports: &[PhaseReport]) -> String {
    let mut out = format!(
        "{:<4} {:<58} {:>10} {:>11} {:>9} {:>9}\n",
        "", "phase", "req/s", "CPU-µs/req", "p50 µs", "p99 µs"
    );
    for r in reports {
        if let Some(why) = &r.skipped {
            out.push_str(&format!("{:<4} {:<58} {why}\n", r.id, r.title));
            continue;
        }
        if r.reps.is_empty() {
            // Counts, not load (phase I): the details are the figures.
            out.push_str(&format!("{:<4} {}\n", r.id, r.title));
            for (k, v) in &r.details {
                out.push_str(&format!("       {k:<36} {v}\n"));
            }
        } else {
            let m = &r.median;
            out.push_str(&format!(
                "{:<4} {:<58} {:>10.0} {:>11.1} {:>9.0} {:>9.0}\n",
                r.id, r.title, m.rate, m.cpu_us, m.p50_us, m.p99_us
            ));
        }
        for ratio in &r.ratios {
            out.push_str(&format!(
                "       {:<24} {:>7.3}   {}\n",
                ratio.name, ratio.value, ratio.meaning
            ));
        }
    }
    out
}
