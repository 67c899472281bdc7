//! The refresh token grant (RFC 6749 §6) with rotation: the presented token is taken (GETDEL)
//! and replaced; presenting a rotated token again revokes the whole family (RFC 9700 §4.14.2).

use std::time::SystemTime;

use super::Params;
use super::error::{OAuthCode, OAuthError};
use super::issue::TokenResponse;
use crate::clients::Client;
use crate::state::{self, Family, RefreshToken, StateKeys};
use crate::{Idp, digest, random_token};

fn invalid_grant(why: &str) -> OAuthError {
    OAuthError::json(OAuthCode::InvalidGrant, why)
}

/// Rotates the refresh token.
pub async fn exchange(
    idp: &Idp,
    client: &Client,
    params: &Params,
    now: SystemTime,
) -> Result<TokenResponse, OAuthError> {
    let presented = params.require("refresh_token")?;
    let keys = StateKeys::new(&idp.store);
    let token_digest = digest(presented);
    let Some(pointer) = state::take::<RefreshToken>(&idp.store, &keys.refresh_token(&token_digest)).await?
    else {
        if let Some(family) = idp.store.get(&keys.refresh_used(&token_digest)).await? {
            tracing::warn!(client = %client.id, "idp: rotated refresh token reused; revoking its family");
            idp.revoke_family(&family).await?;
        }
        return Err(invalid_grant("the refresh token is invalid, expired or revoked"));
    };
    if pointer.client_id != client.id {
        // Stolen from another client: that family is compromised too.
        idp.revoke_family(&pointer.family).await?;
        return Err(invalid_grant("the refresh token was issued to another client"));
    }
    let Some(mut family) = state::get::<Family>(&idp.store, &keys.family(&pointer.family)).await? else {
        return Err(invalid_grant("the refresh token has been revoked"));
    };
    let now_s = crate::unix(now);
    if now_s >= family.expires_at || family.current_refresh != token_digest {
        idp.revoke_family(&pointer.family).await?;
        return Err(invalid_grant("the refresh token has expired or was replaced"));
    }
    let requested = params.list("scope");
    let scope = if requested.is_empty() {
        family.scope.clone()
    } else if requested.iter().all(|s| family.scope.contains(s)) {
        requested
    } else {
        return Err(OAuthError::json(
            OAuthCode::InvalidScope,
            "scope exceeds the original grant",
        ));
    };
    let remaining = std::time::Duration::from_secs(family.expires_at - now_s);
    // Remember the rotated token so that its reuse is recognised.
    idp.store
        .set(
            &keys.refresh_used(&token_digest),
            &pointer.family,
            Some(remaining),
        )
        .await?;
    // The access token of the previous rotation ends with it.
    idp.store
        .delete(&keys.access_token(&family.current_access))
        .await?;
    let (access_token, _) = idp
        .issue_access_token(
            random_token(),
            client,
            &scope,
            Some(&family.subject),
            Some(&pointer.family),
            now,
        )
        .await?;
    let refresh = random_token();
    family.current_refresh = digest(&refresh);
    family.current_access = digest(&access_token);
    idp.store_family(&pointer.family, &family, &refresh, remaining)
        .await?;
    let id_token = if scope.iter().any(|s| s == "openid") {
        Some(idp.id_token(client, &family.subject, None, &access_token, now)?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        expires_in: client.access_token_lifetime.as_secs(),
        scope,
        refresh_token: Some(refresh),
        id_token,
    })
}
