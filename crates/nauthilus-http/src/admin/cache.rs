//! `DELETE /api/v1/cache/flush`: forget one user's cached logins and brute-force history.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{envelope, json_body, temporary};
use crate::error::ApiError;
use crate::session::Session;
use crate::state::AppState;

#[derive(Deserialize)]
struct FlushRequest {
    user: Option<String>,
}

/// `DELETE /api/v1/cache/flush` with `{"user": "..."}`.
pub async fn cache_flush(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let current = st.current();
    let request: FlushRequest = json_body(&headers, body, false, "{\"user\": \"...\"}")
        .await?
        .ok_or_else(|| ApiError::BadRequest("user is required".into()))?;
    let user = request.user.unwrap_or_default();
    if user.trim().is_empty() {
        return Err(ApiError::BadRequest("user is required".into()));
    }
    if user.contains(['*', '?', '[', ']']) {
        return Err(ApiError::BadRequest(
            "wildcards are not supported; name one user".into(),
        ));
    }
    let report = current
        .flusher
        .flush_user(&user)
        .await
        .map_err(|e| temporary(session, "cache flush", &e))?;
    let status = if report.removed_keys.is_empty() {
        "not flushed"
    } else {
        "flushed"
    };
    tracing::info!(session = %session, user = %user, removed = report.removed_keys.len(), "cache flushed");
    Ok(envelope(
        session,
        "cache",
        "flush",
        json!({ "user": user, "removed_keys": report.removed_keys, "status": status }),
    ))
}
