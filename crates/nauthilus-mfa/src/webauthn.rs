//! WebAuthn (security keys and passkeys) on webauthn-rs: registration and authentication
//! ceremonies whose state waits in the state store between begin and finish (a TTL, taken
//! once: a finished or replayed ceremony finds nothing), several named credentials per
//! account with their creation and last-use times, deletion.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::error::MfaError;
use crate::service::{Mfa, unix};
use crate::store::Kind;

/// The relying party and the ceremony timeout.
pub struct WebauthnCeremonies {
    pub(crate) webauthn: Webauthn,
    pub(crate) timeout: std::time::Duration,
}

impl std::fmt::Debug for WebauthnCeremonies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebauthnCeremonies")
    }
}

impl WebauthnCeremonies {
    /// The relying party `config` names.
    pub fn new(config: &nauthilus_config::MfaWebauthnConfig) -> Result<Self, MfaError> {
        let origin = Url::parse(&config.rp_origin)
            .map_err(|e| MfaError::Config(format!("mfa.webauthn.rp_origin: {e}")))?;
        let webauthn = WebauthnBuilder::new(&config.rp_id, &origin)
            .map_err(|e| MfaError::Config(format!("mfa.webauthn: {e}")))?
            .rp_name(&config.rp_name)
            .timeout(config.ceremony_timeout.get())
            .build()
            .map_err(|e| MfaError::Config(format!("mfa.webauthn: {e}")))?;
        Ok(Self {
            webauthn,
            timeout: config.ceremony_timeout.get(),
        })
    }
}

/// One credential as stored.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredCredential {
    name: String,
    created: u64,
    #[serde(default)]
    last_used: Option<u64>,
    pub(crate) passkey: Passkey,
}

/// One credential as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WebauthnCredentialInfo {
    /// The credential id (base64url).
    pub id: String,
    pub name: String,
    /// Unix seconds.
    pub created: u64,
    pub last_used: Option<u64>,
}

/// The WebAuthn user handle of `account`: stable, and no account name on the authenticator.
fn user_id(account: &str) -> Uuid {
    let digest = sha2::Sha256::digest(account.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// Longest user handle WebAuthn allows (bytes).
const MAX_USER_HANDLE: usize = 64;

/// Asks the authenticator for a discoverable credential (a passkey that can sign in without
/// a username) whose user handle is the account itself, so a passkey-only login finds the
/// account from the assertion. The account is already on the authenticator as the user name,
/// so the handle reveals nothing more. An account longer than a user handle keeps the hashed
/// handle: its credentials then work as a second factor only.
fn discoverable(mut challenge: CreationChallengeResponse, account: &str) -> CreationChallengeResponse {
    if account.len() <= MAX_USER_HANDLE {
        challenge.public_key.user.id = account.as_bytes().to_vec().into();
    }
    if let Some(selection) = challenge.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(webauthn_rs_proto::ResidentKeyRequirement::Preferred);
    }
    challenge
}

/// The account a passkey-only assertion names by its user handle (see [`discoverable`]).
pub(crate) fn account_of_handle(handle: &[u8]) -> Option<&str> {
    std::str::from_utf8(handle)
        .ok()
        .filter(|a| !a.is_empty() && a.len() <= MAX_USER_HANDLE && !a.chars().any(char::is_control))
}

/// The record id of a passkey: its credential id as base64url text.
fn credential_id(passkey: &Passkey) -> Result<String, MfaError> {
    match serde_json::to_value(passkey.cred_id()) {
        Ok(serde_json::Value::String(id)) => Ok(id),
        _ => Err(MfaError::Webauthn("credential id is not text".into())),
    }
}

impl Mfa {
    pub(crate) fn ceremonies(&self) -> Result<&WebauthnCeremonies, MfaError> {
        self.webauthn
            .as_ref()
            .ok_or_else(|| MfaError::Config("mfa.webauthn.rp_id and rp_origin are not set".into()))
    }

    fn ceremony_key(&self, what: &str, account: &str) -> String {
        self.state_key(&["webauthn", what, account])
    }

    /// Stores `state` as JSON for `timeout`.
    pub(crate) async fn keep<T: Serialize>(
        &self,
        key: &str,
        state: &T,
        timeout: std::time::Duration,
    ) -> Result<(), MfaError> {
        let json = serde_json::to_string(state).map_err(|e| MfaError::Webauthn(e.to_string()))?;
        self.state.set(key, &json, Some(timeout)).await?;
        Ok(())
    }

    /// Takes the state at `key` (once).
    pub(crate) async fn take<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, MfaError> {
        let json = self
            .state
            .get_del(key)
            .await?
            .ok_or_else(|| MfaError::Webauthn("no ceremony in progress (or it expired)".into()))?;
        serde_json::from_str(&json).map_err(|e| MfaError::Webauthn(format!("ceremony state: {e}")))
    }

    pub(crate) async fn stored_credentials(
        &self,
        account: &str,
    ) -> Result<Vec<(crate::store::Record, StoredCredential)>, MfaError> {
        let mut out = Vec::new();
        for record in self.credentials.list(account, Kind::Webauthn).await? {
            let stored: StoredCredential = Self::decode(Kind::Webauthn, account, &record)?;
            out.push((record, stored));
        }
        Ok(out)
    }

    /// Starts registering a new credential for `account` (shown to the authenticator as
    /// `display_name`); credentials it already has are excluded.
    pub async fn begin_webauthn_registration(
        &self,
        account: &str,
        display_name: &str,
    ) -> Result<CreationChallengeResponse, MfaError> {
        let c = self.ceremonies()?;
        let existing = self.stored_credentials(account).await?;
        let exclude: Vec<_> = existing
            .iter()
            .map(|(_, s)| s.passkey.cred_id().clone())
            .collect();
        let (challenge, state) = c
            .webauthn
            .start_passkey_registration(
                user_id(account),
                account,
                if display_name.is_empty() {
                    account
                } else {
                    display_name
                },
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(|e| MfaError::Webauthn(e.to_string()))?;
        let challenge = discoverable(challenge, account);
        self.keep::<PasskeyRegistration>(&self.ceremony_key("register", account), &state, c.timeout)
            .await?;
        Ok(challenge)
    }

    /// Finishes the registration of `account` with the authenticator's `response`, storing the
    /// credential under `name`.
    pub async fn finish_webauthn_registration(
        &self,
        account: &str,
        name: &str,
        response: &RegisterPublicKeyCredential,
        now: SystemTime,
    ) -> Result<WebauthnCredentialInfo, MfaError> {
        let c = self.ceremonies()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(MfaError::Invalid(
                "a credential needs a name of 1 to 64 printable characters".into(),
            ));
        }
        let state: PasskeyRegistration = self.take(&self.ceremony_key("register", account)).await?;
        let passkey = c
            .webauthn
            .finish_passkey_registration(response, &state)
            .map_err(|e| MfaError::Webauthn(e.to_string()))?;
        let id = credential_id(&passkey)?;
        let stored = StoredCredential {
            name: name.to_owned(),
            created: unix(now),
            last_used: None,
            passkey,
        };
        self.credentials
            .put(account, Kind::Webauthn, &Self::encode(&id, &stored)?)
            .await?;
        self.changed(account).await;
        Ok(WebauthnCredentialInfo {
            id,
            name: stored.name,
            created: stored.created,
            last_used: None,
        })
    }

    /// Starts a WebAuthn login of `account` with any of its credentials.
    pub async fn begin_webauthn_login(&self, account: &str) -> Result<RequestChallengeResponse, MfaError> {
        let c = self.ceremonies()?;
        let passkeys: Vec<Passkey> = self
            .stored_credentials(account)
            .await?
            .into_iter()
            .map(|(_, s)| s.passkey)
            .collect();
        if passkeys.is_empty() {
            return Err(MfaError::Invalid("no WebAuthn credential is enrolled".into()));
        }
        let (challenge, state) = c
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| MfaError::Webauthn(e.to_string()))?;
        self.keep::<PasskeyAuthentication>(&self.ceremony_key("login", account), &state, c.timeout)
            .await?;
        Ok(challenge)
    }

    /// Finishes the WebAuthn login of `account`: the id of the credential used (its counter
    /// and last use are updated).
    pub async fn finish_webauthn_login(
        &self,
        account: &str,
        response: &PublicKeyCredential,
        now: SystemTime,
    ) -> Result<String, MfaError> {
        let c = self.ceremonies()?;
        let state: PasskeyAuthentication = self.take(&self.ceremony_key("login", account)).await?;
        let result = c
            .webauthn
            .finish_passkey_authentication(response, &state)
            .map_err(|e| MfaError::Webauthn(e.to_string()))?;
        self.record_use(account, &result, now).await
    }

    /// Notes a successful assertion with `result` on the credential of `account` it used (the
    /// signature counter and the last use); the credential's record id.
    pub(crate) async fn record_use(
        &self,
        account: &str,
        result: &webauthn_rs::prelude::AuthenticationResult,
        now: SystemTime,
    ) -> Result<String, MfaError> {
        for (record, mut stored) in self.stored_credentials(account).await? {
            if stored.passkey.cred_id() != result.cred_id() {
                continue;
            }
            stored.passkey.update_credential(result);
            stored.last_used = Some(unix(now));
            let updated = Self::encode(&record.id, &stored)?;
            if !self
                .credentials
                .update(account, Kind::Webauthn, &record, &updated)
                .await?
            {
                return Err(MfaError::Webauthn(
                    "the credential changed during the login".into(),
                ));
            }
            return Ok(record.id);
        }
        Err(MfaError::Webauthn(
            "the credential used is no longer enrolled".into(),
        ))
    }

    /// The WebAuthn credentials of `account`, oldest first.
    pub async fn webauthn_credentials(&self, account: &str) -> Result<Vec<WebauthnCredentialInfo>, MfaError> {
        let mut list: Vec<WebauthnCredentialInfo> = self
            .stored_credentials(account)
            .await?
            .into_iter()
            .map(|(record, s)| WebauthnCredentialInfo {
                id: record.id,
                name: s.name,
                created: s.created,
                last_used: s.last_used,
            })
            .collect();
        list.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(list)
    }

    /// Deletes the credential `id` of `account`; false when there is none.
    pub async fn delete_webauthn_credential(&self, account: &str, id: &str) -> Result<bool, MfaError> {
        let removed = self.credentials.remove(account, Kind::Webauthn, id, None).await?;
        if removed {
            self.changed(account).await;
        }
        Ok(removed)
    }
}
