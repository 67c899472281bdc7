//! P3: cache miss → LDAP bind + search against a real slapd, against a bare ldap3 client loop.
//! The server has no LDAP backend yet; until it has, this phase reports itself skipped.

use crate::error::BenchError;
use crate::phase::{Bench, PhaseReport};

pub const ID: &str = "P3";

pub async fn run(_bench: &Bench) -> Result<Vec<PhaseReport>, BenchError> {
    Ok(vec![PhaseReport::skipped(
        ID,
        "cache miss → LDAP bind + search (slapd)",
        "skipped: LDAP backend not built yet",
    )])
}
