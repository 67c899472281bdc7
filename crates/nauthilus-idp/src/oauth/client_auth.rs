//! Client authentication at the token, introspection, revocation and device endpoints
//! (RFC 6749 §2.3, OIDC Core §9): `client_secret_basic`, `client_secret_post`,
//! `private_key_jwt` (RFC 7523; single-use `jti`, `aud` = the endpoint or the issuer) and `none`.
//! A client must use the method it is registered with; presenting two methods is an error.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, header};
use base64::Engine;
use jsonwebtoken::Validation;
use serde::Deserialize;

use super::Params;
use super::error::{OAuthCode, OAuthError};
use crate::Idp;
use crate::clients::{AuthMethod, Client};

/// The `client_assertion_type` of `private_key_jwt`.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: u64,
    jti: String,
}

/// Percent-decoding of the Basic credentials (RFC 6749 §2.3.1 form-encodes them).
fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| OAuthError::invalid_client("malformed Authorization header"))?;
    let Some(encoded) = text
        .strip_prefix("Basic ")
        .or_else(|| text.strip_prefix("basic "))
    else {
        return Err(OAuthError::invalid_client(
            "only Basic client authentication is accepted here",
        ));
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// Authenticates the calling client. `endpoint` is the URL path (`/oidc/token`) an assertion's
/// `aud` may name; `allow_public`: whether a public client (`none`) may call.
pub async fn authenticate(
    idp: &Idp,
    headers: &HeaderMap,
    params: &Params,
    endpoint: &str,
    allow_public: bool,
    now: SystemTime,
) -> Result<Arc<Client>, OAuthError> {
    let basic = basic_credentials(headers)?;
    let post_secret = params.get("client_secret");
    let assertion = params.get("client_assertion");
    let presented =
        usize::from(basic.is_some()) + usize::from(post_secret.is_some()) + usize::from(assertion.is_some());
    if presented > 1 {
        return Err(OAuthError::json(
            OAuthCode::InvalidRequest,
            "use exactly one client authentication method",
        ));
    }
    if let Some((id, secret)) = basic {
        if params.get("client_id").is_some_and(|p| p != id) {
            return Err(OAuthError::invalid_client(
                "client_id does not match the credentials",
            ));
        }
        let client = known(idp, &id)?;
        if client.auth_method != AuthMethod::ClientSecretBasic || !client.secret_matches(&secret) {
            return Err(OAuthError::invalid_client("client authentication failed"));
        }
        return Ok(client);
    }
    if let Some(secret) = post_secret {
        let client = known(idp, params.get("client_id").unwrap_or(""))?;
        if client.auth_method != AuthMethod::ClientSecretPost || !client.secret_matches(secret) {
            return Err(OAuthError::invalid_client("client authentication failed"));
        }
        return Ok(client);
    }
    if let Some(assertion) = assertion {
        if params.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_client("unsupported client_assertion_type"));
        }
        return private_key_jwt(idp, params, assertion, endpoint, now).await;
    }
    let client = known(idp, params.get("client_id").unwrap_or(""))?;
    if client.auth_method != AuthMethod::None {
        return Err(OAuthError::invalid_client("client authentication required"));
    }
    if !allow_public {
        return Err(OAuthError::invalid_client(
            "public clients cannot use this endpoint",
        ));
    }
    Ok(client)
}

fn known(idp: &Idp, id: &str) -> Result<Arc<Client>, OAuthError> {
    idp.clients
        .get(id)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_client("client authentication failed"))
}

async fn private_key_jwt(
    idp: &Idp,
    params: &Params,
    assertion: &str,
    endpoint: &str,
    now: SystemTime,
) -> Result<Arc<Client>, OAuthError> {
    let fail = || OAuthError::invalid_client("client authentication failed");
    // The issuer names the client; the signature then proves it.
    let unverified =
        jsonwebtoken::dangerous::insecure_decode::<AssertionClaims>(assertion).map_err(|_| fail())?;
    let client = known(idp, &unverified.claims.iss)?;
    if params.get("client_id").is_some_and(|id| id != client.id) {
        return Err(fail());
    }
    let (key, alg) = client
        .assertion_key()
        .filter(|_| client.auth_method == AuthMethod::PrivateKeyJwt)
        .ok_or_else(fail)?;
    let mut v = Validation::new(*alg);
    v.set_audience(&[idp.endpoint(endpoint), idp.issuer.clone()]);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    v.leeway = 30;
    let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, key, &v)
        .map_err(|_| fail())?
        .claims;
    if claims.iss != client.id || claims.sub != client.id || claims.jti.is_empty() {
        return Err(fail());
    }
    // Single use until it expires.
    let remaining = claims.exp.saturating_sub(crate::unix(now)).max(60);
    let key = crate::state::StateKeys::new(&idp.store).jti(&client.id, &crate::digest(&claims.jti));
    if !idp
        .store
        .set_nx(&key, "1", Some(Duration::from_secs(remaining)))
        .await?
    {
        return Err(OAuthError::invalid_client("client assertion was already used"));
    }
    Ok(client)
}
