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

#[cfg(test)]
mod tests {
    use super::super::PasswordHash;
    use super::*;

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
