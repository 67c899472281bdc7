//! `GET/POST /oidc/userinfo` (OIDC Core §5.3): the claims of a user access token with the
//! `openid` scope; `invalid_token` (401, `Bearer` challenge) otherwise.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::error::{OAuthCode, OAuthError};
use crate::state::{self, AccessToken, StateKeys};
use crate::{IdpService, digest};

/// The handler (the token in `Authorization: Bearer`).
pub async fn handler(State(svc): State<Arc<IdpService>>, headers: HeaderMap) -> Response {
    let idp = svc.current();
    let now = super::now();
    let result = async {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_token("a Bearer token is required"))?;
        let keys = StateKeys::new(&idp.store);
        let at = state::get::<AccessToken>(&idp.store, &keys.access_token(&digest(token)))
            .await?
            .filter(|at| crate::unix(now) < at.expires_at)
            .ok_or_else(|| OAuthError::invalid_token("the access token is invalid or expired"))?;
        if let Some(family) = &at.family
            && !idp.store.exists(&keys.family(family)).await?
        {
            return Err(OAuthError::invalid_token("the access token was revoked"));
        }
        let Some(subject) = at.subject.filter(|_| at.scope.iter().any(|s| s == "openid")) else {
            return Err(OAuthError {
                code: OAuthCode::InvalidToken,
                ..OAuthError::invalid_token("the token carries no openid grant")
            });
        };
        let mut body = Map::new();
        body.insert("sub".into(), subject.account.into());
        // How the user authenticated (OIDC Core §2), as in the ID token.
        if !subject.acr.is_empty() {
            body.insert("acr".into(), subject.acr.into());
        }
        if !subject.amr.is_empty() {
            body.insert("amr".into(), subject.amr.into());
        }
        for (k, v) in subject.claims {
            body.insert(k, v);
        }
        Ok(Value::Object(body))
    }
    .await;
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}
