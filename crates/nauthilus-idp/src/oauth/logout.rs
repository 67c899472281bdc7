//! RP-initiated logout (`GET/POST /oidc/logout`, OpenID Connect RP-Initiated Logout 1.0): checks
//! `id_token_hint` (our signature; expiry ignored), `post_logout_redirect_uri` (exact match for
//! the client, else a page, never a redirect) and `state`, then sends the browser to the
//! confirmation page `/logout?flow=`. `Idp::logout` ends the session, revokes the refresh token
//! families its grants started, and fans out back-channel logout
//! tokens (OpenID Connect Back-Channel Logout 1.0) to the clients of the session.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::Validation;
use serde::Deserialize;
use serde_json::json;

use super::Params;
use super::error::{OAuthError, ShownError};
use crate::flow::{FLOW_TTL, Redirect};
use crate::session::BrowserSession;
use crate::state::{self, LogoutRequest, StateKeys};
use crate::{Idp, IdpService};

#[derive(Deserialize)]
struct HintClaims {
    aud: serde_json::Value,
}

/// GET: parameters in the query.
pub async fn handler(State(svc): State<Arc<IdpService>>, RawQuery(query): RawQuery) -> Response {
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return ShownError::bad_request("Invalid logout request", e.description).into_response(),
    };
    into_response(svc.current().start_logout(&params).await)
}

/// POST: parameters in the form body.
pub async fn post_handler(State(svc): State<Arc<IdpService>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = match super::form_params(&headers, &body) {
        Ok(p) => p,
        Err(e) => return ShownError::bad_request("Invalid logout request", e.description).into_response(),
    };
    into_response(svc.current().start_logout(&params).await)
}

fn into_response(r: Result<Redirect, ShownError>) -> Response {
    match r {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    }
}

fn bad(detail: &str) -> ShownError {
    ShownError::bad_request("Invalid logout request", detail)
}

impl Idp {
    /// Validates an RP-initiated logout request and stores it for the confirmation page.
    pub async fn start_logout(&self, params: &Params) -> Result<Redirect, ShownError> {
        let mut client_id = params.get("client_id").map(str::to_owned);
        if let Some(hint) = params.get("id_token_hint") {
            let mut v = Validation::new(jsonwebtoken::Algorithm::ES256);
            v.validate_exp = false;
            v.validate_aud = false;
            v.set_issuer(&[&self.issuer]);
            v.set_required_spec_claims(&["iss", "aud"]);
            let claims: HintClaims = self
                .keys
                .verify(hint, v)
                .map_err(|_| bad("The id_token_hint is not a token of this provider."))?;
            let aud = match &claims.aud {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).unwrap_or("").to_owned(),
                _ => String::new(),
            };
            if client_id.as_ref().is_some_and(|c| *c != aud) {
                return Err(bad("client_id does not match the id_token_hint."));
            }
            client_id = Some(aud);
        }
        let post_logout_redirect_uri = match params.get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let client = client_id
                    .as_deref()
                    .and_then(|id| self.clients.get(id))
                    .ok_or_else(|| bad("A post_logout_redirect_uri needs id_token_hint or client_id."))?;
                if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
                    return Err(bad(
                        "The application asked to return to an address it has not registered.",
                    ));
                }
                Some(uri.to_owned())
            }
        };
        if let Some(id) = &client_id
            && self.clients.get(id).is_none()
        {
            return Err(bad("The application is not registered."));
        }
        let request = LogoutRequest {
            client_id,
            post_logout_redirect_uri,
            state: params.get("state").map(str::to_owned),
        };
        let id = crate::random_token();
        state::put(
            &self.store,
            &StateKeys::new(&self.store).logout(&id),
            &request,
            FLOW_TTL,
        )
        .await?;
        Ok(Redirect::to(format!("/logout?flow={id}")))
    }

    /// The pending logout `flow_id` (for the confirmation page).
    pub async fn logout_request(&self, flow_id: &str) -> Result<Option<LogoutRequest>, ShownError> {
        if flow_id.is_empty() || flow_id.len() > 64 {
            return Ok(None);
        }
        Ok(state::get(&self.store, &StateKeys::new(&self.store).logout(flow_id)).await?)
    }

    /// Ends `session` (if any), sends back-channel logout tokens to the clients that got tokens
    /// in it, and returns where the browser goes (the client's verified URI with `state`, or a
    /// notice) and the `Set-Cookie` that clears the session cookie.
    pub async fn logout(
        &self,
        flow_id: Option<&str>,
        session: Option<&BrowserSession>,
        now: SystemTime,
    ) -> Result<(Redirect, Option<HeaderValue>), ShownError> {
        let request = match flow_id {
            Some(id) if !id.is_empty() && id.len() <= 64 => {
                state::take::<LogoutRequest>(&self.store, &StateKeys::new(&self.store).logout(id)).await?
            }
            _ => None,
        };
        let cookie = match session {
            Some(s) => {
                let cookie = self.end_session(s).await?;
                self.revoke_session_families(s)
                    .await
                    .map_err(|e| ShownError::internal(e.description))?;
                self.backchannel_logout(s, now).await;
                Some(cookie)
            }
            None => None,
        };
        let target = match request {
            Some(LogoutRequest {
                post_logout_redirect_uri: Some(uri),
                state,
                ..
            }) => {
                let mut url = url::Url::parse(&uri).map_err(ShownError::internal)?;
                if let Some(state) = state {
                    url.query_pairs_mut().append_pair("state", &state);
                }
                url.to_string()
            }
            _ => "/notify?message=logged_out".to_owned(),
        };
        Ok((Redirect::to(target), cookie))
    }

    /// Revokes the refresh token families that grants in `session` started (and so their
    /// access tokens): a logged-out session leaves no refresh token working, `offline_access`
    /// ones included (fail closed; Back-Channel Logout 1.0 §2.7 would allow keeping those).
    pub async fn revoke_session_families(&self, session: &BrowserSession) -> Result<(), OAuthError> {
        let keys = StateKeys::new(&self.store);
        let index = keys.session_families(&session.sid);
        for family_id in self.store.set_members(&index).await? {
            self.revoke_family(&family_id).await?;
        }
        self.store.delete(&index).await?;
        Ok(())
    }

    /// POSTs a logout token to every client of `session` with a `backchannel_logout_uri`;
    /// failures are logged (the user is logged out here either way).
    pub async fn backchannel_logout(&self, session: &BrowserSession, now: SystemTime) {
        let keys = StateKeys::new(&self.store);
        let clients = match self.store.set_members(&keys.session_clients(&session.id)).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "idp: clients of the session unknown; no back-channel logout");
                return;
            }
        };
        let _ = self.store.delete(&keys.session_clients(&session.id)).await;
        let mut sends = Vec::new();
        for client in clients.iter().filter_map(|id| self.clients.get(id)) {
            let Some(uri) = &client.backchannel_logout_uri else {
                continue;
            };
            let iat = crate::unix(now);
            let claims = json!({
                "iss": self.issuer,
                "aud": client.id,
                "iat": iat,
                "exp": iat + 120,
                "jti": crate::random_token(),
                "sub": session.account,
                "sid": session.sid,
                "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
            });
            let token = match self.keys.sign(Some(client.id_token_alg), "logout+jwt", &claims) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(client = %client.id, error = %e, "idp: logout token not signed");
                    continue;
                }
            };
            let request = self
                .http
                .post(uri)
                .timeout(Duration::from_secs(5))
                .form(&[("logout_token", token)])
                .send();
            let client_id = client.id.clone();
            sends.push(async move {
                match request.await {
                    Ok(r) if r.status().is_success() => {
                        tracing::info!(client = %client_id, "idp: back-channel logout delivered");
                    }
                    Ok(r) => tracing::warn!(client = %client_id, status = %r.status(), "idp: back-channel logout refused"),
                    Err(e) => tracing::warn!(client = %client_id, error = %e, "idp: back-channel logout failed"),
                }
            });
        }
        futures::future::join_all(sends).await;
    }
}
