//! Everything the provider keeps between requests, in the `Store` (Memory or Redis). Every
//! operation touches one key, so Redis Cluster needs no hash tags. Tokens and codes are stored
//! under their SHA-256 digest, never in clear. Layout, under the store prefix:
//!
//! | key | value | TTL |
//! |---|---|---|
//! | `idp:session:<id>` | `BrowserSession` | `idp.session.lifetime` |
//! | `idp:session-clients:<id>` | set of client ids that got tokens in the session | same |
//! | `idp:flow:<id>` | `PendingAuthorization` | 10 min |
//! | `idp:logout:<id>` | `LogoutRequest` | 10 min |
//! | `idp:code:<digest>` | `CodeGrant` (taken with GETDEL) | `idp.tokens.code_lifetime` |
//! | `idp:code-used:<digest>` | `IssuedByCode`: what the code issues (SET NX before issuing; a replay revokes it) | refresh family lifetime (else access token lifetime) |
//! | `idp:code-replayed:<digest>` | flag: a replay came while the code was redeemed | 5 min |
//! | `idp:at:<digest>` | `AccessToken` | its lifetime |
//! | `idp:rt:<digest>` | refresh token → family (taken with GETDEL on use) | family lifetime |
//! | `idp:rt-used:<digest>` | family of a rotated token (reuse revokes it) | family lifetime |
//! | `idp:family:<id>` | `Family`: the grant behind a chain of refresh tokens | family lifetime |
//! | `idp:session-families:<sid>` | set of the families a browser session's grants started (logout revokes them) | refresh lifetime |
//! | `idp:consent:<client>:<account>` | scopes granted | `idp.consent.ttl` |
//! | `idp:device:<digest>` | `DeviceGrant` | `idp.device_flow.code_expiry` |
//! | `idp:user-code:<code>` | digest of the device code | same |
//! | `idp:jti:<client>:<jti>` | a `private_key_jwt` assertion seen (single use) | until it expires |
//! | `idp:key-rotation:<kid>` | claim: this instance makes the successor of key `kid` (SET NX) | 10 min |

pub mod records;

use std::time::Duration;

use nauthilus_store::{Store, StoreResult};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use records::*;

/// Names the provider's keys under the store prefix.
#[derive(Clone, Debug)]
pub struct StateKeys {
    prefix: String,
}

impl StateKeys {
    /// Keys under `store`'s prefix.
    pub fn new(store: &Store) -> Self {
        Self {
            prefix: format!("{}idp:", store.keys().prefix()),
        }
    }

    pub fn session(&self, id: &str) -> String {
        format!("{}session:{id}", self.prefix)
    }
    pub fn session_clients(&self, id: &str) -> String {
        format!("{}session-clients:{id}", self.prefix)
    }
    pub fn flow(&self, id: &str) -> String {
        format!("{}flow:{id}", self.prefix)
    }
    pub fn logout(&self, id: &str) -> String {
        format!("{}logout:{id}", self.prefix)
    }
    pub fn code(&self, digest: &str) -> String {
        format!("{}code:{digest}", self.prefix)
    }
    pub fn code_used(&self, digest: &str) -> String {
        format!("{}code-used:{digest}", self.prefix)
    }
    pub fn code_replayed(&self, digest: &str) -> String {
        format!("{}code-replayed:{digest}", self.prefix)
    }
    pub fn session_families(&self, sid: &str) -> String {
        format!("{}session-families:{sid}", self.prefix)
    }
    pub fn access_token(&self, digest: &str) -> String {
        format!("{}at:{digest}", self.prefix)
    }
    pub fn refresh_token(&self, digest: &str) -> String {
        format!("{}rt:{digest}", self.prefix)
    }
    pub fn refresh_used(&self, digest: &str) -> String {
        format!("{}rt-used:{digest}", self.prefix)
    }
    pub fn family(&self, id: &str) -> String {
        format!("{}family:{id}", self.prefix)
    }
    pub fn consent(&self, client: &str, account: &str) -> String {
        format!("{}consent:{client}:{account}", self.prefix)
    }
    pub fn device(&self, digest: &str) -> String {
        format!("{}device:{digest}", self.prefix)
    }
    pub fn user_code(&self, code: &str) -> String {
        format!("{}user-code:{code}", self.prefix)
    }
    pub fn key_rotation(&self, kid: &str) -> String {
        format!("{}key-rotation:{kid}", self.prefix)
    }
    pub fn jti(&self, client: &str, jti: &str) -> String {
        format!("{}jti:{client}:{jti}", self.prefix)
    }
}

/// Why a stored value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Store(#[from] nauthilus_store::StoreError),
    #[error("stored value at {0} is not valid: {1}")]
    Corrupt(String, String),
}

impl From<StateError> for crate::OAuthError {
    fn from(e: StateError) -> Self {
        Self::server(e)
    }
}

impl From<StateError> for crate::ShownError {
    fn from(e: StateError) -> Self {
        Self::internal(e)
    }
}

/// Stores `value` as JSON at `key`.
pub async fn put<T: Serialize>(store: &Store, key: &str, value: &T, ttl: Duration) -> Result<(), StateError> {
    let text =
        serde_json::to_string(value).map_err(|e| StateError::Corrupt(key.to_owned(), e.to_string()))?;
    store
        .set(key, &text, Some(ttl.max(Duration::from_secs(1))))
        .await?;
    Ok(())
}

/// The JSON value at `key`.
pub async fn get<T: DeserializeOwned>(store: &Store, key: &str) -> Result<Option<T>, StateError> {
    decode(key, store.get(key).await?)
}

/// The JSON value at `key`, deleted in the same step (single use).
pub async fn take<T: DeserializeOwned>(store: &Store, key: &str) -> Result<Option<T>, StateError> {
    decode(key, store.get_del(key).await?)
}

fn decode<T: DeserializeOwned>(key: &str, text: Option<String>) -> Result<Option<T>, StateError> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| StateError::Corrupt(key.to_owned(), e.to_string())))
        .transpose()
}

/// Deletes keys, ignoring missing ones.
pub async fn delete_all(store: &Store, keys: &[String]) -> StoreResult<()> {
    for key in keys {
        store.delete(key).await?;
    }
    Ok(())
}
