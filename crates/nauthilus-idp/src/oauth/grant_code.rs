//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636): the code is taken from the store
//! in one step (GETDEL), so it works once; a replayed code revokes what it issued.

use std::time::SystemTime;

use base64::Engine;
use subtle::ConstantTimeEq;

use super::Params;
use super::error::{OAuthCode, OAuthError};
use super::issue::TokenResponse;
use crate::clients::Client;
use crate::state::{self, CodeGrant, IssuedByCode, StateKeys};
use crate::{Idp, digest};

fn invalid_grant(why: &str) -> OAuthError {
    OAuthError::json(OAuthCode::InvalidGrant, why)
}

/// A PKCE verifier (RFC 7636 §4.1): 43 to 128 unreserved characters.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The S256 transform of a verifier.
pub fn s256(verifier: &str) -> String {
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// Redeems the code.
pub async fn exchange(
    idp: &Idp,
    client: &Client,
    params: &Params,
    now: SystemTime,
) -> Result<TokenResponse, OAuthError> {
    let code = params.require("code")?;
    let keys = StateKeys::new(&idp.store);
    let code_digest = digest(code);
    let Some(grant) = state::take::<CodeGrant>(&idp.store, &keys.code(&code_digest)).await? else {
        // Used before? Then whoever holds it is not the client that redeemed it: revoke.
        if let Some(issued) = state::take::<IssuedByCode>(&idp.store, &keys.code_used(&code_digest)).await? {
            tracing::warn!(client = %client.id, "idp: authorization code replayed; revoking what it issued");
            idp.store.delete(&keys.access_token(&issued.access_token)).await?;
            if let Some(family) = issued.family {
                idp.revoke_family(&family).await?;
            }
        }
        return Err(invalid_grant("the code is invalid, expired or already used"));
    };
    if grant.client_id != client.id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if crate::unix(now) >= grant.expires_at {
        return Err(invalid_grant("the code has expired"));
    }
    if params.get("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&grant.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !valid_verifier(verifier) || !bool::from(s256(verifier).as_bytes().ct_eq(challenge.as_bytes()))
            {
                return Err(invalid_grant("code_verifier does not match the code_challenge"));
            }
        }
        (Some(_), None) => return Err(invalid_grant("code_verifier is required")),
        (None, Some(_)) => return Err(invalid_grant("code_verifier without a code_challenge")),
        (None, None) if client.is_public() => return Err(invalid_grant("PKCE is required")),
        (None, None) => {}
    }
    let (tokens, family) = idp
        .issue_user_tokens(client, &grant.scope, &grant.subject, grant.nonce.as_deref(), now)
        .await?;
    let issued = IssuedByCode {
        access_token: digest(&tokens.access_token),
        family,
    };
    state::put(
        &idp.store,
        &keys.code_used(&code_digest),
        &issued,
        client
            .access_token_lifetime
            .max(idp.config.tokens.code_lifetime.get()),
    )
    .await?;
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(valid_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!valid_verifier("short"));
    }
}
