//! `POST /oidc/token`: authenticates the client, then hands over to the grant's file.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::error::{OAuthCode, OAuthError};
use super::{client_auth, form_params};
use crate::IdpService;
use crate::clients::GrantType;

/// The handler.
pub async fn handler(State(svc): State<Arc<IdpService>>, headers: HeaderMap, body: Bytes) -> Response {
    let idp = svc.current();
    let now = super::now();
    let result = async {
        let params = form_params(&headers, &body)?;
        let grant_name = params.require("grant_type")?;
        let grant = GrantType::parse(grant_name).ok_or_else(|| {
            OAuthError::json(
                OAuthCode::UnsupportedGrantType,
                format!("grant_type {grant_name} is not supported"),
            )
        })?;
        let client = client_auth::authenticate(&idp, &headers, &params, "/oidc/token", true, now).await?;
        if !client.allows(grant) {
            return Err(OAuthError::json(
                OAuthCode::UnauthorizedClient,
                format!("the client may not use {}", grant.as_str()),
            ));
        }
        match grant {
            GrantType::AuthorizationCode => super::grant_code::exchange(&idp, &client, &params, now).await,
            GrantType::RefreshToken => super::grant_refresh::exchange(&idp, &client, &params, now).await,
            GrantType::ClientCredentials => {
                super::grant_client_credentials::exchange(&idp, &client, &params, now).await
            }
            GrantType::DeviceCode => super::grant_device::exchange(&idp, &client, &params, now).await,
        }
    }
    .await;
    match result {
        Ok(tokens) => tokens.into_response(),
        Err(e) => e.into_response(),
    }
}
