//! Admin endpoints: `DELETE /api/v1/cache/flush`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::codec::common::read_body;
use crate::codec::json::{BodyFormat, body_format};
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
) -> Response {
    let run = async {
        if body_format(&headers)? != BodyFormat::Json {
            return Err(ApiError::UnsupportedMediaType(
                "send the user as JSON: {\"user\": \"...\"}".into(),
            ));
        }
        let body = read_body(body).await?;
        let request: FlushRequest =
            serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
        let user = request.user.unwrap_or_default();
        if user.trim().is_empty() {
            return Err(ApiError::BadRequest("user is required".into()));
        }
        if user.contains(['*', '?', '[', ']']) {
            return Err(ApiError::BadRequest(
                "wildcards are not supported; name one user".into(),
            ));
        }
        let report = st.pipeline.flush_user(&user).await.map_err(|e| {
            tracing::error!(session = %session, error = %e, "cache flush failed");
            ApiError::Internal("Temporary server problem, try again later".into())
        })?;
        let status = if report.removed_keys.is_empty() {
            "not flushed"
        } else {
            "flushed"
        };
        tracing::info!(session = %session, user = %user, removed = report.removed_keys.len(), "cache flushed");
        let guid = session.to_string();
        Ok((
            StatusCode::OK,
            axum::Json(json!({
                "guid": guid,
                "session": guid,
                "object": "cache",
                "operation": "flush",
                "result": { "user": user, "removed_keys": report.removed_keys, "status": status },
            })),
        )
            .into_response())
    };
    run.await
        .unwrap_or_else(|e: ApiError| e.into_response_for(session))
}
