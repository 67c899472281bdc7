//! `POST /oidc/revoke` (RFC 7009): a client revokes its own access or refresh token (a refresh
//! token takes its whole family along). Unknown tokens, and other clients' tokens, get the same
//! 200 as success.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::OAuthError;
use super::{client_auth, form_params};
use crate::clients::Client;
use crate::state::{self, AccessToken, RefreshToken, StateKeys};
use crate::{Idp, IdpService, digest};

/// The handler.
pub async fn handler(State(svc): State<Arc<IdpService>>, headers: HeaderMap, body: Bytes) -> Response {
    let idp = svc.current();
    let now = super::now();
    let result = async {
        let params = form_params(&headers, &body)?;
        let client = client_auth::authenticate(&idp, &headers, &params, "/oidc/revoke", true, now).await?;
        let token = params.require("token")?;
        idp.revoke(&client, token).await
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

impl Idp {
    /// Revokes `token` if it belongs to `client`.
    pub async fn revoke(&self, client: &Client, token: &str) -> Result<(), OAuthError> {
        let keys = StateKeys::new(&self.store);
        let d = digest(token);
        if let Some(rt) = state::get::<RefreshToken>(&self.store, &keys.refresh_token(&d)).await? {
            if rt.client_id == client.id {
                self.revoke_family(&rt.family).await?;
            }
            return Ok(());
        }
        if let Some(at) = state::get::<AccessToken>(&self.store, &keys.access_token(&d)).await?
            && at.client_id == client.id
        {
            self.store.delete(&keys.access_token(&d)).await?;
        }
        Ok(())
    }
}
