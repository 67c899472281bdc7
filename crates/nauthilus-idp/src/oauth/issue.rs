//! Minting what the grants hand out: opaque access tokens (stored under their digest, so
//! introspection, revocation and userinfo are one lookup), refresh token families, and signed
//! ID tokens with `at_hash`, `nonce`, `auth_time`, `acr`, `amr` and `sid`.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::error::OAuthError;
use crate::clients::{Client, GrantType};
use crate::keys::SigningAlg;
use crate::state::{self, AccessToken, Family, RefreshToken, StateKeys, Subject};
use crate::{Idp, digest, random_token, unix};

/// A token response (RFC 6749 §5.1).
#[derive(Debug, Default)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: Vec<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        });
        if !self.scope.is_empty() {
            body["scope"] = self.scope.join(" ").into();
        }
        if let Some(rt) = self.refresh_token {
            body["refresh_token"] = rt.into();
        }
        if let Some(id) = self.id_token {
            body["id_token"] = id.into();
        }
        let mut r = axum::Json(body).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r.headers_mut()
            .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        r
    }
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash the signing algorithm uses.
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    use sha2::Digest;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    match alg {
        SigningAlg::Es256 | SigningAlg::Rs256 => b64(&sha2::Sha256::digest(access_token.as_bytes())[..16]),
        SigningAlg::EdDsa => b64(&sha2::Sha512::digest(access_token.as_bytes())[..32]),
    }
}

/// The names of a user grant's tokens, chosen before anything is stored: the code grant
/// records them as "what this code issued" first, so a replay racing the issuance finds them.
#[derive(Debug)]
pub struct Minted {
    /// The access token (clear; stored under its digest).
    pub access_token: String,
    /// The refresh family id, when the client may refresh.
    pub family: Option<String>,
}

impl Minted {
    /// Fresh random names for `client`'s tokens.
    pub fn for_client(client: &Client) -> Self {
        Self {
            access_token: random_token(),
            family: client.allows(GrantType::RefreshToken).then(random_token),
        }
    }
}

impl Idp {
    /// Stores `token` (a fresh `random_token()`, or one a grant chose beforehand) as an access
    /// token for `client`.
    pub async fn issue_access_token(
        &self,
        token: String,
        client: &Client,
        scope: &[String],
        subject: Option<&Subject>,
        family: Option<&str>,
        now: SystemTime,
    ) -> Result<(String, AccessToken), OAuthError> {
        let lifetime = client.access_token_lifetime;
        let record = AccessToken {
            client_id: client.id.clone(),
            scope: scope.to_vec(),
            subject: subject.cloned(),
            family: family.map(str::to_owned),
            issued_at: unix(now),
            expires_at: unix(now) + lifetime.as_secs(),
        };
        let keys = StateKeys::new(&self.store);
        state::put(
            &self.store,
            &keys.access_token(&digest(&token)),
            &record,
            lifetime,
        )
        .await?;
        Ok((token, record))
    }

    /// A signed ID token for `subject` at `client`, bound to `access_token` by `at_hash`.
    pub fn id_token(
        &self,
        client: &Client,
        subject: &Subject,
        nonce: Option<&str>,
        access_token: &str,
        now: SystemTime,
    ) -> Result<String, OAuthError> {
        let iat = unix(now);
        let mut claims = Map::new();
        for (k, v) in &subject.claims {
            claims.insert(k.clone(), v.clone());
        }
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("sub".into(), subject.account.clone().into());
        claims.insert("aud".into(), client.id.clone().into());
        claims.insert("azp".into(), client.id.clone().into());
        claims.insert("iat".into(), iat.into());
        claims.insert(
            "exp".into(),
            (iat + self.config.tokens.id_token_lifetime.get().as_secs()).into(),
        );
        claims.insert("auth_time".into(), subject.auth_time.into());
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), nonce.into());
        }
        if !subject.acr.is_empty() {
            claims.insert("acr".into(), subject.acr.clone().into());
        }
        if !subject.amr.is_empty() {
            claims.insert("amr".into(), subject.amr.clone().into());
        }
        if let Some(sid) = &subject.sid {
            claims.insert("sid".into(), sid.clone().into());
        }
        claims.insert(
            "at_hash".into(),
            at_hash(client.id_token_alg, access_token).into(),
        );
        self.keys
            .sign(Some(client.id_token_alg), "JWT", &Value::Object(claims))
            .map_err(OAuthError::server)
    }

    /// Issues the tokens of a user grant (code or device): an access token, a refresh token
    /// starting a new family when the client may refresh, and an ID token with `openid`.
    pub async fn issue_user_tokens(
        &self,
        client: &Client,
        scope: &[String],
        subject: &Subject,
        nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<(TokenResponse, Option<String>), OAuthError> {
        let minted = Minted::for_client(client);
        let family = minted.family.clone();
        let tokens = self
            .issue_minted(minted, client, scope, subject, nonce, now)
            .await?;
        Ok((tokens, family))
    }

    /// Issues the tokens of a user grant under the names `minted` chose beforehand.
    pub(crate) async fn issue_minted(
        &self,
        minted: Minted,
        client: &Client,
        scope: &[String],
        subject: &Subject,
        nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<TokenResponse, OAuthError> {
        let Minted { access_token, family } = minted;
        let (access_token, _) = self
            .issue_access_token(access_token, client, scope, Some(subject), family.as_deref(), now)
            .await?;
        let refresh_token = match &family {
            Some(family_id) => {
                let lifetime = self.config.tokens.refresh_token_lifetime.get();
                let refresh = random_token();
                let record = Family {
                    client_id: client.id.clone(),
                    scope: scope.to_vec(),
                    subject: subject.clone(),
                    expires_at: unix(now) + lifetime.as_secs(),
                    current_refresh: digest(&refresh),
                    current_access: digest(&access_token),
                };
                self.store_family(family_id, &record, &refresh, lifetime).await?;
                if let Some(sid) = &subject.sid {
                    // Logging out of the session revokes the family (`logout.rs`).
                    self.store
                        .set_add(
                            &StateKeys::new(&self.store).session_families(sid),
                            &[family_id],
                            Some(lifetime),
                        )
                        .await?;
                }
                Some(refresh)
            }
            None => None,
        };
        let id_token = if scope.iter().any(|s| s == "openid") {
            Some(self.id_token(client, subject, nonce, &access_token, now)?)
        } else {
            None
        };
        Ok(TokenResponse {
            expires_in: client.access_token_lifetime.as_secs(),
            access_token,
            scope: scope.to_vec(),
            refresh_token,
            id_token,
        })
    }

    /// Writes a family and its current refresh token.
    pub(crate) async fn store_family(
        &self,
        family_id: &str,
        family: &Family,
        refresh: &str,
        lifetime: Duration,
    ) -> Result<(), OAuthError> {
        let keys = StateKeys::new(&self.store);
        state::put(&self.store, &keys.family(family_id), family, lifetime).await?;
        let pointer = RefreshToken {
            family: family_id.to_owned(),
            client_id: family.client_id.clone(),
        };
        state::put(
            &self.store,
            &keys.refresh_token(&digest(refresh)),
            &pointer,
            lifetime,
        )
        .await?;
        Ok(())
    }

    /// Revokes a family: its record, its current refresh and access tokens.
    pub async fn revoke_family(&self, family_id: &str) -> Result<(), OAuthError> {
        let keys = StateKeys::new(&self.store);
        if let Some(family) = state::take::<Family>(&self.store, &keys.family(family_id)).await? {
            self.store
                .delete(&keys.refresh_token(&family.current_refresh))
                .await?;
            self.store
                .delete(&keys.access_token(&family.current_access))
                .await?;
        }
        tracing::info!(family = %family_id, "idp: refresh token family revoked");
        Ok(())
    }
}
