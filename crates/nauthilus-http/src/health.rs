//! `GET /healthz`: `{"status", "checks"}` from the real state of the store, the LDAP pools and
//! the monitored backend servers of the configuration in force, in the shape of Nauthilus' readiness check: each check is
//! `{"status": "up"|"down"|"degraded", "error"?, "meta"?}`; the answer is 503 when any check
//! is down, else 200 (`degraded`: a pool lost some of its servers but still has one).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nauthilus_backends::ldap::breaker::BreakerState;
use nauthilus_core::Backend;
use nauthilus_store::Store;
use serde_json::{Map, Value, json};

use crate::state::AppState;

/// How long the store may take to answer a health PING.
pub const STORE_PING_TIMEOUT: Duration = Duration::from_secs(1);

/// The long-lived services `/healthz` (and `/metrics`) look at besides the pipeline: the
/// store. LDAP pools belong to the configuration in force and are read from its pipeline.
#[derive(Clone, Debug, Default)]
pub struct Health {
    store: Option<Store>,
}

impl Health {
    /// Health over `store`.
    pub fn new(store: Store) -> Self {
        Self { store: Some(store) }
    }

    /// The store, if one was handed over.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Up,
    Degraded,
    Down,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Degraded => "degraded",
            Self::Down => "down",
        }
    }
}

struct Checks {
    worst: Status,
    checks: Map<String, Value>,
}

impl Checks {
    fn add(&mut self, name: String, status: Status, error: Option<String>, meta: Value) {
        self.worst = self.worst.max(status);
        let mut check = Map::new();
        check.insert("status".into(), status.as_str().into());
        if let Some(error) = error {
            check.insert("error".into(), error.into());
        }
        if meta.as_object().is_some_and(|m| !m.is_empty()) {
            check.insert("meta".into(), meta);
        }
        self.checks.insert(name, Value::Object(check));
    }
}

/// `GET /healthz`.
pub async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    let current = st.current();
    let mut out = Checks {
        worst: Status::Up,
        checks: Map::new(),
    };
    if let Some(store) = st.health.store() {
        let started = nauthilus_core::clock::instant();
        let answer = tokio::time::timeout(STORE_PING_TIMEOUT, store.ping()).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let stats = store.stats();
        let meta = json!({"latency_ms": latency_ms, "kind": stats.kind, "mode": stats.mode});
        let name = if stats.kind == "redis" { "redis" } else { "store" };
        match answer {
            Ok(Ok(())) => out.add(name.into(), Status::Up, None, meta),
            Ok(Err(e)) => out.add(name.into(), Status::Down, Some(e.to_string()), meta),
            Err(_) => out.add(
                name.into(),
                Status::Down,
                Some(format!("no answer within {STORE_PING_TIMEOUT:?}")),
                meta,
            ),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for backend in current.pipeline.backends() {
        let Backend::Ldap(ldap) = backend else { continue };
        let status = ldap.pool().status();
        if !seen.insert(status.name.clone()) {
            continue;
        }
        let down: Vec<&str> = status
            .servers
            .iter()
            .filter(|s| !matches!(s.breaker, BreakerState::Closed { .. }))
            .map(|s| s.url.as_str())
            .collect();
        let (check, error) = if !status.any_server_up() {
            (Status::Down, Some("every LDAP server is marked down".to_owned()))
        } else if !down.is_empty() {
            (
                Status::Degraded,
                Some(format!("marked down: {}", down.join(", "))),
            )
        } else {
            (Status::Up, None)
        };
        let name = if status.name == "default" {
            "ldap".to_owned()
        } else {
            format!("ldap({})", status.name)
        };
        let meta = json!({
            "servers": status.servers.len(),
            "servers_down": down,
            "lookup_in_use": status.lookup.in_use,
            "auth_in_use": status.auth.in_use,
        });
        out.add(name, check, error, meta);
    }
    if let Some(monitor) = current.pipeline.backend_monitor() {
        backend_servers(&mut out, &monitor.status());
    }
    let code = if out.worst == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = json!({"status": out.worst.as_str(), "checks": out.checks});
    (code, Json(body)).into_response()
}

/// `backend_server_monitoring`: `up` when every monitored server passed its last check,
/// `degraded` otherwise, naming the protocols left without a healthy server. Never `down`: the
/// mail servers' health is not this instance's readiness (taking every instance out of a load
/// balancer because the IMAP servers are down would help nobody; the nginx endpoint already
/// answers temporary failures for those protocols).
fn backend_servers(out: &mut Checks, servers: &[(String, String, u16, bool)]) {
    let down: Vec<String> = servers
        .iter()
        .filter(|s| !s.3)
        .map(|(protocol, host, port, _)| format!("{protocol}://{host}:{port}"))
        .collect();
    let mut protocols: Vec<&str> = servers.iter().map(|s| s.0.as_str()).collect();
    protocols.dedup();
    let without: Vec<&str> = protocols
        .into_iter()
        .filter(|p| !servers.iter().any(|s| s.0 == *p && s.3))
        .collect();
    let (status, error) = if down.is_empty() {
        (Status::Up, None)
    } else if without.is_empty() {
        (
            Status::Degraded,
            Some(format!("failing checks: {}", down.join(", "))),
        )
    } else {
        (
            Status::Degraded,
            Some(format!("no healthy server for {}", without.join(", "))),
        )
    };
    let meta = json!({
        "servers": servers.len(),
        "alive": servers.len() - down.len(),
        "servers_down": down,
    });
    out.add("backend_servers".into(), status, error, meta);
}
