//! `server.basic_auth`: one user name and password. Compared in constant time (over SHA-256
//! digests, so that neither content nor length leaks through timing).

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The configured Basic credentials (as digests; the password itself is not kept).
pub struct BasicCredentials {
    username: [u8; 32],
    password: [u8; 32],
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BasicCredentials(..)")
    }
}

/// SHA-256 of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl BasicCredentials {
    /// The credentials callers must send.
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: digest(username.as_bytes()),
            password: digest(password.as_bytes()),
        }
    }

    /// True when the base64 `user:password` of an `Authorization: Basic` header matches. Both
    /// halves are always compared.
    pub fn matches(&self, encoded: &str) -> bool {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return false;
        };
        let user = digest(&decoded[..colon]).ct_eq(&self.username);
        let pass = digest(&decoded[colon + 1..]).ct_eq(&self.password);
        bool::from(user & pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn only_the_exact_pair_matches() {
        let creds = BasicCredentials::new("ops", "0123456789abcdef");
        assert!(creds.matches(&b64("ops:0123456789abcdef")));
        assert!(!creds.matches(&b64("ops:0123456789abcde")));
        assert!(!creds.matches(&b64("ops:0123456789abcdef ")));
        assert!(!creds.matches(&b64("op:0123456789abcdef")));
        assert!(!creds.matches(&b64("0123456789abcdef:ops")));
        assert!(!creds.matches(&b64("ops0123456789abcdef")));
        assert!(!creds.matches("not base64!"));
        // A password containing a colon: the first colon splits.
        let creds = BasicCredentials::new("ops", "a:b:0123456789abcdef");
        assert!(creds.matches(&b64("ops:a:b:0123456789abcdef")));
    }
}
