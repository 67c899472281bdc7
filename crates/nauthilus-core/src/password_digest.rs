//! The short salted password digest Nauthilus keeps in the positive cache (and, later, in
//! password history): the first 8 hex digits of SHA-256 over `nonce NUL password`. It never stores
//! the password, and being 32 bits it cannot identify the password even if Redis is read: many
//! passwords share each digest.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Digests passwords with a secret nonce shared by all instances.
#[derive(Clone)]
pub struct PasswordDigester {
    nonce: Vec<u8>,
}

impl std::fmt::Debug for PasswordDigester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordDigester(***)")
    }
}

impl PasswordDigester {
    /// A digester with the configured nonce; with none, a random one (fine for one instance).
    pub fn new(nonce: &str) -> Self {
        if nonce.is_empty() {
            let random: [u8; 32] = rand::random();
            Self {
                nonce: hex::encode(random).into_bytes(),
            }
        } else {
            Self {
                nonce: nonce.as_bytes().to_vec(),
            }
        }
    }

    /// The 8-hex-digit digest of `password`.
    pub fn digest(&self, password: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(&self.nonce);
        h.update([0u8]);
        h.update(password);
        let full = hex::encode(h.finalize());
        full[..8].to_owned()
    }

    /// The digest a wrong password is remembered by in the brute-force history: 16 hex
    /// characters of SHA-256 over nonce, NUL, account, NUL, password. Longer than [`Self::digest`]
    /// because a collision here would forgive a new guess.
    pub fn history_digest(&self, account: &str, password: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(&self.nonce);
        h.update([0u8]);
        h.update(account.as_bytes());
        h.update([0u8]);
        h.update(password);
        let full = hex::encode(h.finalize());
        full[..16].to_owned()
    }

    /// True when `password` digests to `stored` (compared in constant time).
    pub fn matches(&self, password: &[u8], stored: &str) -> bool {
        self.digest(password).as_bytes().ct_eq(stored.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_the_first_8_hex_of_sha256_over_nonce_nul_password() {
        // printf 'nonce-0123456789\0secret' | sha256sum → 8 first hex digits
        let d = PasswordDigester::new("nonce-0123456789");
        assert_eq!(d.digest(b"secret"), "a298a5a1");
        assert!(d.matches(b"secret", "a298a5a1"));
        assert!(!d.matches(b"Secret", "a298a5a1"));
    }

    #[test]
    fn without_a_nonce_each_process_uses_a_random_one() {
        assert_ne!(
            PasswordDigester::new("").digest(b"x"),
            PasswordDigester::new("").digest(b"x")
        );
    }
}
