//! App passwords: random passwords for mail clients, shown once, stored hashed, each scoped to
//! protocols (`imap`, `smtp`, ...) and optionally named after a device; revocable; the last use
//! (time and client address) is remembered. The mail pipeline asks [`Mfa::judge_mail_login`]
//! through the `AppPasswords` trait of `nauthilus-core`.

use std::time::SystemTime;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use nauthilus_core::{AppPasswordVerdict, AppPasswords, AuthRequest};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::MfaError;
use crate::secret;
use crate::service::{Mfa, unix};
use crate::store::Kind;

/// A use is written back at most this often per app password (seconds), unless the client
/// address changed: a busy IMAP client must not turn every login into a write.
const TOUCH_INTERVAL: u64 = 60;

/// One app password as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredAppPassword {
    hash: String,
    protocols: Vec<String>,
    #[serde(default)]
    device: String,
    created: u64,
    #[serde(default)]
    last_used: Option<u64>,
    #[serde(default)]
    last_address: String,
}

/// One app password as shown (never the password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppPasswordInfo {
    pub id: String,
    pub protocols: Vec<String>,
    pub device: String,
    /// Unix seconds.
    pub created: u64,
    pub last_used: Option<u64>,
    pub last_address: String,
}

impl StoredAppPassword {
    fn info(&self, id: &str) -> AppPasswordInfo {
        AppPasswordInfo {
            id: id.to_owned(),
            protocols: self.protocols.clone(),
            device: self.device.clone(),
            created: self.created,
            last_used: self.last_used,
            last_address: self.last_address.clone(),
        }
    }
}

impl Mfa {
    /// True when `protocol` is one app passwords can be scoped to.
    pub fn is_app_password_protocol(&self, protocol: &str) -> bool {
        self.config
            .app_passwords
            .protocols
            .iter()
            .any(|p| p.eq_ignore_ascii_case(protocol))
    }

    /// A new app password of `account` for `protocols`, optionally named after `device`.
    /// Returns its description and the password, which is shown once and stored only hashed.
    pub async fn create_app_password(
        &self,
        account: &str,
        protocols: &[&str],
        device: &str,
        now: SystemTime,
    ) -> Result<(AppPasswordInfo, Zeroizing<String>), MfaError> {
        if protocols.is_empty() {
            return Err(MfaError::Invalid(
                "an app password needs at least one protocol".into(),
            ));
        }
        let mut scoped: Vec<String> = Vec::new();
        for p in protocols {
            let p = p.trim().to_ascii_lowercase();
            if !self.is_app_password_protocol(&p) {
                return Err(MfaError::Invalid(format!(
                    "app passwords cannot be scoped to {p:?} (allowed: {})",
                    self.config.app_passwords.protocols.join(", ")
                )));
            }
            if !scoped.contains(&p) {
                scoped.push(p);
            }
        }
        if device.chars().count() > 64 || device.chars().any(char::is_control) {
            return Err(MfaError::Invalid(
                "device names have at most 64 printable characters".into(),
            ));
        }
        let password = secret::random_code(4, 5);
        let stored = StoredAppPassword {
            hash: secret::hash(&password),
            protocols: scoped,
            device: device.trim().to_owned(),
            created: unix(now),
            last_used: None,
            last_address: String::new(),
        };
        let id = secret::random_id();
        self.credentials
            .put(account, Kind::AppPassword, &Self::encode(&id, &stored)?)
            .await?;
        Ok((stored.info(&id), password))
    }

    /// The app passwords of `account`, oldest first.
    pub async fn app_passwords(&self, account: &str) -> Result<Vec<AppPasswordInfo>, MfaError> {
        let mut list = Vec::new();
        for record in self.credentials.list(account, Kind::AppPassword).await? {
            let stored: StoredAppPassword = Self::decode(Kind::AppPassword, account, &record)?;
            list.push(stored.info(&record.id));
        }
        list.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(list)
    }

    /// Revokes the app password `id` of `account`; false when there is none. Cached logins of
    /// the account are forgotten at once.
    pub async fn revoke_app_password(&self, account: &str, id: &str) -> Result<bool, MfaError> {
        let removed = self
            .credentials
            .remove(account, Kind::AppPassword, id, None)
            .await?;
        if removed {
            self.changed(account).await;
        }
        Ok(removed)
    }

    /// What `req`'s password is worth for `account` on a mail protocol, given the backend's
    /// verdict on it as the main password (see `AppPasswordVerdict`).
    pub async fn judge_mail_login(
        &self,
        account: &str,
        req: &AuthRequest,
        main_password_ok: bool,
        now: SystemTime,
    ) -> Result<AppPasswordVerdict, MfaError> {
        let protocol = req.protocol.as_str();
        if main_password_ok {
            let refused =
                self.config.require_app_password_for_mfa_users && self.has_second_factor(account).await?;
            return Ok(if refused {
                AppPasswordVerdict::MainPasswordRefused
            } else {
                AppPasswordVerdict::Unchanged
            });
        }
        if !self.config.app_passwords.enabled {
            return Ok(AppPasswordVerdict::Unchanged);
        }
        let Ok(candidate) = std::str::from_utf8(req.password.expose()) else {
            return Ok(AppPasswordVerdict::Unchanged);
        };
        let candidate = secret::normalize(candidate);
        for record in self.credentials.list(account, Kind::AppPassword).await? {
            let mut stored: StoredAppPassword = Self::decode(Kind::AppPassword, account, &record)?;
            if !stored.protocols.iter().any(|p| p == protocol) || !secret::matches(&stored.hash, &candidate) {
                continue;
            }
            let at = unix(now);
            let stale = stored
                .last_used
                .is_none_or(|t| at.saturating_sub(t) >= TOUCH_INTERVAL);
            if stale || stored.last_address != req.client.ip {
                stored.last_used = Some(at);
                stored.last_address.clone_from(&req.client.ip);
                let updated = Self::encode(&record.id, &stored)?;
                // The login is right either way; a lost last-use note only costs information.
                // A conditional update: a password revoked meanwhile is not brought back.
                if let Err(e) = self
                    .credentials
                    .update(account, Kind::AppPassword, &record, &updated)
                    .await
                {
                    tracing::warn!(account, error = %e, "mfa: app password use not recorded");
                }
            }
            return Ok(AppPasswordVerdict::AppPassword);
        }
        Ok(AppPasswordVerdict::Unchanged)
    }
}

/// The pipeline's view: app passwords apply to the configured mail protocols.
impl AppPasswords for Mfa {
    fn applies_to(&self, protocol: &str) -> bool {
        self.is_app_password_protocol(protocol)
    }

    fn judge<'a>(
        &'a self,
        account: &'a str,
        req: &'a AuthRequest,
        main_password_ok: bool,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<AppPasswordVerdict, String>> {
        async move {
            self.judge_mail_login(account, req, main_password_ok, now)
                .await
                .map_err(|e| e.to_string())
        }
        .boxed()
    }
}
