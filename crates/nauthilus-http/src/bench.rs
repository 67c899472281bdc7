//! The HTTP ceiling for benchmarks (compiled only with the `bench` cargo feature, never in a
//! default build): `GET|POST /api/v1/bench/bare?bytes=N` passes the same router and middleware
//! as the auth endpoints, reads the body like them, skips decoding and the pipeline, and answers
//! 200 with the headers of a JSON login success and a JSON body of exactly `N` bytes, so the
//! benchmark can ask for the size of the real answer it compares against.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::codec::common::read_body;
use crate::error::ApiError;

/// Largest body the bare route produces.
pub const MAX_BYTES: usize = 64 * 1024;
/// `{"pad":""}`: the body's frame around the padding.
const FRAME: usize = 10;

/// `GET|POST /api/v1/bench/bare?bytes=N` (default 0: the smallest JSON object).
pub async fn bare(uri: Uri, body: Body) -> Result<Response, ApiError> {
    let _body = read_body(body).await?;
    let bytes = requested_bytes(uri.query())?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (
                header::HeaderName::from_static("x-nauthilus-memory-cache"),
                HeaderValue::from_static("Hit"),
            ),
            (
                header::HeaderName::from_static("auth-status"),
                HeaderValue::from_static("OK"),
            ),
        ],
        json_of_size(bytes),
    )
        .into_response())
}

fn requested_bytes(query: Option<&str>) -> Result<usize, ApiError> {
    let value = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("bytes="));
    let Some(value) = value else { return Ok(0) };
    match value.parse::<usize>() {
        Ok(n) if n <= MAX_BYTES => Ok(n),
        _ => Err(ApiError::BadRequest(format!(
            "bytes must be a number up to {MAX_BYTES}"
        ))),
    }
}

/// A JSON object of exactly `bytes` bytes (or `{}` when `bytes` is too small for the frame).
fn json_of_size(bytes: usize) -> String {
    if bytes < FRAME {
        return "{}".to_owned();
    }
    let mut s = String::with_capacity(bytes);
    s.push_str("{\"pad\":\"");
    s.extend(std::iter::repeat_n('x', bytes - FRAME));
    s.push_str("\"}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_exactly_the_requested_size_and_is_json() {
        for n in [10, 11, 213, MAX_BYTES] {
            let body = json_of_size(n);
            assert_eq!(body.len(), n);
            assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
        }
        assert_eq!(json_of_size(3), "{}");
    }

    #[test]
    fn the_size_comes_from_the_query_and_is_bounded() {
        assert_eq!(requested_bytes(None).unwrap(), 0);
        assert_eq!(requested_bytes(Some("a=1&bytes=213")).unwrap(), 213);
        assert!(requested_bytes(Some("bytes=999999")).is_err());
        assert!(requested_bytes(Some("bytes=x")).is_err());
    }
}
