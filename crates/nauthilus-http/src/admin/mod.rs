//! Admin endpoints: `DELETE /api/v1/cache/flush`, `GET/POST /api/v1/bruteforce/list`,
//! `DELETE /api/v1/bruteforce/flush`, and the token endpoints of the backchannel JWT auth
//! (`POST /api/v1/jwt/token`, `POST /api/v1/jwt/refresh`). Admin replies are the Nauthilus envelope
//! `{"guid","object","operation","result"}` (plus `session`, the same id).

mod brute_force;
mod cache;
mod jwt;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use nauthilus_core::SessionId;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use brute_force::{brute_force_flush, brute_force_list};
pub use cache::cache_flush;
pub use jwt::{refresh as jwt_refresh, token as jwt_token};

use crate::codec::common::read_body;
use crate::codec::json::{BodyFormat, body_format};
use crate::error::ApiError;

/// The admin reply envelope.
fn envelope(session: SessionId, object: &str, operation: &str, result: Value) -> Response {
    let guid = session.to_string();
    (
        StatusCode::OK,
        axum::Json(json!({
            "guid": guid,
            "session": guid,
            "object": object,
            "operation": operation,
            "result": result,
        })),
    )
        .into_response()
}

/// Reads a JSON admin request body; `None` when the body is empty and `optional`.
async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    optional: bool,
    hint: &str,
) -> Result<Option<T>, ApiError> {
    let bytes = read_body(body).await?;
    if optional && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if body_format(headers)? != BodyFormat::Json {
        return Err(ApiError::UnsupportedMediaType(format!("send JSON: {hint}")));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))
}

/// The error a failed store operation of an admin endpoint becomes.
fn temporary(session: SessionId, what: &str, error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(session = %session, error = %error, "{what} failed");
    ApiError::Internal("Temporary server problem, try again later".into())
}
