//! Decoder of `/auth/basic`: the login is the `Authorization: Basic` credential, and the caller
//! is the client, so the TCP peer is the client address.

use std::net::SocketAddr;

use axum::http::{HeaderMap, header};
use base64::Engine;
use nauthilus_core::{AuthMode, AuthRequest, Password, Protocol, Service, SessionId};

use super::common::validate_username;
use crate::error::ApiError;

/// Builds the request from `Authorization: Basic`; a missing or malformed header is a 401.
/// `peer`, the TCP peer of the connection (absent when the router runs without a socket), becomes
/// the client IP and port; an IPv4-mapped IPv6 peer is written as IPv4.
pub fn decode(
    headers: &HeaderMap,
    session: SessionId,
    peer: Option<SocketAddr>,
) -> Result<AuthRequest, ApiError> {
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
    if let Some(peer) = peer {
        req.client.ip = peer.ip().to_canonical().to_string();
        req.client.port = peer.port().to_string();
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use axum::http::HeaderValue;

    use super::*;

    fn basic(user_pass: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        headers
    }

    #[test]
    fn the_peer_is_the_client() {
        let session = SessionId::new(SystemTime::now());
        let req = decode(
            &basic("a@b:pw"),
            session,
            Some("[::ffff:192.0.2.7]:40123".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(
            (req.client.ip.as_str(), req.client.port.as_str()),
            ("192.0.2.7", "40123")
        );
        let req = decode(
            &basic("a@b:pw"),
            session,
            Some("[2001:db8::1]:993".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(
            (req.client.ip.as_str(), req.client.port.as_str()),
            ("2001:db8::1", "993")
        );
        let req = decode(&basic("a@b:pw"), session, None).unwrap();
        assert_eq!((req.client.ip.as_str(), req.client.port.as_str()), ("", ""));
    }
}
