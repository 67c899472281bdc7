//! `POST /oidc/introspect` (RFC 7662): any confidential client may ask, about the tokens issued
//! to it (their audience: our access tokens are for the client that got them); a client with
//! `introspect_all_tokens` (a resource server) about every token. An unknown, expired or
//! revoked token, and a token the caller may not see, are all `{"active": false}` (§2.2), so
//! the answer does not tell whether someone else's token exists.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::OAuthError;
use super::{client_auth, form_params};
use crate::clients::Client;
use crate::state::{self, AccessToken, Family, RefreshToken, StateKeys};
use crate::{Idp, IdpService, digest};

/// The handler.
pub async fn handler(State(svc): State<Arc<IdpService>>, headers: HeaderMap, body: Bytes) -> Response {
    let idp = svc.current();
    let now = super::now();
    let result = async {
        let params = form_params(&headers, &body)?;
        let caller =
            client_auth::authenticate(&idp, &headers, &params, "/oidc/introspect", false, now).await?;
        let token = params.require("token")?;
        let hint = params.get("token_type_hint");
        idp.introspect(&caller, token, hint, now).await
    }
    .await;
    match result {
        Ok(body) => {
            let mut r = axum::Json(body).into_response();
            r.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) => e.into_response(),
    }
}

impl Idp {
    /// The state of `token` (an access or refresh token of ours) as `caller` may see it.
    pub async fn introspect(
        &self,
        caller: &Client,
        token: &str,
        hint: Option<&str>,
        now: SystemTime,
    ) -> Result<Value, OAuthError> {
        let inactive = json!({"active": false});
        let keys = StateKeys::new(&self.store);
        let d = digest(token);
        let refresh_first = hint == Some("refresh_token");
        for kind in if refresh_first { [1, 0] } else { [0, 1] } {
            if kind == 0 {
                if let Some(at) = state::get::<AccessToken>(&self.store, &keys.access_token(&d)).await? {
                    if crate::unix(now) >= at.expires_at || !caller.may_introspect(&at.client_id) {
                        return Ok(inactive);
                    }
                    if let Some(family) = &at.family
                        && !self.store.exists(&keys.family(family)).await?
                    {
                        return Ok(inactive);
                    }
                    let mut body = json!({
                        "active": true,
                        "token_type": "Bearer",
                        "client_id": at.client_id,
                        "scope": at.scope.join(" "),
                        "iat": at.issued_at,
                        "exp": at.expires_at,
                        "iss": self.issuer,
                        "aud": at.client_id,
                    });
                    match &at.subject {
                        Some(s) => {
                            body["sub"] = s.account.clone().into();
                            body["username"] = s.account.clone().into();
                            if !s.acr.is_empty() {
                                body["acr"] = s.acr.clone().into();
                            }
                            if !s.amr.is_empty() {
                                body["amr"] = s.amr.clone().into();
                            }
                        }
                        None => body["sub"] = at.client_id.clone().into(),
                    }
                    return Ok(body);
                }
            } else if let Some(rt) = state::get::<RefreshToken>(&self.store, &keys.refresh_token(&d)).await?
                && let Some(family) = state::get::<Family>(&self.store, &keys.family(&rt.family)).await?
                && family.current_refresh == d
                && crate::unix(now) < family.expires_at
            {
                if !caller.may_introspect(&family.client_id) {
                    return Ok(inactive);
                }
                return Ok(json!({
                    "active": true,
                    "token_type": "refresh_token",
                    "client_id": family.client_id,
                    "scope": family.scope.join(" "),
                    "exp": family.expires_at,
                    "iss": self.issuer,
                    "sub": family.subject.account,
                    "username": family.subject.account,
                }));
            }
        }
        Ok(inactive)
    }
}
