//! P3: a cache miss that goes to LDAP — `POST /api/v1/auth/json?in-memory=0` to a server whose
//! only backend is `ldap` (in-process cache off), so every login is a search as the service
//! account plus a bind as the user, against a private slapd. Its ceiling is a bare ldap3 client
//! of the same shape — as many concurrent logins as the load generator's connections, over a
//! lookup and an auth pool as large as the server's — in a child process on the server's cores
//! (where the server would be slapd's client), measured in turn with the server, pair by pair.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, Scope, SearchEntry};
use nauthilus_testkit::{ADMIN_DN, ADMIN_PASSWORD};
use tokio::sync::{Mutex, mpsc};

use crate::error::{BenchError, IoContext};
use crate::fixture::{LDAP_CLIENTS, LDAP_FILTER, LDAP_PEOPLE, LDAP_USER, login_to};
use crate::load::{Pace, Target, exchange};
use crate::phase::{Bench, PhaseReport, Sample, median, paired, round};

pub const ID: &str = "P3";
const TITLE: &str = "cache miss → LDAP search + bind (slapd)";
/// The argument that makes the benchmark binary run the bare LDAP loop.
pub const CHILD_COMMAND: &str = "ldap-loop";
/// Uncounted time at the start of the bare loop.
const LOOP_WARMUP: Duration = Duration::from_millis(500);

fn ldap_error(what: &str) -> impl Fn(ldap3::LdapError) -> BenchError + '_ {
    move |e| BenchError::Failed(format!("{what}: {e}"))
}

/// A pool of connections taken one request at a time, as the server's pools lend them.
struct Pool {
    give: mpsc::Sender<Ldap>,
    take: Mutex<mpsc::Receiver<Ldap>>,
}

impl Pool {
    /// `size` connections to `url`, bound as the service account when `service` is set.
    async fn open(url: &str, size: usize, service: bool) -> Result<Pool, BenchError> {
        let (give, take) = mpsc::channel(size.max(1));
        for _ in 0..size.max(1) {
            let (conn, mut ldap) = LdapConnAsync::new(url).await.map_err(ldap_error("connect"))?;
            ldap3::drive!(conn);
            if service {
                ldap.simple_bind(ADMIN_DN, ADMIN_PASSWORD)
                    .await
                    .and_then(|r| r.success())
                    .map_err(ldap_error("service bind"))?;
            }
            give.send(ldap)
                .await
                .map_err(|_| BenchError::Failed("pool closed".into()))?;
        }
        Ok(Pool {
            give,
            take: Mutex::new(take),
        })
    }

    async fn get(&self) -> Result<Ldap, BenchError> {
        self.take
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| BenchError::Failed("pool closed".into()))
    }

    async fn put(&self, ldap: Ldap) {
        let _ = self.give.send(ldap).await;
    }
}

/// One login of the bare loop: search with a lookup connection, bind with an auth connection.
async fn login(lookup: &Pool, auth: &Pool) -> Result<(), BenchError> {
    let mut conn = lookup.get().await?;
    let found = conn
        .search(
            LDAP_PEOPLE,
            Scope::Subtree,
            LDAP_FILTER,
            vec!["mail", "cn", "uid"],
        )
        .await
        .and_then(|r| r.success());
    lookup.put(conn).await;
    let (entries, _) = found.map_err(ldap_error("search"))?;
    let entry = entries
        .into_iter()
        .next()
        .ok_or_else(|| BenchError::Failed("the search found no entry".into()))?;
    let dn = SearchEntry::construct(entry).dn;
    let mut conn = auth.get().await?;
    let bound = conn.simple_bind(&dn, LDAP_USER.1).await.and_then(|r| r.success());
    auth.put(conn).await;
    bound.map(|_| ()).map_err(ldap_error("user bind"))
}

/// Logins per second of `tasks` concurrent logins over pools of `pool_size` lookup and auth
/// connections for `duration` — the server's shape without HTTP and the pipeline (child
/// process).
pub fn bare_loop(url: &str, pool_size: usize, tasks: usize, duration: Duration) -> Result<f64, BenchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let lookup = Arc::new(Pool::open(url, pool_size, true).await?);
        let auth = Arc::new(Pool::open(url, pool_size, false).await?);
        let from = Instant::now() + LOOP_WARMUP;
        let until = from + duration;
        let handles: Vec<_> = (0..tasks.max(1))
            .map(|_| {
                let (lookup, auth) = (lookup.clone(), auth.clone());
                tokio::spawn(async move {
                    let mut counted = 0u64;
                    loop {
                        let now = Instant::now();
                        if now >= until {
                            return Ok::<u64, BenchError>(counted);
                        }
                        login(&lookup, &auth).await?;
                        if now >= from {
                            counted += 1;
                        }
                    }
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h
                .await
                .map_err(|e| BenchError::Failed(format!("LDAP client failed: {e}")))??;
        }
        Ok(total as f64 / duration.as_secs_f64())
    })
}

/// Child mode: `ldap-loop URL SECONDS POOL_SIZE TASKS` prints the rate.
pub fn child_main(args: &[String]) -> Result<(), BenchError> {
    let usage = || {
        BenchError::Failed(format!(
            "usage: nauthilus-bench {CHILD_COMMAND} URL SECONDS POOL_SIZE TASKS"
        ))
    };
    let url = args.first().ok_or_else(usage)?;
    let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).ok_or_else(usage)?;
    let pool: usize = args.get(2).and_then(|s| s.parse().ok()).ok_or_else(usage)?;
    let tasks: usize = args.get(3).and_then(|s| s.parse().ok()).ok_or_else(usage)?;
    let rate = bare_loop(url, pool, tasks, Duration::from_secs_f64(secs.max(0.1)))?;
    println!("{rate}");
    Ok(())
}

/// Runs the bare loop in a child process on the server's cores.
fn ceiling(bench: &Bench, url: &str) -> Result<f64, BenchError> {
    let exe = std::env::current_exe().context("finding the benchmark binary")?;
    let out = bench
        .fixture
        .topology
        .on_server_cores(&exe.to_string_lossy())
        .args([CHILD_COMMAND, url])
        .arg(bench.settings.duration.as_secs_f64().to_string())
        .arg(LDAP_CLIENTS.to_string())
        .arg(bench.settings.connections.to_string())
        .stderr(Stdio::piped())
        .output()
        .context("running the bare LDAP loop")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().map_err(|_| {
        BenchError::Failed(format!(
            "bare LDAP loop failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let ldap = match &bench.fixture.ldap {
        Ok(l) => l,
        Err(why) => return Ok(vec![PhaseReport::skipped(ID, TITLE, &format!("skipped: {why}"))]),
    };
    let addr = ldap.server.addr();
    let request = login_to(addr, "?in-memory=0", LDAP_USER.0, LDAP_USER.1, "192.0.2.3");
    let (status, _, _) = exchange(addr, &request).await?;
    if status != 200 {
        return Err(BenchError::Failed(format!("the LDAP login answered {status}")));
    }
    let target = Target {
        addr,
        requests: Arc::new(vec![request]),
        expect_status: 200,
    };
    let n = bench.settings.connections;
    bench.warm_up(&target, n, Pace::Closed).await?;
    let url = ldap.slapd.url();
    let slapd_pid = ldap.slapd.pid();
    let (mut reps, mut ceilings) = (Vec::new(), Vec::new());
    let mut slapd_cpu = Duration::ZERO;
    for _ in 0..bench.settings.reps.max(1) {
        ceilings.push(Sample {
            rate: ceiling(bench, &url)?,
            ..Sample::default()
        });
        let before = slapd_pid.map(|p| bench.cpu_of(p)).transpose()?;
        reps.push(bench.sample(&target, bench.spec(n, Pace::Closed)).await?);
        if let (Some(p), Some(b)) = (slapd_pid, before) {
            slapd_cpu += bench.cpu_of(p)? - b;
        }
    }
    let total: u64 = reps.iter().map(|s| s.requests).sum();
    let report = PhaseReport::ran(ID, TITLE, reps.clone())
        .detail("ldap_clients", LDAP_CLIENTS)
        .detail("bare_ldap3_logins_per_s", round(median(&ceilings).rate, 0))
        .detail(
            "bare_ldap3_logins_per_s_reps",
            ceilings.iter().map(|c| round(c.rate, 0)).collect::<Vec<_>>(),
        )
        .detail(
            "slapd_cpu_us_per_request",
            round(slapd_cpu.as_secs_f64() * 1e6 / total.max(1) as f64, 2),
        )
        .ratio(
            "rate_vs_ldap_ceiling",
            paired(&reps, &ceilings, |s| s.rate),
            "requests/s of P3 / search+bind per second of a bare ldap3 client, same pools and concurrency (paired)",
        );
    Ok(vec![report])
}
