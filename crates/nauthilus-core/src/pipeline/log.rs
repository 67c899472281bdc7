//! The one log line of each login.

use std::fmt::Write;

use crate::outcome::{AuthOutcome, Decision, FailReason};
use crate::request::{AuthMode, AuthRequest};

pub(super) fn outcome(req: &AuthRequest, outcome: &AuthOutcome) {
    let feature_reason;
    let (result, backend, account, reason) = match &outcome.decision {
        Decision::Ok(user) => ("ok", user.backend.name(), user.account.as_str(), ""),
        Decision::Fail(FailReason::WrongPassword) => ("fail", "", "", "wrong password"),
        Decision::Fail(FailReason::UnknownUser) => ("fail", "", "", "unknown user"),
        Decision::Fail(FailReason::BruteForce) => ("fail", "", "", "brute force: network banned"),
        Decision::Fail(FailReason::Filtered) => ("fail", "", "", "refused by a filter"),
        Decision::Fail(FailReason::Feature(f)) => {
            feature_reason = format!("feature {f}");
            ("fail", "", "", feature_reason.as_str())
        }
        Decision::TempFail(why) => ("tempfail", "", "", why.as_str()),
    };
    let mut extra = String::new();
    for (name, value) in &outcome.log_fields {
        let _ = write!(
            extra,
            "{}{name}={value:?}",
            if extra.is_empty() { "" } else { " " }
        );
    }
    tracing::info!(
        target: "nauthilus::auth",
        session = %req.session,
        service = req.service.as_str(),
        mode = if req.mode == AuthMode::NoAuth { "no-auth" } else { "auth" },
        protocol = %req.protocol,
        username = %req.username,
        account,
        client_ip = %req.client.ip,
        client_port = %req.client.port,
        local_ip = %req.local.ip,
        local_port = %req.local.port,
        tls = req.tls.is_tls(),
        backend,
        memory_cache = outcome.memory_cache_hit,
        result,
        reason,
        extra,
        "authentication {result}"
    );
}
