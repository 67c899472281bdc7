//! P0, the HTTP ceiling: `POST /api/v1/bench/bare` with the body of a real login, answered with
//! a body as large as a JSON login success — same server, router and middleware, no pipeline.

use crate::error::BenchError;
use crate::fixture::ALICE;
use crate::load::{Pace, Target, exchange, post_json};
use crate::phase::{Bench, PhaseReport};

pub const ID: &str = "P0";

/// The bare route's request, sized like P1's answer (asked from the server once).
pub async fn bare_target(bench: &Bench) -> Result<Target, BenchError> {
    let f = &bench.fixture;
    let (status, _, body) = exchange(f.addr(), &f.login("", ALICE.0, ALICE.1, "192.0.2.1")).await?;
    if status != 200 {
        return Err(BenchError::Failed(format!(
            "the login of {} answered {status}",
            ALICE.0
        )));
    }
    let login_body = crate::fixture::login_body(ALICE.0, ALICE.1, "192.0.2.1");
    let request = post_json(
        f.addr(),
        &format!("/api/v1/bench/bare?bytes={}", body.len()),
        &login_body,
    );
    let (status, _, _) = exchange(f.addr(), &request).await?;
    if status != 200 {
        return Err(BenchError::Failed(format!(
            "/api/v1/bench/bare answered {status}: build the server with `--features bench`"
        )));
    }
    Ok(Target::single(f.addr(), request, 200))
}

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let target = bare_target(bench).await?;
    let reps = bench
        .measure(&target, bench.settings.connections, Pace::Closed)
        .await?;
    Ok(vec![
        PhaseReport::ran(
            ID,
            "bare route: HTTP ceiling (same router, middleware, answer size)",
            reps,
        )
        .ratio("self", 1.0, "the ceiling the other phases are divided by"),
    ])
}
