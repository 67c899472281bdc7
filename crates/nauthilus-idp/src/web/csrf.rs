//! Cross-site request forgery defence for every form, in two independent layers:
//!
//! 1. A hidden `csrf` field: `HMAC-SHA256(key = the browser's random CSRF cookie, purpose ‖
//!    binding)`, where the binding is what the form acts on (the flow id, the user code). A
//!    forged form from another site cannot know the cookie (HttpOnly, never in a page), so it
//!    cannot compute the field; the check is constant time (`Mac::verify_slice`). No server key
//!    is involved, so any instance behind a load balancer can check it.
//! 2. The request must come from our own pages: `Sec-Fetch-Site: same-origin`, or, from a client
//!    that sends no fetch metadata, an `Origin` whose host is the `Host` it was sent to. A request
//!    with neither header is refused (fail closed).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use http::header::{HOST, ORIGIN};
use rand::RngCore;
use sha2::Sha256;

/// Bytes of randomness in the CSRF cookie (256 bit).
const COOKIE_BYTES: usize = 32;
/// Domain separation of the MAC input, so a token can never be another protocol's MAC.
const LABEL: &[u8] = b"nauthilus-idp-csrf-v1";

/// Which form a token is for; a token for one form is refused on every other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Consent,
    Logout,
    Device,
    /// The second-factor step of a login (bound to the pending login).
    SecondFactor,
    /// A passkey-only login (bound to what the login continues).
    Passkey,
    /// The self-service pages (bound to the session's public id).
    SelfService,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Login => b"login",
            Purpose::Consent => b"consent",
            Purpose::Logout => b"logout",
            Purpose::Device => b"device",
            Purpose::SecondFactor => b"second-factor",
            Purpose::Passkey => b"passkey",
            Purpose::SelfService => b"self-service",
        }
    }
}

/// Why a form submission was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    #[error("the request did not come from this site's pages")]
    CrossSite,
    #[error("the form's security token is missing")]
    MissingToken,
    #[error("the browser's security cookie is missing")]
    MissingCookie,
    #[error("the form's security token is wrong")]
    BadToken,
}

/// A fresh cookie value: 256 random bits, base64url.
pub fn new_cookie_value() -> String {
    let mut bytes = [0u8; COOKIE_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn mac(cookie: &str, purpose: Purpose, binding: &str) -> Option<Hmac<Sha256>> {
    let key = URL_SAFE_NO_PAD.decode(cookie).ok()?;
    if key.len() != COOKIE_BYTES {
        return None;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    for part in [LABEL, purpose.label(), binding.as_bytes()] {
        // Length-prefixed, so ("ab","c") and ("a","bc") differ.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    Some(mac)
}

/// The hidden field value for a form of `purpose` acting on `binding`, for the browser whose
/// CSRF cookie is `cookie`. `None` when the cookie is not one we issued (wrong shape).
pub fn token(cookie: &str, purpose: Purpose, binding: &str) -> Option<String> {
    mac(cookie, purpose, binding).map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
}

/// Checks a submitted token against the cookie (constant time).
pub fn verify(
    cookie: Option<&str>,
    submitted: Option<&str>,
    purpose: Purpose,
    binding: &str,
) -> Result<(), CsrfError> {
    let submitted = submitted
        .filter(|t| !t.is_empty())
        .ok_or(CsrfError::MissingToken)?;
    let cookie = cookie.filter(|c| !c.is_empty()).ok_or(CsrfError::MissingCookie)?;
    let tag = URL_SAFE_NO_PAD
        .decode(submitted)
        .map_err(|_| CsrfError::BadToken)?;
    let mac = mac(cookie, purpose, binding).ok_or(CsrfError::BadToken)?;
    mac.verify_slice(&tag).map_err(|_| CsrfError::BadToken)
}

/// The fetch-metadata / origin layer: true only for requests our own pages sent.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let (Some(origin), Some(host)) = (headers.get(ORIGIN), headers.get(HOST)) else {
        return false;
    };
    let (Ok(origin), Ok(host)) = (origin.to_str(), host.to_str()) else {
        return false;
    };
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !authority.is_empty() && !authority.contains('/') && authority.eq_ignore_ascii_case(host)
}

/// Both layers: the origin first (a cross-site request learns nothing about tokens).
pub fn check(
    headers: &HeaderMap,
    cookie: Option<&str>,
    submitted: Option<&str>,
    purpose: Purpose,
    binding: &str,
) -> Result<(), CsrfError> {
    if !same_origin(headers) {
        return Err(CsrfError::CrossSite);
    }
    verify(cookie, submitted, purpose, binding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn a_token_verifies_only_for_its_cookie_purpose_and_binding() {
        let cookie = new_cookie_value();
        let t = token(&cookie, Purpose::Login, "flow1").unwrap();
        assert_eq!(verify(Some(&cookie), Some(&t), Purpose::Login, "flow1"), Ok(()));
        assert_eq!(
            verify(Some(&cookie), Some(&t), Purpose::Consent, "flow1"),
            Err(CsrfError::BadToken)
        );
        assert_eq!(
            verify(Some(&cookie), Some(&t), Purpose::Login, "flow2"),
            Err(CsrfError::BadToken)
        );
        let other = new_cookie_value();
        assert_eq!(
            verify(Some(&other), Some(&t), Purpose::Login, "flow1"),
            Err(CsrfError::BadToken)
        );
    }

    #[test]
    fn missing_or_malformed_parts_are_refused() {
        let cookie = new_cookie_value();
        let t = token(&cookie, Purpose::Logout, "f").unwrap();
        assert_eq!(
            verify(Some(&cookie), None, Purpose::Logout, "f"),
            Err(CsrfError::MissingToken)
        );
        assert_eq!(
            verify(Some(&cookie), Some(""), Purpose::Logout, "f"),
            Err(CsrfError::MissingToken)
        );
        assert_eq!(
            verify(None, Some(&t), Purpose::Logout, "f"),
            Err(CsrfError::MissingCookie)
        );
        assert_eq!(
            verify(Some("short"), Some(&t), Purpose::Logout, "f"),
            Err(CsrfError::BadToken)
        );
        assert_eq!(
            verify(Some(&cookie), Some("!!"), Purpose::Logout, "f"),
            Err(CsrfError::BadToken)
        );
        assert_eq!(token("not base64 !", Purpose::Logout, "f"), None);
    }

    #[test]
    fn binding_parts_cannot_be_shifted_between_fields() {
        let cookie = new_cookie_value();
        assert_ne!(
            token(&cookie, Purpose::Login, "ab"),
            token(&cookie, Purpose::Login, "a")
        );
    }

    #[test]
    fn fetch_metadata_must_say_same_origin() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        for site in ["cross-site", "same-site", "none"] {
            // Origin matching the host does not rescue a cross-site fetch.
            let h = headers(&[
                ("sec-fetch-site", site),
                ("origin", "http://idp.test"),
                ("host", "idp.test"),
            ]);
            assert!(!same_origin(&h), "{site}");
        }
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_match_the_host_and_neither_header_fails_closed() {
        assert!(same_origin(&headers(&[
            ("origin", "https://idp.test:8443"),
            ("host", "idp.test:8443")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "https://evil.test"),
            ("host", "idp.test")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "null"),
            ("host", "idp.test")
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "https://idp.test/x"),
            ("host", "idp.test")
        ])));
        assert!(!same_origin(&headers(&[("host", "idp.test")])));
        assert!(!same_origin(&HeaderMap::new()));
    }

    #[test]
    fn check_refuses_cross_site_before_looking_at_the_token() {
        let cookie = new_cookie_value();
        let t = token(&cookie, Purpose::Device, "ABCD-EFGH").unwrap();
        let cross = headers(&[("sec-fetch-site", "cross-site")]);
        assert_eq!(
            check(&cross, Some(&cookie), Some(&t), Purpose::Device, "ABCD-EFGH"),
            Err(CsrfError::CrossSite)
        );
        let same = headers(&[("sec-fetch-site", "same-origin")]);
        assert_eq!(
            check(&same, Some(&cookie), Some(&t), Purpose::Device, "ABCD-EFGH"),
            Ok(())
        );
    }
}
