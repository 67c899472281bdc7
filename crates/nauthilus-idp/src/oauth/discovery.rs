//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::{Idp, IdpService};

/// The discovery document of `idp`.
pub fn document(idp: &Idp) -> Value {
    let mut scopes: Vec<String> = crate::claims::STANDARD_SCOPES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    scopes.extend(idp.config.custom_scopes.iter().map(|s| s.name.clone()));
    let mut claims = vec![
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "sid",
        "at_hash",
        "name",
        "given_name",
        "family_name",
        "nickname",
        "preferred_username",
        "email",
        "groups",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    for s in &idp.config.custom_scopes {
        for c in &s.claims {
            if !claims.contains(c) {
                claims.push(c.clone());
            }
        }
    }
    json!({
        "issuer": idp.issuer,
        "authorization_endpoint": idp.endpoint("/oidc/authorize"),
        "token_endpoint": idp.endpoint("/oidc/token"),
        "userinfo_endpoint": idp.endpoint("/oidc/userinfo"),
        "jwks_uri": idp.endpoint("/oidc/jwks"),
        "introspection_endpoint": idp.endpoint("/oidc/introspect"),
        "revocation_endpoint": idp.endpoint("/oidc/revoke"),
        "device_authorization_endpoint": idp.endpoint("/oidc/device"),
        "end_session_endpoint": idp.endpoint("/oidc/logout"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code", "refresh_token", "client_credentials", crate::clients::DEVICE_GRANT
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": idp.keys.algorithms(),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "EdDSA"],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
        ],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    })
}

/// The handler.
pub async fn handler(State(svc): State<Arc<IdpService>>) -> Json<Value> {
    Json(document(&svc.current()))
}
