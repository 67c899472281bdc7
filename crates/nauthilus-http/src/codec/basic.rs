//! Decoder of `/auth/basic`: the login is the `Authorization: Basic` credential.

use axum::http::{HeaderMap, header};
use base64::Engine;
use nauthilus_core::{AuthMode, AuthRequest, Password, Protocol, Service, SessionId};

use super::common::validate_username;
use crate::error::ApiError;

/// Builds the request from `Authorization: Basic`; a missing or malformed header is a 401.
pub fn decode(headers: &HeaderMap, session: SessionId) -> Result<AuthRequest, ApiError> {
    let unauthorized = |why: &str| ApiError::Unauthorized(why.to_owned());
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("Authorization: Basic header required"))?;
    let value = value
        .to_str()
        .map_err(|_| unauthorized("Authorization header is not valid text"))?;
    let (scheme, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| unauthorized("Authorization must be Basic <base64>"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(unauthorized("Authorization must use the Basic scheme"));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| unauthorized("Basic credentials are not valid base64"))?;
    let colon = decoded
        .iter()
        .position(|b| *b == b':')
        .ok_or_else(|| unauthorized("Basic credentials must be user:password"))?;
    let username = String::from_utf8(decoded[..colon].to_vec())
        .map_err(|_| ApiError::BadRequest("username is not valid UTF-8".into()))?;
    let password = decoded[colon + 1..].to_vec();
    validate_username(&username)?;
    if password.is_empty() {
        return Err(ApiError::BadRequest("password is required".into()));
    }
    let mut req = AuthRequest::new(session, Service::Basic, username, Password::new(password));
    req.mode = AuthMode::Authenticate;
    req.protocol = Protocol::new("http");
    if let Some(ua) = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()) {
        req.client.user_agent = ua.to_owned();
    }
    Ok(req)
}
