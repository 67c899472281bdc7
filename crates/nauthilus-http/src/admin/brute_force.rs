//! `GET/POST /api/v1/bruteforce/list` and `DELETE /api/v1/bruteforce/flush`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use nauthilus_core::brute_force::{FlushError, FlushRequest, ListFilter};
use serde::Deserialize;
use serde_json::json;

use super::{envelope, json_body, temporary};
use crate::error::ApiError;
use crate::session::Session;
use crate::state::AppState;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListBody {
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    ip_addresses: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlushBody {
    ip_address: Option<String>,
    rule_name: Option<String>,
    protocol: Option<String>,
    oidc_cid: Option<String>,
}

fn not_enabled() -> ApiError {
    ApiError::NotFound("brute-force protection is not enabled (server.features)".into())
}

/// `GET/POST /api/v1/bruteforce/list`, optionally filtered by `{"accounts":[],"ip_addresses":[]}`.
pub async fn brute_force_list(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let current = st.current();
    let bf = current.brute_force.as_ref().ok_or_else(not_enabled)?;
    let filter: ListBody = json_body(&headers, body, true, "{\"accounts\": [], \"ip_addresses\": []}")
        .await?
        .unwrap_or_default();
    let list = bf
        .list(&ListFilter {
            accounts: filter.accounts,
            ip_addresses: filter.ip_addresses,
        })
        .await
        .map_err(|e| temporary(session, "brute-force list", &e))?;
    Ok(envelope(
        session,
        "bruteforce",
        "list",
        json!([
            { "ip_addresses": list.ip_addresses, "error": "none" },
            { "accounts": list.accounts, "error": "none" },
        ]),
    ))
}

/// `DELETE /api/v1/bruteforce/flush` with `{"ip_address","rule_name"("*" = all),"protocol"?,"oidc_cid"?}`.
pub async fn brute_force_flush(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let current = st.current();
    let bf = current.brute_force.as_ref().ok_or_else(not_enabled)?;
    let hint = "{\"ip_address\": \"...\", \"rule_name\": \"*\"}";
    let req: FlushBody = json_body(&headers, body, false, hint)
        .await?
        .ok_or_else(|| ApiError::BadRequest(format!("send {hint}")))?;
    let nonempty = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let ip_address =
        nonempty(req.ip_address).ok_or_else(|| ApiError::BadRequest("ip_address is required".into()))?;
    let rule_name = nonempty(req.rule_name)
        .ok_or_else(|| ApiError::BadRequest("rule_name is required (\"*\" for every rule)".into()))?;
    let request = FlushRequest {
        ip_address,
        rule_name,
        protocol: nonempty(req.protocol).map(|p| p.to_ascii_lowercase()),
        oidc_cid: nonempty(req.oidc_cid),
    };
    let removed = bf.flush(&request).await.map_err(|e| match e {
        FlushError::Store(e) => temporary(session, "brute-force flush", &e),
        bad => ApiError::BadRequest(bad.to_string()),
    })?;
    tracing::info!(session = %session, ip_address = %request.ip_address, rule = %request.rule_name, removed = removed.len(), "brute force flushed");
    let status = if removed.is_empty() {
        "not flushed"
    } else {
        "flushed"
    };
    Ok(envelope(
        session,
        "bruteforce",
        "flush",
        json!({
            "ip_address": request.ip_address,
            "rule_name": request.rule_name,
            "protocol": request.protocol.unwrap_or_default(),
            "oidc_cid": request.oidc_cid.unwrap_or_default(),
            "removed_keys": removed,
            "status": status,
        }),
    ))
}
