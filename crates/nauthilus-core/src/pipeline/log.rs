//! The one log line of each login (target `nauthilus::auth`). Field names follow Nauthilus'
//! auth log line where it has the field (`session`, `mode`, `protocol`, `local_ip`, `port`,
//! `client_ip`, `client_port`, `client_host`, `tls_protocol`, `tls_cipher`, `auth_method`,
//! `username`, `passdb_backend`, `user_agent`, `client_id`, `status_message`,
//! `authenticated`, `authn`, `authz`, `latency`); the rest are nauthilus-rs' own. Values the
//! client did not send are `N/A`, as in Nauthilus. Never a password: the request's password
//! is not a field here, and `Password` does not print itself.

use std::fmt::Write;
use std::time::Duration;

use crate::outcome::{AuthOutcome, Decision, FailReason};
use crate::request::{AuthMode, AuthRequest};

/// `value`, or `N/A` when empty.
fn or_na(value: &str) -> &str {
    if value.is_empty() { "N/A" } else { value }
}

pub(super) fn outcome(req: &AuthRequest, outcome: &AuthOutcome, latency: Duration) {
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
    // authn: the credentials were right; authz: no filter refused the login.
    let filtered = matches!(outcome.decision, Decision::Fail(FailReason::Filtered));
    let authn = outcome.is_ok() || filtered;
    let mut extra = String::new();
    for (name, value) in &outcome.log_fields {
        let _ = write!(
            extra,
            "{}{name}={value:?}",
            if extra.is_empty() { "" } else { " " }
        );
    }
    let latency_ms = latency.as_secs_f64() * 1000.0;
    tracing::info!(
        target: "nauthilus::auth",
        session = %req.session,
        service = req.service.as_str(),
        mode = if req.mode == AuthMode::NoAuth { "no-auth" } else { "auth" },
        protocol = %req.protocol,
        auth_method = or_na(&req.method),
        username = or_na(&req.username),
        account = or_na(account),
        client_ip = or_na(&req.client.ip),
        client_port = or_na(&req.client.port),
        client_host = or_na(&req.client.hostname),
        client_id = or_na(&req.client.id),
        user_agent = or_na(&req.client.user_agent),
        local_ip = or_na(&req.local.ip),
        port = or_na(&req.local.port),
        tls_protocol = or_na(&req.tls.protocol),
        tls_cipher = or_na(&req.tls.cipher),
        login_attempt = req.login_attempt,
        passdb_backend = or_na(backend),
        memory_cache = outcome.memory_cache_hit,
        status_message = or_na(outcome.status_message.as_deref().unwrap_or_default()),
        authenticated = result,
        authn,
        authz = !filtered,
        reason,
        extra,
        latency = %format_args!("{latency_ms:.3}ms"),
        "authentication {result}"
    );
}
