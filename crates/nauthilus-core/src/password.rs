//! The password a client presented: bytes that are never logged and are wiped when dropped.

use std::fmt;

use zeroize::Zeroizing;

/// A presented password. `Debug` prints only its length class, never its bytes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    /// Wraps the raw bytes of a presented password.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The raw bytes, for verification and for salted digests only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// True when no password was presented or it was empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Password {
    fn from(value: &str) -> Self {
        Self::new(value.as_bytes().to_vec())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("Password(empty)")
        } else {
            f.write_str("Password(***)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let p = Password::from("hunter2");
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert_eq!(format!("{:?}", Password::default()), "Password(empty)");
    }
}
