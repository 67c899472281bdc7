//! L1: a login through a Lua backend plus one Lua filter — `POST /api/v1/auth/json` to a server
//! whose only backend is `lua` (in-process cache off, so every login runs the backend script and
//! the filter, each in a pooled VM with a fresh environment), against P1 (an in-process cache
//! hit) measured in turn in the same run, pair by pair. Target: ≥ 0.5 × P1.

use crate::error::BenchError;
use crate::fixture::{ALICE, login_to};
use crate::load::{Pace, Target, generate};
use crate::phase::{Bench, PhaseReport, Sample, median, p1_memory, paired};
use crate::server::ServerProcess;

pub const ID: &str = "L1";
const TITLE: &str = "login through a Lua backend + one Lua filter";

/// A backend in the style of the public test backends: users in a table, attributes set.
const BACKEND: &str = r#"
local users = {
    ["alice@example.test"] = { password = "alice-secret", uid = "alice", mail = "alice@example.test" },
}
function nauthilus_backend_verify_password(request)
    local b = nauthilus_backend_result.new()
    local user = users[request.username]
    if user == nil then
        b:user_found(false)
        return nauthilus_builtin.BACKEND_RESULT_OK, b
    end
    b:user_found(true)
    b:account_field("uid")
    b:authenticated(user.password == request.password)
    b:attributes({ uid = user.uid, mail = user.mail })
    return nauthilus_builtin.BACKEND_RESULT_OK, b
end
"#;

/// A filter that reads the request and adds an attribute.
const FILTER: &str = r#"
local backend = require("nauthilus_backend")
function nauthilus_call_filter(request)
    if request.authenticated then
        local b = nauthilus_backend_result.new()
        b:attributes({ checked_by = "lua" })
        backend.apply_backend_result(b)
    end
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
"#;

fn config(addr: std::net::SocketAddr, workers: usize) -> String {
    format!(
        "server:\n  address: \"{addr}\"\n  backends: [lua]\n  log: {{level: error}}\n  \
         equalize_failure_timing: false\nlocal_cache_auth_ttl: 0\nlua:\n  config:\n    \
         backend_script_path: backend.lua\n    backend_number_of_workers: {workers}\n    \
         filter_vm_pool_size: {workers}\n  filters:\n    - {{name: checked, script_path: filter.lua}}\n"
    )
}

/// One repetition against a server that is not part of the fixture (its own CPU counted).
async fn sample(bench: &Bench, server: &ServerProcess, target: &Target) -> Result<Sample, BenchError> {
    let spec = bench.spec(bench.settings.connections, Pace::Closed);
    let before = bench.cpu_of(server.pid())?;
    let out = generate(target, spec).await?;
    let after = bench.cpu_of(server.pid())?;
    if out.completed == 0 {
        return Err(BenchError::Failed(format!(
            "no expected answer ({} errors; first: {})",
            out.errors,
            out.first_error.as_deref().unwrap_or("none")
        )));
    }
    #[allow(clippy::cast_precision_loss)]
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

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let f = &bench.fixture;
    let workers = bench.settings.connections.max(2);
    let server = ServerProcess::start(
        &f.server_binary,
        &|addr| config(addr, workers),
        &[
            ("backend.lua", BACKEND.to_owned()),
            ("filter.lua", FILTER.to_owned()),
        ],
        &f.topology,
    )?;
    let target = Target::single(
        server.addr(),
        login_to(server.addr(), "", ALICE.0, ALICE.1, "192.0.2.1"),
        200,
    );
    let p1 = p1_memory::target(bench);
    bench
        .warm_up(&p1, bench.settings.connections, Pace::Closed)
        .await?;
    if !bench.settings.warmup.is_zero() {
        generate(&target, bench.spec(bench.settings.connections, Pace::Closed)).await?;
    }
    let (mut path, mut base) = (Vec::new(), Vec::new());
    for _ in 0..bench.settings.reps.max(1) {
        base.push(
            bench
                .sample(&p1, bench.spec(bench.settings.connections, Pace::Closed))
                .await?,
        );
        path.push(sample(bench, &server, &target).await?);
    }
    let report = PhaseReport::ran(ID, TITLE, path.clone())
        .ratio(
            "rate_vs_P1",
            paired(&path, &base, |s| s.rate),
            "requests/s of L1 / of P1 (in-process cache hit), median of paired repetitions; target >= 0.5",
        )
        .ratio(
            "cpu_vs_P1",
            paired(&path, &base, |s| s.cpu_us),
            "server CPU-µs per request of L1 / of P1 (paired)",
        )
        .detail("paired_P1", median(&base).json())
        .detail("lua_workers", workers);
    Ok(vec![report])
}
