//! The client credentials grant (RFC 6749 §4.4): an access token for the client itself.

use std::time::SystemTime;

use super::Params;
use super::error::{OAuthCode, OAuthError};
use super::issue::TokenResponse;
use crate::clients::Client;
use crate::{Idp, random_token};

/// Issues the token; `scope` defaults to none and must be allowed for the client.
pub async fn exchange(
    idp: &Idp,
    client: &Client,
    params: &Params,
    now: SystemTime,
) -> Result<TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::json(
            OAuthCode::UnauthorizedClient,
            "public clients cannot use client_credentials",
        ));
    }
    let requested = params.list("scope");
    let scope = client.allowed_scopes(&requested).map_err(|s| {
        OAuthError::json(
            OAuthCode::InvalidScope,
            format!("scope {s} is not allowed for this client"),
        )
    })?;
    if scope.iter().any(|s| s == "openid" || s == "offline_access") {
        return Err(OAuthError::json(
            OAuthCode::InvalidScope,
            "openid and offline_access need a user",
        ));
    }
    let (access_token, _) = idp
        .issue_access_token(random_token(), client, &scope, None, None, now)
        .await?;
    Ok(TokenResponse {
        access_token,
        expires_in: client.access_token_lifetime.as_secs(),
        scope,
        refresh_token: None,
        id_token: None,
    })
}
