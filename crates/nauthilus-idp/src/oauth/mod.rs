//! The protocol endpoints. Each file is one endpoint (or grant); handlers extract, call one
//! `Idp` method with the time read once, and render through `error.rs`.
//!
//! | route | file |
//! |---|---|
//! | `GET /.well-known/openid-configuration` | `discovery.rs` |
//! | `GET /oidc/jwks` | `jwks.rs` |
//! | `GET/POST /oidc/authorize` | `authorize.rs` |
//! | `POST /oidc/token` | `token.rs` → `grant_*.rs` |
//! | `POST /oidc/introspect` | `introspect.rs` (RFC 7662) |
//! | `POST /oidc/revoke` | `revoke.rs` (RFC 7009) |
//! | `GET/POST /oidc/userinfo` | `userinfo.rs` |
//! | `POST /oidc/device` | `device.rs` (RFC 8628) |
//! | `GET /oidc/logout` | `logout.rs` (RP-initiated logout; back-channel fan-out) |

pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod discovery;
pub mod error;
pub mod grant_client_credentials;
pub mod grant_code;
pub mod grant_device;
pub mod grant_refresh;
pub mod introspect;
pub mod issue;
pub mod jwks;
pub mod logout;
pub mod revoke;
pub mod token;
pub mod userinfo;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::IdpService;
use error::{OAuthCode, OAuthError};

/// The protocol routes.
pub fn router() -> Router<Arc<IdpService>> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::handler))
        .route("/oidc/jwks", get(jwks::handler))
        .route(
            "/oidc/authorize",
            get(authorize::get_handler).post(authorize::post_handler),
        )
        .route("/oidc/token", post(token::handler))
        .route("/oidc/introspect", post(introspect::handler))
        .route("/oidc/revoke", post(revoke::handler))
        .route("/oidc/userinfo", get(userinfo::handler).post(userinfo::handler))
        .route("/oidc/device", post(device::handler))
        .route("/oidc/logout", get(logout::handler).post(logout::post_handler))
}

/// Request parameters (query or form body). A repeated parameter is an error (RFC 6749 §3.1);
/// an empty value counts as absent.
#[derive(Clone, Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text.
    pub fn parse(text: &[u8]) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(text) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(OAuthError::json(
                    OAuthCode::InvalidRequest,
                    format!("parameter {k} is repeated"),
                ));
            }
        }
        Ok(Self(map))
    }

    /// The value of `name`, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The value of `name`, or `invalid_request`.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::json(OAuthCode::InvalidRequest, format!("{name} is required")))
    }

    /// The space-separated list in `name` (empty when absent).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The body of a form POST, checked for its content type.
pub fn form_params(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    {
        return Err(OAuthError::json(
            OAuthCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(body)
}

/// The time, read once per request.
pub fn now() -> std::time::SystemTime {
    nauthilus_clock::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_rejected() {
        assert!(Params::parse(b"a=1&a=2").is_err());
        let p = Params::parse(b"a=1&b=&scope=openid%20email").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.list("scope"), vec!["openid", "email"]);
    }
}
