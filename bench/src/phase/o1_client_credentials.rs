//! O1: client-credentials grants (`POST /oidc/token`, `client_secret_basic`), our server against
//! the reference OpenID provider (npm `oidc-provider`) configured the same way, in turn in the
//! same run. Compared per server core: requests per CPU-second of each server process.

use crate::error::BenchError;
use crate::load::Target;
use crate::phase::idp_pair::{IdpPair, Side, per_core};
use crate::phase::{Bench, PhaseReport, median, paired};

pub const ID: &str = "O1";

/// What ours must reach, in multiples of the reference's rate per core.
pub const TARGET_RATIO: f64 = 5.0;

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let pair = IdpPair::start(bench)?;
    let mut targets = Vec::new();
    for side in [Side::Ours, Side::Reference] {
        // Each side proves once that it issues a token that introspects as active.
        let token = pair.grant(side).await?;
        pair.check_introspection(side, &token).await?;
        targets.push(Target::single(pair.addr(side), pair.token_request(side), 200));
    }
    let (ours, reference) = pair.measure(bench, &targets[0], &targets[1]).await?;
    Ok(side_by_side(
        ID,
        "client-credentials grant, ours",
        "client-credentials grant, oidc-provider (reference)",
        ours,
        reference,
    ))
}

/// The two reports of a side-by-side phase: ours with the ratios, and the reference's figures
/// as `<id>ref`.
pub fn side_by_side(
    id: &str,
    title: &str,
    reference_title: &str,
    ours: Vec<crate::phase::Sample>,
    reference: Vec<crate::phase::Sample>,
) -> Vec<PhaseReport> {
    let per_core_ratio = paired(&reference, &ours, |s| s.cpu_us);
    let ours_report = PhaseReport::ran(id, title, ours.clone())
        .ratio(
            "per_core_vs_ref",
            per_core_ratio,
            format!(
                "requests per server CPU-second, ours / oidc-provider's (paired; target ≥ {TARGET_RATIO})"
            ),
        )
        .ratio(
            "rate_vs_ref",
            paired(&ours, &reference, |s| s.rate),
            "requests/s, ours / oidc-provider's, each on the server cores (paired)",
        )
        .detail("requests_per_cpu_s", per_core(&median(&ours)).round())
        .detail("paired_reference", median(&reference).json())
        .detail("target_per_core_vs_ref", TARGET_RATIO)
        .detail("meets_target", per_core_ratio >= TARGET_RATIO);
    let reference_report = PhaseReport::ran(&format!("{id}ref"), reference_title, reference.clone())
        .detail("requests_per_cpu_s", per_core(&median(&reference)).round());
    vec![ours_report, reference_report]
}
