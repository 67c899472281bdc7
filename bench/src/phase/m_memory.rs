//! M: memory per account and whether a login's cost grows with the number of accounts. Two
//! servers of the run's configuration (no brute force) with passwd-files of `SMALL` and `LARGE`
//! `{SSHA256}` users; each user logs in once (filling the in-process cache), then P1-like logins
//! cycle over all users (in-process cache hits). Reported: the RSS of each after start and after
//! the logins, the marginal bytes per passwd-file user and per in-process cache entry (the
//! difference between the two servers divided by the difference in users, so the process's own
//! baseline cancels), and the login rate at `LARGE` users against `SMALL`, measured in turn.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{BenchError, IoContext};
use crate::fixture::{ALICE, ALICE_HASH, login_to};
use crate::load::{Pace, Target, each_once};
use crate::phase::{Bench, PhaseReport, median, paired, round};
use crate::server::ServerProcess;

pub const ID: &str = "M";
const SMALL: usize = 1_000;
const LARGE: usize = 100_000;

fn user(i: usize) -> String {
    format!("user{i}@example.test")
}

/// `n` users, each with the same password as `ALICE` (the hash's bytes are what counts here).
fn passwd_file(n: usize) -> String {
    let mut text = String::with_capacity(n * 120);
    for i in 0..n {
        let name = user(i);
        text.push_str(&format!(
            "{name}:{ALICE_HASH}:{uid}:{uid}::/home/u{i}::mail={name}\n",
            uid = 10_000 + i
        ));
    }
    text
}

/// Resident set size of `pid`, in bytes.
fn rss(pid: u32) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).context(format!("reading {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| BenchError::Failed(format!("no VmRSS in {path}")))
}

/// A server with `n` users, its RSS after start and after each user logged in once, and the
/// requests that log every user in.
struct Loaded {
    server: ServerProcess,
    rss_start: u64,
    rss_after: u64,
    logins: Target,
}

async fn load(bench: &Bench, n: usize) -> Result<Loaded, BenchError> {
    let server =
        bench
            .fixture
            .start_server_with_users(&[], Duration::from_secs(120), false, passwd_file(n))?;
    // Let the start settle (the passwd-file's text is freed, workers are up).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_start = rss(server.pid())?;
    let addr = server.addr();
    bench.adopt(addr, server.pid());
    let requests = (0..n)
        .map(|i| login_to(addr, "", &user(i), ALICE.1, "192.0.2.1"))
        .collect();
    let logins = Target {
        addr,
        requests: Arc::new(requests),
        expect_status: 200,
    };
    each_once(&logins, bench.settings.connections).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss(server.pid())?;
    Ok(Loaded {
        server,
        rss_start,
        rss_after,
        logins,
    })
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let small = load(bench, SMALL).await?;
    let large = load(bench, LARGE).await?;
    let users = (LARGE - SMALL) as f64;
    let per_user = (large.rss_start as f64 - small.rss_start as f64) / users;
    let per_entry =
        ((large.rss_after - large.rss_start) as f64 - (small.rss_after - small.rss_start) as f64) / users;
    // Logins over every user (in-process cache hits), at LARGE and SMALL users, in turn.
    let (reps, base) = bench
        .measure_paired(
            &large.logins,
            &small.logins,
            bench.settings.connections,
            Pace::Closed,
        )
        .await?;
    let mib = |b: u64| round(b as f64 / (1024.0 * 1024.0), 1);
    let report = PhaseReport::ran(
        ID,
        "memory: 100,000 vs 1,000 passwd-file users, each logged in once",
        reps.clone(),
    )
    .detail("users", LARGE)
    .detail("users_small", SMALL)
    .detail("rss_start_mib", mib(large.rss_start))
    .detail("rss_after_logins_mib", mib(large.rss_after))
    .detail("rss_start_mib_small", mib(small.rss_start))
    .detail("rss_after_logins_mib_small", mib(small.rss_after))
    .detail("bytes_per_passwd_user", per_user.round())
    .detail("bytes_per_memory_cache_entry", per_entry.round())
    .detail("paired_small", median(&base).json())
    .ratio(
        "rate_vs_small",
        paired(&reps, &base, |s| s.rate),
        "logins/s cycling over 100,000 cached users / over 1,000 (paired)",
    )
    .ratio(
        "cpu_vs_small",
        paired(&reps, &base, |s| s.cpu_us),
        "server CPU-µs per login at 100,000 users / at 1,000 (paired)",
    );
    drop((small.server, large.server));
    Ok(vec![report])
}
