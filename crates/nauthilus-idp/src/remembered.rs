//! "Remember this device": after a second factor, the browser may get a cookie that skips the
//! step for that account for `mfa.remember_device`. The cookie holds a random 256-bit token,
//! sealed (XChaCha20-Poly1305, the `mfa` key, bound to the account): a changed cookie, or one
//! issued for another account, does not open. The record the token names (by its SHA-256) is
//! on the server, in the state store, with the account, the factor it stands for and its
//! expiry, so revoking it on the self-service page ends the cookie at once. A cookie that does
//! not open, or whose record is missing, expired, revoked or another account's, is ignored:
//! the login asks for the second factor (fail closed).

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::Idp;
use crate::state::{self, StateError};

/// The cookie's base name (`__Host-` behind TLS).
pub const REMEMBER_COOKIE: &str = "nauthilus_mfa_device";

/// Longest browser label kept (characters).
const MAX_LABEL: usize = 80;

/// One remembered browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RememberedDevice {
    /// The record's id (the token's digest; not the token, which only the cookie holds).
    pub id: String,
    pub account: String,
    /// The `amr` of the second factor it stands for.
    pub amr: Vec<String>,
    /// The browser as it described itself (`User-Agent`, shortened).
    pub label: String,
    /// Unix seconds.
    pub created: u64,
    pub expires: u64,
}

fn record_key(idp: &Idp, id: &str) -> String {
    format!("{}idp:mfa-device:{id}", idp.store.keys().prefix())
}

fn list_key(idp: &Idp, account: &str) -> String {
    format!("{}idp:mfa-devices:{account}", idp.store.keys().prefix())
}

/// A shortened `User-Agent` to name the browser by.
pub fn label(headers: &HeaderMap) -> String {
    headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_LABEL)
        .collect()
}

impl Idp {
    /// What a remembered-device cookie of `account` is sealed for.
    fn cookie_context(account: &str) -> String {
        format!("remember-device:{account}")
    }

    /// How long a browser is remembered; `None` when the option is off.
    pub fn remember_lifetime(&self) -> Option<Duration> {
        let lifetime = self.mfa.as_ref()?.config().remember_device.get();
        (!lifetime.is_zero()).then_some(lifetime)
    }

    /// Remembers this browser for `account` (passed `amr` at `now`); the record and the
    /// `Set-Cookie` value. `None` when the option is off.
    pub async fn remember_device(
        &self,
        account: &str,
        amr: &[String],
        label: String,
        now: SystemTime,
    ) -> Result<Option<(RememberedDevice, String)>, StateError> {
        let (Some(lifetime), Some(mfa)) = (self.remember_lifetime(), self.mfa.as_ref()) else {
            return Ok(None);
        };
        let token = crate::random_token();
        let Ok(sealed) = mfa.seal_token(&token, &Self::cookie_context(account)) else {
            tracing::warn!("idp: sealing a remembered-device cookie failed");
            return Ok(None);
        };
        let created = crate::unix(now);
        let device = RememberedDevice {
            id: crate::digest(&token),
            account: account.to_owned(),
            amr: amr.to_vec(),
            label,
            created,
            expires: created.saturating_add(lifetime.as_secs()),
        };
        state::put(&self.store, &record_key(self, &device.id), &device, lifetime).await?;
        self.store
            .set_add(&list_key(self, account), &[&device.id], Some(lifetime))
            .await?;
        let cookie = self
            .pages
            .cookies()
            .set(REMEMBER_COOKIE, &sealed, Some(lifetime.as_secs()));
        Ok(Some((device, cookie)))
    }

    /// The remembered-device record the request's cookie names for `account`, if it is valid
    /// at `now`.
    pub async fn remembered_device(
        &self,
        headers: &HeaderMap,
        account: &str,
        now: SystemTime,
    ) -> Result<Option<RememberedDevice>, StateError> {
        let (Some(sealed), Some(mfa)) = (
            self.pages.cookies().get(headers, REMEMBER_COOKIE),
            self.mfa.as_ref(),
        ) else {
            return Ok(None);
        };
        if sealed.len() > 256 {
            return Ok(None);
        }
        let Some(token) = mfa.open_token(sealed, &Self::cookie_context(account)) else {
            return Ok(None);
        };
        let found: Option<RememberedDevice> =
            state::get(&self.store, &record_key(self, &crate::digest(&token))).await?;
        Ok(found.filter(|d| d.account == account && crate::unix(now) < d.expires))
    }

    /// The browsers remembered for `account`, newest first.
    pub async fn remembered_devices(&self, account: &str) -> Result<Vec<RememberedDevice>, StateError> {
        let ids = self.store.set_members(&list_key(self, account)).await?;
        let mut devices = Vec::new();
        for id in ids {
            match state::get::<RememberedDevice>(&self.store, &record_key(self, &id)).await? {
                Some(device) if device.account == account => devices.push(device),
                // Expired or revoked: drop it from the list too.
                _ => {
                    self.store.set_remove(&list_key(self, account), &[&id]).await?;
                }
            }
        }
        devices.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(devices)
    }

    /// Forgets the remembered browser `id` of `account`; false when there was none.
    pub async fn forget_device(&self, account: &str, id: &str) -> Result<bool, StateError> {
        let key = record_key(self, id);
        let Some(device) = state::get::<RememberedDevice>(&self.store, &key).await? else {
            return Ok(false);
        };
        if device.account != account {
            return Ok(false);
        }
        self.store.delete(&key).await?;
        self.store.set_remove(&list_key(self, account), &[id]).await?;
        Ok(true)
    }
}
