//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636): one request wins the code (SET NX
//! of its "used" record, then GETDEL of the code), so it works once; a replayed code revokes
//! what it issued (RFC 6749 §4.1.2), also when the replay races the redemption.

use std::time::{Duration, SystemTime};

use base64::Engine;
use subtle::ConstantTimeEq;

use super::Params;
use super::error::{OAuthCode, OAuthError};
use super::issue::{Minted, TokenResponse};
use crate::clients::{Client, GrantType};
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

/// Redeems the code. Who redeems it is decided before the code is read: the first request to
/// create the "used" record (SET NX) naming the tokens it will issue. Any other request for the
/// same code is a replay: it flags the code as replayed and revokes what the record names. The
/// redeemer takes the code (GETDEL), issues, and then looks for the flag; a replay that arrived
/// while it was issuing (its revocation found nothing yet) is seen there, and the redeemer
/// revokes its own tokens. Either way a replayed code leaves no live token behind.
pub async fn exchange(
    idp: &Idp,
    client: &Client,
    params: &Params,
    now: SystemTime,
) -> Result<TokenResponse, OAuthError> {
    let code = params.require("code")?;
    let keys = StateKeys::new(&idp.store);
    let code_digest = digest(code);
    let minted = Minted::for_client(client);
    let issued = IssuedByCode {
        access_token: digest(&minted.access_token),
        family: minted.family.clone(),
    };
    let used_key = keys.code_used(&code_digest);
    let record = serde_json::to_string(&issued).map_err(OAuthError::server)?;
    if !idp
        .store
        .set_nx(&used_key, &record, Some(used_record_ttl(idp, client)))
        .await?
    {
        replayed(idp, client, &code_digest).await?;
        return Err(invalid_grant("the code is invalid, expired or already used"));
    }
    let Some(grant) = state::take::<CodeGrant>(&idp.store, &keys.code(&code_digest)).await? else {
        // No such code (never issued, or expired): nothing was used.
        idp.store.delete(&used_key).await?;
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
    let tokens = idp
        .issue_minted(
            minted,
            client,
            &grant.scope,
            &grant.subject,
            grant.nonce.as_deref(),
            now,
        )
        .await?;
    if idp.store.exists(&keys.code_replayed(&code_digest)).await? {
        tracing::warn!(client = %client.id, "idp: authorization code replayed while it was redeemed; revoking what it issued");
        revoke_issued(idp, &issued).await?;
    }
    Ok(tokens)
}

/// How long the record of a used code lives: as long as what it issued can be used (the
/// refresh family's lifetime, else the access token's), so that a replay can revoke it;
/// never shorter than the code itself. Bounded by those lifetimes' own limits (a year).
fn used_record_ttl(idp: &Idp, client: &Client) -> Duration {
    let tokens = &idp.config.tokens;
    let issued = if client.allows(GrantType::RefreshToken) {
        tokens
            .refresh_token_lifetime
            .get()
            .max(client.access_token_lifetime)
    } else {
        client.access_token_lifetime
    };
    issued.max(tokens.code_lifetime.get())
}

/// A code presented again: flag it (for a redemption still issuing), then revoke what the
/// first redemption issued or is issuing.
async fn replayed(idp: &Idp, client: &Client, code_digest: &str) -> Result<(), OAuthError> {
    let keys = StateKeys::new(&idp.store);
    let Some(issued) = state::get::<IssuedByCode>(&idp.store, &keys.code_used(code_digest)).await? else {
        return Ok(());
    };
    tracing::warn!(client = %client.id, "idp: authorization code replayed; revoking what it issued");
    idp.store
        .set(
            &keys.code_replayed(code_digest),
            "1",
            Some(REPLAY_FLAG_TTL.max(idp.config.tokens.code_lifetime.get())),
        )
        .await?;
    revoke_issued(idp, &issued).await
}

/// How long the replay flag waits for a redemption in flight to look (far longer than one
/// token request takes).
const REPLAY_FLAG_TTL: Duration = Duration::from_secs(300);

async fn revoke_issued(idp: &Idp, issued: &IssuedByCode) -> Result<(), OAuthError> {
    let keys = StateKeys::new(&idp.store);
    idp.store.delete(&keys.access_token(&issued.access_token)).await?;
    if let Some(family) = &issued.family {
        idp.revoke_family(family).await?;
    }
    Ok(())
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
