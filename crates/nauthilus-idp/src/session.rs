//! The browser's login session: a random 256-bit id in the `nauthilus_session` cookie (never the
//! account), the session itself in the store with the configured lifetime.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Serialize};

use crate::Idp;
use crate::login::AuthenticatedUser;
use crate::state::{self, StateError, StateKeys};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "nauthilus_session";

/// A logged-in browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserSession {
    /// The random id (the cookie value; a secret, never sent to clients).
    pub id: String,
    /// The public session id clients see (`sid` in ID and logout tokens).
    pub sid: String,
    /// The account (`sub`).
    pub account: String,
    pub display_name: String,
    /// When the user authenticated (Unix seconds).
    pub auth_time: u64,
    /// How, in RFC 8176 values: `pwd`, plus `otp` or `hwk` after a second factor; `hwk`/`swk`
    /// with `user` for a passkey.
    pub amr: Vec<String>,
    pub acr: String,
    /// The backend's attributes at login (claims are mapped from them).
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// `amr` values of something the user has (RFC 8176).
const POSSESSION: [&str; 3] = ["otp", "hwk", "swk"];

/// True when `amr` records more than one factor: `mfa` itself, or something the user has
/// (a code, a key) together with another factor (a password, the authenticator's user
/// verification).
pub fn is_multi_factor(amr: &[String]) -> bool {
    let possession = amr.iter().any(|m| POSSESSION.contains(&m.as_str()));
    amr.iter().any(|m| m == "mfa") || (possession && amr.len() >= 2)
}

impl BrowserSession {
    /// True when the user passed more than one factor in this session.
    pub fn has_mfa(&self) -> bool {
        is_multi_factor(&self.amr)
    }
}

/// The value of the cookie `name` in `headers`, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl Idp {
    fn cookie_header(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.config.session.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        let text =
            format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
        // The value is base64url and the rest fixed text: always a valid header.
        HeaderValue::from_str(&text)
            .unwrap_or_else(|_| HeaderValue::from_static("nauthilus_session=; Max-Age=0"))
    }

    /// The session the request's cookie names, if it exists.
    pub async fn session_from_headers(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<BrowserSession>, StateError> {
        let Some(id) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        // Our ids are 43 base64url characters; anything else is not looked up.
        if id.len() != 43
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Ok(None);
        }
        self.session(id).await
    }

    /// The session `id`, if it exists.
    pub async fn session(&self, id: &str) -> Result<Option<BrowserSession>, StateError> {
        state::get(&self.store, &StateKeys::new(&self.store).session(id)).await
    }

    /// Starts a session for `user`, authenticated by `amr` at `now`; returns it and the
    /// `Set-Cookie` value.
    pub async fn create_session(
        &self,
        user: &AuthenticatedUser,
        amr: Vec<String>,
        now: SystemTime,
    ) -> Result<(BrowserSession, HeaderValue), StateError> {
        let lifetime = self.config.session.lifetime.get();
        let session = BrowserSession {
            id: crate::random_token(),
            sid: crate::random_token(),
            account: user.account.clone(),
            display_name: user.display_name.clone(),
            auth_time: crate::unix(now),
            acr: if is_multi_factor(&amr) {
                "urn:nauthilus:mfa".into()
            } else {
                "urn:nauthilus:pwd".into()
            },
            amr,
            attributes: user.attributes.clone(),
        };
        let keys = StateKeys::new(&self.store);
        state::put(&self.store, &keys.session(&session.id), &session, lifetime).await?;
        let cookie = self.cookie_header(&session.id, lifetime.as_secs());
        Ok((session, cookie))
    }

    /// Ends `session` in the store; returns the `Set-Cookie` value that removes the cookie.
    pub async fn end_session(&self, session: &BrowserSession) -> Result<HeaderValue, StateError> {
        let keys = StateKeys::new(&self.store);
        self.store.delete(&keys.session(&session.id)).await?;
        Ok(self.cookie_header("", 0))
    }

    /// Records that `client_id` got tokens in `session` (for back-channel logout).
    pub(crate) async fn remember_client(&self, sid: &str, client_id: &str) -> Result<(), StateError> {
        let keys = StateKeys::new(&self.store);
        self.store
            .set_add(
                &keys.session_clients(sid),
                &[client_id],
                Some(self.config.session.lifetime.get()),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_factor_needs_a_possession_factor_and_another() {
        let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(!is_multi_factor(&v(&["pwd"])));
        assert!(is_multi_factor(&v(&["pwd", "otp"])));
        assert!(is_multi_factor(&v(&["pwd", "hwk"])));
        assert!(is_multi_factor(&v(&["hwk", "user"])));
        assert!(!is_multi_factor(&v(&["hwk"])));
        assert!(!is_multi_factor(&v(&["pwd", "kba"])));
        assert!(is_multi_factor(&v(&["mfa"])));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; nauthilus_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
