//! `Mfa`: the one service the IdP pages and the mail pipeline call. It holds the credential
//! store (SQL or LDAP: what users enrolled), the key that seals TOTP secrets, the state store
//! (Redis or in process: pending enrolments, ceremonies, used TOTP steps, brute-force buckets)
//! and the settings. Every method takes the time it runs at.

use std::sync::{Arc, RwLock};

use nauthilus_config::{Config, MfaConfig};
use nauthilus_store::Store;

use crate::error::MfaError;
use crate::guard::CodeGuard;
use crate::secret_box::SecretBox;
use crate::store::{CredentialStore, Kind, Record};
use crate::webauthn::WebauthnCeremonies;

/// Called with an account whose enrolments changed; the change returns once the future is done
/// (the server forgets the account's cached logins there).
pub type ChangeHook = Arc<dyn Fn(&str) -> ChangeFuture + Send + Sync>;

/// What a [`ChangeHook`] returns.
pub type ChangeFuture = futures::future::BoxFuture<'static, ()>;

/// Second factors and app passwords of every account.
pub struct Mfa {
    pub(crate) credentials: Arc<dyn CredentialStore>,
    pub(crate) secrets: SecretBox,
    pub(crate) state: Store,
    pub(crate) config: MfaConfig,
    pub(crate) guard: CodeGuard,
    pub(crate) webauthn: Option<WebauthnCeremonies>,
    on_change: RwLock<Option<ChangeHook>>,
}

impl std::fmt::Debug for Mfa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mfa")
            .field("credentials", &self.credentials)
            .field("webauthn", &self.webauthn.is_some())
            .finish_non_exhaustive()
    }
}

impl Mfa {
    /// The service `config.mfa` describes over `credentials` and the state `store`.
    pub fn new(
        config: &Config,
        credentials: Arc<dyn CredentialStore>,
        state: Store,
    ) -> Result<Self, MfaError> {
        let mfa = &config.mfa;
        let secrets = SecretBox::from_config(&mfa.encryption_key, &mfa.encryption_key_file)?;
        let webauthn = if mfa.webauthn.rp_id.is_empty() {
            None
        } else {
            Some(WebauthnCeremonies::new(&mfa.webauthn)?)
        };
        Ok(Self {
            credentials,
            secrets,
            guard: CodeGuard::new(config, state.clone())?,
            state,
            config: mfa.clone(),
            webauthn,
            on_change: RwLock::new(None),
        })
    }

    /// Sets what to call when an account's enrolments change (the server forgets the
    /// account's cached logins there, so a revoked app password or a new second factor takes
    /// effect at once).
    pub fn on_change(&self, hook: ChangeHook) {
        *self.on_change.write().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    pub(crate) async fn changed(&self, account: &str) {
        let hook = self.on_change.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(hook) = hook {
            hook(account).await;
        }
    }

    /// The `mfa:` settings in force.
    pub fn config(&self) -> &MfaConfig {
        &self.config
    }

    /// `token` sealed for a cookie with the key that seals TOTP secrets (authenticated: a
    /// changed value, another key or another `context` does not open).
    pub fn seal_token(&self, token: &str, context: &str) -> Result<String, MfaError> {
        self.secrets.seal(token.as_bytes(), &format!("token:{context}"))
    }

    /// The token [`Mfa::seal_token`] sealed for `context`; `None` when `sealed` is not that.
    pub fn open_token(&self, sealed: &str, context: &str) -> Option<String> {
        let plain = self.secrets.open(sealed, &format!("token:{context}"))?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// The credential store.
    pub fn credentials(&self) -> &Arc<dyn CredentialStore> {
        &self.credentials
    }

    /// A key in the state store, under the configured prefix.
    pub(crate) fn state_key(&self, parts: &[&str]) -> String {
        format!("{}mfa:{}", self.state.keys().prefix(), parts.join(":"))
    }

    /// True when `account` has enrolled a second factor (a confirmed TOTP or a WebAuthn
    /// credential).
    pub async fn has_second_factor(&self, account: &str) -> Result<bool, MfaError> {
        if !self.credentials.list(account, Kind::Totp).await?.is_empty() {
            return Ok(true);
        }
        Ok(!self.credentials.list(account, Kind::Webauthn).await?.is_empty())
    }

    /// Reads one JSON record.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(
        kind: Kind,
        account: &str,
        record: &Record,
    ) -> Result<T, MfaError> {
        serde_json::from_str(&record.data).map_err(|e| MfaError::Corrupt {
            kind: kind.name(),
            account: account.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Writes one JSON record.
    pub(crate) fn encode<T: serde::Serialize>(id: &str, value: &T) -> Result<Record, MfaError> {
        Ok(Record {
            id: id.to_owned(),
            data: serde_json::to_string(value).map_err(|e| MfaError::Invalid(e.to_string()))?,
        })
    }
}

/// Seconds since the epoch.
pub(crate) fn unix(now: std::time::SystemTime) -> u64 {
    now.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
