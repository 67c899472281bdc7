//! Passkey-only login: a discoverable-credential assertion (conditional UI where the browser
//! offers it) that names the account by its user handle, checked against that account's own
//! credentials only, so a forged handle cannot reach another account (the signature must
//! verify with a key the named account enrolled). The ceremony waits in the state store under
//! a random id, taken once.

use std::time::SystemTime;

use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, PublicKeyCredential, RequestChallengeResponse,
};

use crate::error::MfaError;
use crate::service::Mfa;
use crate::webauthn::account_of_handle;

/// A passkey-only login that succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyLogin {
    /// The account the credential belongs to.
    pub account: String,
    /// The credential's record id.
    pub credential_id: String,
    /// The authenticator verified the user (PIN, biometrics).
    pub user_verified: bool,
    /// The credential may be synced between devices (a software-held key).
    pub backup_eligible: bool,
}

impl Mfa {
    /// True when WebAuthn is configured (`mfa.webauthn.rp_id` and `rp_origin`).
    pub fn webauthn_enabled(&self) -> bool {
        self.webauthn.is_some()
    }

    fn passkey_key(&self, ceremony: &str) -> String {
        self.state_key(&["webauthn", "discover", ceremony])
    }

    /// Starts a passkey-only login: the ceremony id (to hand back on finish) and the options
    /// for `navigator.credentials.get` (with `mediation: "conditional"`).
    pub async fn begin_passkey_login(&self) -> Result<(String, RequestChallengeResponse), MfaError> {
        let c = self.ceremonies()?;
        let (challenge, state) = c
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| MfaError::Webauthn(e.to_string()))?;
        let ceremony = crate::secret::random_id();
        self.keep::<DiscoverableAuthentication>(&self.passkey_key(&ceremony), &state, c.timeout)
            .await?;
        Ok((ceremony, challenge))
    }

    /// Finishes the passkey-only login `ceremony` with the browser's `response`.
    pub async fn finish_passkey_login(
        &self,
        ceremony: &str,
        response: &PublicKeyCredential,
        now: SystemTime,
    ) -> Result<PasskeyLogin, MfaError> {
        let c = self.ceremonies()?;
        if ceremony.is_empty() || ceremony.len() > 64 {
            return Err(MfaError::Webauthn(
                "no ceremony in progress (or it expired)".into(),
            ));
        }
        let state: DiscoverableAuthentication = self.take(&self.passkey_key(ceremony)).await?;
        let handle = response
            .response
            .user_handle
            .as_ref()
            .ok_or_else(|| MfaError::Webauthn("the credential names no user".into()))?;
        let account = account_of_handle(handle.as_ref())
            .ok_or_else(|| MfaError::Webauthn("the credential's user handle is not an account".into()))?
            .to_owned();
        let keys: Vec<DiscoverableKey> = self
            .stored_credentials(&account)
            .await?
            .iter()
            .map(|(_, s)| DiscoverableKey::from(&s.passkey))
            .collect();
        if keys.is_empty() {
            return Err(MfaError::Webauthn("the credential is not enrolled".into()));
        }
        let result = c
            .webauthn
            .finish_discoverable_authentication(response, state, &keys)
            .map_err(|e| MfaError::Webauthn(e.to_string()))?;
        let credential_id = self.record_use(&account, &result, now).await?;
        Ok(PasskeyLogin {
            account,
            credential_id,
            user_verified: result.user_verified(),
            backup_eligible: result.backup_eligible(),
        })
    }
}
