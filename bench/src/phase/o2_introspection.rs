//! O2: token introspection (`POST /oidc/introspect`, RFC 7662, the client authenticating with
//! `client_secret_basic`) of one active opaque access token, our server against the reference
//! OpenID provider (npm `oidc-provider`) configured the same way, in turn in the same run.

use crate::error::BenchError;
use crate::load::Target;
use crate::phase::idp_pair::{IdpPair, Side};
use crate::phase::o1_client_credentials::side_by_side;
use crate::phase::{Bench, PhaseReport};

pub const ID: &str = "O2";

pub async fn run(bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    let pair = IdpPair::start(bench)?;
    let mut targets = Vec::new();
    for side in [Side::Ours, Side::Reference] {
        let token = pair.grant(side).await?;
        pair.check_introspection(side, &token).await?;
        targets.push(Target::single(
            pair.addr(side),
            pair.introspect_request(side, &token),
            200,
        ));
    }
    let (ours, reference) = pair.measure(bench, &targets[0], &targets[1]).await?;
    Ok(side_by_side(
        ID,
        "token introspection, ours",
        "token introspection, oidc-provider (reference)",
        ours,
        reference,
    ))
}
