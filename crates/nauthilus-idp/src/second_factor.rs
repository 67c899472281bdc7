//! The second-factor step of a login (protocol side, no HTTP): whether a login needs one, the
//! pending login that waits for it (in the state store under a random id, five minutes, taken
//! once), and the `amr` values (RFC 8176) each way of signing in records.
//!
//! A login needs a second factor when the account has one enrolled (a TOTP secret or a
//! WebAuthn credential) unless the browser is remembered for it, or when the client requires
//! one; a required factor the account lacks is not a password-only session for that client,
//! it is a page that says to enrol first.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Idp;
use crate::continuation::Continuation;
use crate::login::AuthenticatedUser;
use crate::state::{self, StateError};

/// How long a password login waits for its second factor.
pub const PENDING_TTL: Duration = Duration::from_secs(300);

/// `amr` of a password-only login.
pub const AMR_PASSWORD: &[&str] = &["pwd"];
/// `amr` of a password and a TOTP (or recovery) code.
pub const AMR_PASSWORD_OTP: &[&str] = &["pwd", "otp"];
/// `amr` of a password and a WebAuthn assertion.
pub const AMR_PASSWORD_KEY: &[&str] = &["pwd", "hwk"];

/// `amr` of a passkey-only login: a hardware-held (`hwk`) or synced (`swk`) key, with `user`
/// when the authenticator verified the user.
pub fn passkey_amr(user_verified: bool, synced: bool) -> Vec<String> {
    let key = if synced { "swk" } else { "hwk" };
    let mut amr = vec![key.to_owned()];
    if user_verified {
        amr.push("user".into());
    }
    amr
}

/// `amr` values as owned strings.
pub fn amr(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// What a login needs after the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing more: the session starts.
    Done,
    /// A second factor, with what the account has enrolled.
    Ask(Factors),
    /// The client requires a second factor and the account has none.
    EnrolFirst,
}

/// What an account can answer the second-factor step with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Factors {
    pub totp: bool,
    pub webauthn: bool,
    pub recovery: bool,
}

/// A password login waiting for its second factor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub user: AuthenticatedUser,
    pub next: Continuation,
    /// The client the login is for (`oidc_cid`; empty for the device and self-service pages).
    pub client_id: String,
    /// When the password was checked (Unix seconds).
    pub created: u64,
}

/// Why the second-factor step could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Mfa(#[from] nauthilus_mfa::MfaError),
}

fn pending_key(idp: &Idp, id: &str) -> String {
    format!("{}idp:mfa-login:{}", idp.store.keys().prefix(), crate::digest(id))
}

/// A plausible pending-login id (ours are 43 base64url characters).
fn plausible(id: &str) -> bool {
    id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Idp {
    /// True when the client `client_id` requires a second factor.
    pub fn client_requires_mfa(&self, client_id: &str) -> bool {
        self.clients.get(client_id).is_some_and(|c| c.require_mfa)
    }

    /// What `account` needs after a right password for `client_id`; `remembered` is true when
    /// the browser carries a valid remembered-device cookie for the account.
    pub async fn second_factor_step(
        &self,
        account: &str,
        client_id: &str,
        remembered: bool,
    ) -> Result<Step, StepError> {
        let required = self.client_requires_mfa(client_id);
        let Some(mfa) = &self.mfa else {
            return Ok(if required { Step::EnrolFirst } else { Step::Done });
        };
        if !mfa.has_second_factor(account).await? {
            return Ok(if required { Step::EnrolFirst } else { Step::Done });
        }
        if remembered {
            return Ok(Step::Done);
        }
        Ok(Step::Ask(self.factors(account).await?))
    }

    /// What `account` has enrolled that answers the second-factor step.
    pub async fn factors(&self, account: &str) -> Result<Factors, StepError> {
        let Some(mfa) = &self.mfa else {
            return Ok(Factors::default());
        };
        Ok(Factors {
            totp: mfa.has_totp(account).await?,
            webauthn: mfa.webauthn_enabled() && !mfa.webauthn_credentials(account).await?.is_empty(),
            recovery: mfa.recovery_codes_left(account).await? > 0,
        })
    }

    /// Keeps `pending` until its second factor; returns its id (random, 256 bits).
    pub async fn start_pending_login(&self, pending: &PendingLogin) -> Result<String, StateError> {
        let id = crate::random_token();
        state::put(&self.store, &pending_key(self, &id), pending, PENDING_TTL).await?;
        Ok(id)
    }

    /// The pending login `id`, if it is still waiting.
    pub async fn pending_login(&self, id: &str) -> Result<Option<PendingLogin>, StateError> {
        if !plausible(id) {
            return Ok(None);
        }
        state::get(&self.store, &pending_key(self, id)).await
    }

    /// Takes the pending login `id` (once: a second use finds nothing).
    pub async fn take_pending_login(&self, id: &str) -> Result<Option<PendingLogin>, StateError> {
        if !plausible(id) {
            return Ok(None);
        }
        state::take(&self.store, &pending_key(self, id)).await
    }

    /// The second-factor service, when `mfa.enabled`.
    pub fn mfa(&self) -> Option<&std::sync::Arc<nauthilus_mfa::Mfa>> {
        self.mfa.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkey_amr_names_the_key_kind_and_user_verification() {
        assert_eq!(passkey_amr(true, false), ["hwk", "user"]);
        assert_eq!(passkey_amr(true, true), ["swk", "user"]);
        assert_eq!(passkey_amr(false, false), ["hwk"]);
    }

    #[test]
    fn only_our_ids_are_looked_up() {
        assert!(plausible(&crate::random_token()));
        assert!(!plausible("short"));
        assert!(!plausible(&format!("{}!", "a".repeat(42))));
    }
}
