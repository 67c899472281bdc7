//! S1: a cache miss that goes to SQL — `POST /api/v1/auth/json?in-memory=0` to a server whose
//! only backend is `sql` over a private PostgreSQL (test kit, started by this phase), with the
//! in-process cache off, so every login is one `password_query` plus an `{SSHA256}` verify (a
//! cheap scheme: the figure is the SQL path, not hashing). Its ceiling is a bare sqlx client
//! running the same query with the same bound parameter — as many concurrent tasks as the load
//! generator's connections, over a pool as large as the server's — in a child process on the
//! server's cores (where the server would be PostgreSQL's client), measured in turn with the
//! server, pair by pair.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nauthilus_testkit::Postgres;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::error::{BenchError, IoContext};
use crate::fixture::login_to;
use crate::load::{Target, exchange};
use crate::phase::{Bench, PhaseReport, Sample, median, own_server, paired, round};
use crate::server::ServerProcess;

pub const ID: &str = "S1";
const TITLE: &str = "cache miss → SQL password_query (PostgreSQL), {SSHA256}";
/// The argument that makes the benchmark binary run the bare SQL loop.
pub const CHILD_COMMAND: &str = "sql-loop";
/// Uncounted time at the start of the bare loop.
const LOOP_WARMUP: Duration = Duration::from_millis(500);
/// Connections of the server's pool and of the bare client's.
pub const SQL_CLIENTS: usize = 8;
/// The user (password `alice-secret`; `{SSHA256}` as in the passwd-file of the other phases).
const USER: (&str, &str) = ("alice@example.test", "alice-secret");
const USER_HASH: &str = "{SSHA256}R5jGdFZfOruhMlcRnrzDes1/d929GI05XMMyRDVVthjCR8w9";
/// What the server runs (Postfix Admin's `mailbox` shape), and the same with a bound parameter.
const SERVER_QUERY: &str =
    "SELECT username, password, name, maildir FROM mailbox WHERE username = %L{user} AND active = 1";
const BARE_QUERY: &str =
    "SELECT username, password, name, maildir FROM mailbox WHERE username = $1 AND active = 1";
/// Other rows, so the lookup is an index probe into a table of some size.
const OTHER_USERS: usize = 10_000;

fn sql_error(what: &str) -> impl Fn(sqlx::Error) -> BenchError + '_ {
    move |e| BenchError::Failed(format!("{what}: {e}"))
}

fn config(addr: std::net::SocketAddr, url: &str) -> String {
    format!(
        "server:\n  address: \"{addr}\"\n  backends: [sql]\n  log: {{level: error}}\n  \
         equalize_failure_timing: false\n\
         local_cache_auth_ttl: 0\nsql:\n  config:\n    url: '{url}'\n    pool_size: {SQL_CLIENTS}\n  \
         search:\n    - protocol: default\n      password_query: \"{SERVER_QUERY}\"\n      \
         mapping: {{account_field: username, display_name_field: name}}\n"
    )
}

/// The `mailbox` table with the user and [`OTHER_USERS`] others.
async fn load_table(url: &str) -> Result<(), BenchError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(sql_error("connecting to PostgreSQL"))?;
    for statement in [
        "CREATE TABLE mailbox (username VARCHAR(255) PRIMARY KEY, password VARCHAR(255) NOT NULL, name VARCHAR(255), maildir VARCHAR(255), active SMALLINT NOT NULL DEFAULT 1)".to_owned(),
        format!("INSERT INTO mailbox (username, password, name, maildir) SELECT 'user' || n || '@example.test', 'x', 'User ' || n, 'example.test/user' || n || '/' FROM generate_series(1, {OTHER_USERS}) AS n"),
    ] {
        sqlx::query(&statement)
            .execute(&pool)
            .await
            .map_err(sql_error("creating the mailbox table"))?;
    }
    sqlx::query("INSERT INTO mailbox (username, password, name, maildir) VALUES ($1, $2, 'Alice', 'example.test/alice/')")
        .bind(USER.0)
        .bind(USER_HASH)
        .execute(&pool)
        .await
        .map_err(sql_error("inserting the user"))?;
    sqlx::query("ANALYZE mailbox")
        .execute(&pool)
        .await
        .map_err(sql_error("ANALYZE"))?;
    pool.close().await;
    Ok(())
}

/// One login's query of the bare loop: the row as text, as the server reads it.
async fn query(pool: &PgPool) -> Result<(), BenchError> {
    let row: Option<(String, String, Option<String>, Option<String>)> = sqlx::query_as(BARE_QUERY)
        .bind(USER.0)
        .fetch_optional(pool)
        .await
        .map_err(sql_error("query"))?;
    match row {
        Some((_, password, _, _)) if password == USER_HASH => Ok(()),
        _ => Err(BenchError::Failed("the bare query did not find the user".into())),
    }
}

/// Queries per second of `tasks` concurrent queries over a pool of `pool_size` connections for
/// `duration`, on a runtime of `threads` workers (child process). With `ping`, the pool has
/// sqlx's default `test_before_acquire` (a ping before every query).
pub fn bare_loop(
    url: &str,
    pool_size: usize,
    tasks: usize,
    threads: usize,
    duration: Duration,
    ping: bool,
) -> Result<f64, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        // Without `ping`, no ping before each use, like the server's pool for a connection in
        // steady use (it pings only one idle for a second or more): the query alone.
        let pool = PgPoolOptions::new()
            .max_connections(u32::try_from(pool_size.max(1)).unwrap_or(1))
            .min_connections(u32::try_from(pool_size.max(1)).unwrap_or(1))
            .test_before_acquire(ping)
            .connect(url)
            .await
            .map_err(sql_error("connecting to PostgreSQL"))?;
        let from = Instant::now() + LOOP_WARMUP;
        let until = from + duration;
        let handles: Vec<_> = (0..tasks.max(1))
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut counted = 0u64;
                    loop {
                        let now = Instant::now();
                        if now >= until {
                            return Ok::<u64, BenchError>(counted);
                        }
                        query(&pool).await?;
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
                .map_err(|e| BenchError::Failed(format!("SQL client failed: {e}")))??;
        }
        pool.close().await;
        Ok(total as f64 / duration.as_secs_f64())
    })
}

/// Child mode: `sql-loop URL SECONDS POOL_SIZE TASKS THREADS PING` prints the rate.
pub fn child_main(args: &[String]) -> Result<(), BenchError> {
    let usage = || {
        BenchError::Failed(format!(
            "usage: nauthilus-bench {CHILD_COMMAND} URL SECONDS POOL_SIZE TASKS THREADS PING(0|1)"
        ))
    };
    let url = args.first().ok_or_else(usage)?;
    let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).ok_or_else(usage)?;
    let count = |i: usize| {
        args.get(i)
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(usage)
    };
    let (pool, tasks, threads, ping) = (count(2)?, count(3)?, count(4)?, count(5)? != 0);
    let rate = bare_loop(
        url,
        pool,
        tasks,
        threads,
        Duration::from_secs_f64(secs.max(0.1)),
        ping,
    )?;
    println!("{rate}");
    Ok(())
}

/// Runs the bare loop in a child process on the server's cores.
fn ceiling(bench: &Bench, url: &str, ping: bool) -> Result<f64, BenchError> {
    let exe = std::env::current_exe().context("finding the benchmark binary")?;
    let out = bench
        .fixture
        .topology
        .on_server_cores(&exe.to_string_lossy())
        .args([CHILD_COMMAND, url])
        .arg(bench.settings.duration.as_secs_f64().to_string())
        .arg(SQL_CLIENTS.to_string())
        .arg(bench.settings.connections.to_string())
        .arg(bench.fixture.topology.server_cores.to_string())
        .arg(if ping { "1" } else { "0" })
        .stderr(Stdio::piped())
        .output()
        .context("running the bare SQL loop")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().map_err(|_| {
        BenchError::Failed(format!(
            "bare SQL loop failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let pg = match Postgres::start() {
        Ok(pg) => pg,
        Err(e) => {
            return Ok(vec![PhaseReport::skipped(
                ID,
                TITLE,
                &format!("skipped: PostgreSQL did not start: {e}"),
            )]);
        }
    };
    let url = pg.url("postgres");
    load_table(&url).await?;
    let server = ServerProcess::start(
        &bench.fixture.server_binary,
        &|addr| config(addr, &url),
        &[],
        &bench.fixture.topology,
    )?;
    let addr = server.addr();
    let request = login_to(addr, "?in-memory=0", USER.0, USER.1, "192.0.2.4");
    let (status, _, _) = exchange(addr, &request).await?;
    if status != 200 {
        return Err(BenchError::Failed(format!(
            "the SQL login answered {status}:\n{}",
            server.log()
        )));
    }
    let target = Target {
        addr,
        requests: Arc::new(vec![request]),
        expect_status: 200,
    };
    let n = bench.settings.connections;
    bench.warm_up(&target, n, crate::load::Pace::Closed).await?;
    let (mut reps, mut ceilings, mut pinging) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..bench.settings.reps.max(1) {
        ceilings.push(Sample {
            rate: ceiling(bench, &url, false)?,
            ..Sample::default()
        });
        pinging.push(Sample {
            rate: ceiling(bench, &url, true)?,
            ..Sample::default()
        });
        reps.push(
            own_server::sample(bench, &server, &target, bench.spec(n, crate::load::Pace::Closed)).await?,
        );
    }
    let report = PhaseReport::ran(ID, TITLE, reps.clone())
        .detail("sql_clients", SQL_CLIENTS)
        .detail("table_rows", OTHER_USERS + 1)
        .detail("bare_sqlx_queries_per_s", round(median(&ceilings).rate, 0))
        .detail(
            "bare_sqlx_queries_per_s_reps",
            ceilings.iter().map(|c| round(c.rate, 0)).collect::<Vec<_>>(),
        )
        .detail("bare_sqlx_default_pool_queries_per_s", round(median(&pinging).rate, 0))
        .ratio(
            "rate_vs_sqlx_ceiling",
            paired(&reps, &ceilings, |s| s.rate),
            "requests/s of S1 / the same query per second of a bare sqlx client, same pool size and concurrency, no ping before a query (paired)",
        )
        .ratio(
            "rate_vs_sqlx_default_pool",
            paired(&reps, &pinging, |s| s.rate),
            "the same against a bare sqlx client with sqlx's default pool (test_before_acquire: a ping before every query) (paired)",
        );
    Ok(vec![report])
}
