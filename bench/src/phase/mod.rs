//! The phases of `bench/run`, one module each. A phase measures one path of the server and
//! compares it with the ceiling that path cannot beat on this machine, measured in the same run
//! (the bare HTTP route, Redis, a hash verify alone, an LDAP client alone). Each returns a
//! [`PhaseReport`]; later phases may read earlier reports (L and P5 pace themselves from P1).
//!
//! To add a phase: a module with `pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>,
//! BenchError>`, and one line in the binary's list.

pub mod idp_pair;
pub mod l1_lua;
pub mod latency;
pub mod m_memory;
pub mod o1_client_credentials;
pub mod o2_introspection;
pub mod own_server;
pub mod p0_bare;
pub mod p1_memory;
pub mod p2_redis;
pub mod p3_ldap;
pub mod p4_hash;
pub mod p5_failures;
pub mod r1_rbl;
pub mod s1_sql;

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::cpu::{clock_ticks_per_second, process_cpu};
use crate::error::BenchError;
use crate::fixture::Fixture;
use crate::load::{LoadSpec, Pace, Target, generate};

/// How long and how often each measurement runs.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Load before the repetitions, not counted.
    pub warmup: Duration,
    /// One repetition.
    pub duration: Duration,
    /// Repetitions; the report gives their median.
    pub reps: usize,
    /// Connections of the closed loops and the open loops.
    pub connections: usize,
}

/// One repetition's figures.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Answers per second.
    pub rate: f64,
    /// Server CPU time (user + system) per answer, in microseconds.
    pub cpu_us: f64,
    /// Latency quantiles, in microseconds.
    pub p50_us: f64,
    pub p99_us: f64,
    /// Answers counted, and errors (unexpected status, broken connection, timeout).
    pub requests: u64,
    pub errors: u64,
    /// Size of one answer (status line, headers, body).
    pub response_bytes: usize,
}

impl Sample {
    /// As a JSON object.
    pub fn json(&self) -> Value {
        json!({
            "requests_per_s": round(self.rate, 1),
            "cpu_us_per_request": round(self.cpu_us, 2),
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "requests": self.requests,
            "errors": self.errors,
            "response_bytes": self.response_bytes,
        })
    }
}

/// Rounds for display in JSON.
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// The median of each figure over the repetitions.
pub fn median(samples: &[Sample]) -> Sample {
    let pick = |f: fn(&Sample) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    Sample {
        rate: pick(|s| s.rate),
        cpu_us: pick(|s| s.cpu_us),
        p50_us: pick(|s| s.p50_us),
        p99_us: pick(|s| s.p99_us),
        requests: samples.iter().map(|s| s.requests).sum(),
        errors: samples.iter().map(|s| s.errors).sum(),
        response_bytes: samples.iter().map(|s| s.response_bytes).max().unwrap_or(0),
    }
}

/// The median over repetitions of `f(path) / f(ceiling)`, pair by pair.
pub fn paired(path: &[Sample], ceiling: &[Sample], f: fn(&Sample) -> f64) -> f64 {
    let mut v: Vec<f64> = path.iter().zip(ceiling).map(|(p, c)| f(p) / f(c)).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One comparison with a ceiling: `value` = measured / ceiling (or cost / reference cost).
#[derive(Clone, Debug)]
pub struct Ratio {
    pub name: String,
    pub value: f64,
    /// What was divided by what, in words.
    pub meaning: String,
}

impl Ratio {
    pub fn new(name: &str, value: f64, meaning: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            value,
            meaning: meaning.into(),
        }
    }
}

/// What a phase found.
#[derive(Clone, Debug)]
pub struct PhaseReport {
    pub id: String,
    pub title: String,
    /// Why the phase did not run, if it did not.
    pub skipped: Option<String>,
    pub reps: Vec<Sample>,
    pub median: Sample,
    pub ratios: Vec<Ratio>,
    /// Phase-specific figures (the ceilings themselves, Redis round trips, …).
    pub details: Map<String, Value>,
}

impl PhaseReport {
    /// A phase that ran.
    pub fn ran(id: &str, title: &str, reps: Vec<Sample>) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            skipped: None,
            median: median(&reps),
            reps,
            ratios: Vec::new(),
            details: Map::new(),
        }
    }

    /// A phase that could not run here.
    pub fn skipped(id: &str, title: &str, why: &str) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            skipped: Some(why.to_owned()),
            reps: Vec::new(),
            median: Sample::default(),
            ratios: Vec::new(),
            details: Map::new(),
        }
    }

    /// Adds a ratio.
    pub fn ratio(mut self, name: &str, value: f64, meaning: impl Into<String>) -> Self {
        self.ratios.push(Ratio::new(name, value, meaning));
        self
    }

    /// Adds a detail.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// As one JSON object.
    pub fn json(&self) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), self.id.clone().into());
        o.insert("title".into(), self.title.clone().into());
        if let Some(why) = &self.skipped {
            o.insert("skipped".into(), why.clone().into());
            return Value::Object(o);
        }
        o.insert("median".into(), self.median.json());
        o.insert(
            "ratios".into(),
            Value::Object(
                self.ratios
                    .iter()
                    .map(|r| {
                        (
                            r.name.clone(),
                            json!({"value": round(r.value, 3), "meaning": r.meaning}),
                        )
                    })
                    .collect(),
            ),
        );
        o.insert("details".into(), Value::Object(self.details.clone()));
        o.insert(
            "repetitions".into(),
            Value::Array(self.reps.iter().map(Sample::json).collect()),
        );
        Value::Object(o)
    }
}

/// The run's shared state: settings, services, and the reports so far.
#[derive(Debug)]
pub struct Bench {
    pub settings: Settings,
    pub fixture: Fixture,
    pub reports: Vec<PhaseReport>,
    ticks_per_second: u64,
    /// Servers a phase started itself (address, pid), measured like the fixture's.
    extra_servers: std::sync::Mutex<Vec<(std::net::SocketAddr, u32)>>,
}

impl Bench {
    pub fn new(settings: Settings, fixture: Fixture) -> Self {
        Self {
            settings,
            fixture,
            reports: Vec::new(),
            ticks_per_second: clock_ticks_per_second(),
            extra_servers: std::sync::Mutex::default(),
        }
    }

    /// The report of an earlier phase that ran.
    pub fn report(&self, id: &str) -> Option<&PhaseReport> {
        self.reports.iter().find(|r| r.id == id && r.skipped.is_none())
    }

    /// Makes a server a phase started (`pid`, listening on `addr`) measurable by [`Bench::sample`].
    pub fn adopt(&self, addr: std::net::SocketAddr, pid: u32) {
        self.extra_servers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((addr, pid));
    }

    /// CPU time so far of the server process listening on `addr`.
    pub fn server_cpu(&self, addr: std::net::SocketAddr) -> Result<Duration, BenchError> {
        let pid = match self.fixture.process(addr) {
            Some(server) => server.pid(),
            None => self
                .extra_servers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .find(|(a, _)| *a == addr)
                .map(|(_, pid)| *pid)
                .ok_or_else(|| BenchError::Failed(format!("no server of this run listens on {addr}")))?,
        };
        process_cpu(pid, self.ticks_per_second)
    }

    /// CPU time so far of another process (Redis, slapd).
    pub fn cpu_of(&self, pid: u32) -> Result<Duration, BenchError> {
        process_cpu(pid, self.ticks_per_second)
    }

    /// One load run with the server's CPU time around it. Fails when no answer was right.
    pub async fn sample(&self, target: &Target, spec: LoadSpec) -> Result<Sample, BenchError> {
        let before = self.server_cpu(target.addr)?;
        let out = generate(target, spec).await?;
        let after = self.server_cpu(target.addr)?;
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

    /// Load that is not counted, so caches, connections and CPU frequency settle.
    pub async fn warm_up(&self, target: &Target, connections: usize, pace: Pace) -> Result<(), BenchError> {
        if !self.settings.warmup.is_zero() {
            let spec = LoadSpec {
                connections,
                pace,
                duration: self.settings.warmup,
            };
            generate(target, spec).await?;
        }
        Ok(())
    }

    /// One repetition's load.
    pub fn spec(&self, connections: usize, pace: Pace) -> LoadSpec {
        LoadSpec {
            connections,
            pace,
            duration: self.settings.duration,
        }
    }

    /// Warm-up, then `settings.reps` repetitions.
    pub async fn measure(
        &self,
        target: &Target,
        connections: usize,
        pace: Pace,
    ) -> Result<Vec<Sample>, BenchError> {
        self.warm_up(target, connections, pace).await?;
        let mut reps = Vec::with_capacity(self.settings.reps);
        for _ in 0..self.settings.reps.max(1) {
            reps.push(self.sample(target, self.spec(connections, pace)).await?);
        }
        Ok(reps)
    }

    /// A path and its ceiling measured in turn, repetition by repetition (ceiling, path,
    /// ceiling, path, …), so a noisy neighbour weighs on both alike: ratios are then taken per
    /// pair ([`paired`]). Returns (path, ceiling) samples.
    pub async fn measure_paired(
        &self,
        target: &Target,
        ceiling: &Target,
        connections: usize,
        pace: Pace,
    ) -> Result<(Vec<Sample>, Vec<Sample>), BenchError> {
        self.warm_up(ceiling, connections, pace).await?;
        self.warm_up(target, connections, pace).await?;
        let (mut path, mut base) = (Vec::new(), Vec::new());
        for _ in 0..self.settings.reps.max(1) {
            base.push(self.sample(ceiling, self.spec(connections, pace)).await?);
            path.push(self.sample(target, self.spec(connections, pace)).await?);
        }
        Ok((path, base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_taken_per_figure() {
        let s = |rate, cpu_us| Sample {
            rate,
            cpu_us,
            requests: 10,
            ..Sample::default()
        };
        let m = median(&[s(3.0, 10.0), s(1.0, 30.0), s(2.0, 20.0)]);
        assert_eq!((m.rate, m.cpu_us, m.requests), (2.0, 20.0, 30));
    }
}
