//! `{PLAIN}` / `{CLEARTEXT}`: the stored value is the password itself.

use subtle::ConstantTimeEq as _;

use super::{PasswordError, Scheme};

/// A cleartext password from the password database.
#[derive(Clone)]
pub(super) struct PlainPassword(Vec<u8>);

impl PlainPassword {
    /// Wraps the decoded stored password; an empty one is refused so that an empty stored value
    /// can never authenticate an empty candidate.
    pub(super) fn new(password: Vec<u8>) -> Result<Self, PasswordError> {
        if password.is_empty() {
            return Err(PasswordError::malformed(Scheme::Plain, "empty password"));
        }
        Ok(Self(password))
    }

    /// Constant-time for equal lengths; the length itself is not secret enough to hide.
    pub(super) fn verify(&self, candidate: &[u8]) -> bool {
        self.0.as_slice().ct_eq(candidate).into()
    }
}

#[cfg(test)]
mod tests {
    use super::super::PasswordHash;
    use super::*;

    #[test]
    fn plain_vectors_verify() {
        // `doveadm pw -s PLAIN` and `-s CLEARTEXT` (Dovecot 2.3.19).
        for stored in ["{PLAIN}correct horse", "{CLEARTEXT}correct horse"] {
            let hash = PasswordHash::parse(stored).unwrap();
            assert_eq!(hash.scheme(), Scheme::Plain);
            assert!(hash.verify(b"correct horse"));
            assert!(!hash.verify(b"correct hors"));
            assert!(!hash.verify(b"correct horse!"));
            assert!(!hash.verify(b""));
        }
    }

    #[test]
    fn plain_keeps_braces_and_dollars_after_the_prefix() {
        let hash = PasswordHash::parse("{PLAIN}{a}$1$b").unwrap();
        assert!(hash.verify(b"{a}$1$b"));
    }

    #[test]
    fn empty_plain_password_is_an_error() {
        assert_eq!(
            PasswordHash::parse("{PLAIN}").unwrap_err(),
            PasswordError::malformed(Scheme::Plain, "empty password")
        );
    }
}
