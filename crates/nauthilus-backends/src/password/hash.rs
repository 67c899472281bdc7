//! Hashing new passwords (the `nauthilus users` command): `{ARGON2ID}` (argon2's recommended
//! parameters, m=19456 KiB, t=2, p=1) by default, or `{BLF-CRYPT}` (bcrypt, cost 12), each with
//! a fresh random salt, in the `{SCHEME}`-prefixed form that [`super::PasswordHash::parse`] reads.

use ::argon2::{Argon2, PasswordHasher as _};

use super::Scheme;

/// The bcrypt cost of new `{BLF-CRYPT}` hashes.
const BCRYPT_COST: u32 = 12;

/// Why no hash was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// New hashes are only made in strong schemes.
    #[error("new passwords are hashed with ARGON2ID or BLF-CRYPT, not {0}")]
    Unsupported(Scheme),
    /// The hashing library refused (random source, password length).
    #[error("hashing failed: {0}")]
    Failed(String),
}

/// Hashes `password` with `scheme` (ARGON2ID or BLF-CRYPT) and a random salt.
pub fn hash_password(scheme: Scheme, password: &[u8]) -> Result<String, HashError> {
    match scheme {
        Scheme::Argon2id => Argon2::default()
            .hash_password(password)
            .map(|phc| format!("{{ARGON2ID}}{phc}"))
            .map_err(|e| HashError::Failed(e.to_string())),
        Scheme::BlfCrypt => bcrypt::hash(password, BCRYPT_COST)
            .map(|h| format!("{{BLF-CRYPT}}{h}"))
            .map_err(|e| HashError::Failed(e.to_string())),
        other => Err(HashError::Unsupported(other)),
    }
}

/// `{SSHA512}` of a machine-made random secret (recovery codes, app passwords) with `salt`.
/// Only for secrets with enough entropy of their own (50 bits and more, guesses limited by
/// brute-force rules): a fast salted digest is as strong as a slow hash for them, and they are
/// checked inline on every login. User-chosen passwords take [`hash_password`].
pub fn hash_random_secret(secret: &[u8], salt: &[u8]) -> String {
    use base64::Engine as _;
    let mut raw = super::salted::DigestAlgorithm::Sha512.digest(secret, salt);
    raw.extend_from_slice(salt);
    format!(
        "{{SSHA512}}{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[cfg(test)]
mod tests {
    use super::super::PasswordHash;
    use super::*;

    #[test]
    fn a_random_secret_hash_is_an_ssha512_that_verifies() {
        let h = hash_random_secret(b"k7mqx-2pdab", b"0123456789abcdef");
        assert!(h.starts_with("{SSHA512}"));
        let parsed = PasswordHash::parse(&h).unwrap();
        assert!(parsed.verify(b"k7mqx-2pdab"));
        assert!(!parsed.verify(b"k7mqx-2pdac"));
    }

    #[test]
    fn new_hashes_verify_and_are_salted() {
        for scheme in [Scheme::Argon2id, Scheme::BlfCrypt] {
            let a = hash_password(scheme, b"correct horse").unwrap();
            let b = hash_password(scheme, b"correct horse").unwrap();
            assert_ne!(a, b, "{scheme}: salts differ");
            assert!(a.starts_with(&format!("{{{}}}", scheme.name())), "{a}");
            let parsed = PasswordHash::parse(&a).unwrap();
            assert_eq!(parsed.scheme(), scheme);
            assert!(parsed.verify(b"correct horse"));
            assert!(!parsed.verify(b"wrong"));
        }
        assert_eq!(
            hash_password(Scheme::Sha, b"x"),
            Err(HashError::Unsupported(Scheme::Sha))
        );
    }
}
