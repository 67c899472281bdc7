//! Dovecot's `{PBKDF2}` scheme: `$1$<salt>$<rounds>$<40 hex digits>`, PBKDF2-HMAC-SHA1 with a
//! 20-byte key, the salt used as the literal characters between the `$`s (not decoded).

use sha1::Sha1;
use subtle::ConstantTimeEq as _;

use super::{PasswordError, Scheme, parse_decimal};

/// Dovecot's PBKDF2 key length (SHA-1 output).
const KEY_LEN: usize = 20;

/// A validated Dovecot PBKDF2 hash.
#[derive(Clone)]
pub(super) struct Pbkdf2Hash {
    salt: Vec<u8>,
    rounds: u32,
    key: [u8; KEY_LEN],
}

impl Pbkdf2Hash {
    /// Parses `$1$<salt>$<rounds>$<hex>` exactly as Dovecot's `pbkdf2_verify` splits it.
    pub(super) fn parse(text: &str) -> Result<Self, PasswordError> {
        let malformed = |reason| PasswordError::malformed(Scheme::Pbkdf2, reason);
        let rest = text
            .strip_prefix("$1$")
            .ok_or_else(|| malformed("missing $1$ prefix"))?;
        let fields: Vec<&str> = rest.split('$').collect();
        let [salt, rounds, key_hex] = fields.as_slice() else {
            return Err(malformed("expected $1$<salt>$<rounds>$<hex>"));
        };
        let rounds = parse_decimal(rounds).ok_or_else(|| malformed("rounds is not a number"))?;
        // Dovecot's PBKDF2 with zero rounds fails and the entry can never match; say so up front.
        if rounds == 0 {
            return Err(malformed("rounds must be at least 1"));
        }
        let mut key = [0u8; KEY_LEN];
        hex::decode_to_slice(key_hex, &mut key).map_err(|_| malformed("digest is not 40 hex digits"))?;
        Ok(Self {
            salt: salt.as_bytes().to_vec(),
            rounds,
            key,
        })
    }

    /// Recomputes PBKDF2-HMAC-SHA1 and compares in constant time.
    pub(super) fn verify(&self, candidate: &[u8]) -> bool {
        let mut computed = [0u8; KEY_LEN];
        ::pbkdf2::pbkdf2_hmac::<Sha1>(candidate, &self.salt, self.rounds, &mut computed);
        computed.ct_eq(&self.key).into()
    }
}

#[cfg(test)]
mod tests {
    use super::super::PasswordHash;
    use super::*;

    fn assert_vector(stored: &str, password: &str) {
        let hash = PasswordHash::parse(stored).unwrap_or_else(|e| panic!("{stored}: {e}"));
        assert_eq!(hash.scheme(), Scheme::Pbkdf2);
        assert!(
            hash.verify(password.as_bytes()),
            "{stored} should accept its password"
        );
        assert!(
            !hash.verify(b"wrong password"),
            "{stored} should reject a wrong password"
        );
    }

    #[test]
    fn pbkdf2_vectors_verify() {
        // `doveadm pw -s PBKDF2` (Dovecot 2.3.19; 16-character salt, 5000 rounds).
        assert_vector(
            "{PBKDF2}$1$.rO8Umr0OXW5EQg5$5000$a5a144f4238c4c55052fc190db8aec221adb7592",
            "correct horse",
        );
        // `doveadm pw -s PBKDF2 -r 1000` (Dovecot 2.3.19), UTF-8 password.
        assert_vector(
            "{PBKDF2}$1$JNPmH0ZH1jTyhyT.$1000$4067c68f571e7d2b01fdf9f64727b12eeda40ce6",
            "pässwörd",
        );
        // Python hashlib 3.11: pbkdf2_hmac('sha1', pw, b'abcdefghijklmnop', 2000, 20).hex();
        // `doveadm pw -t` accepts it.
        assert_vector(
            "{pbkdf2}$1$abcdefghijklmnop$2000$fb26eb1326a400cfc906f54ad792e251b3b92e71",
            "correct horse",
        );
    }

    #[test]
    fn uppercase_hex_digest_is_accepted() {
        assert_vector(
            "{PBKDF2}$1$abcdefghijklmnop$2000$FB26EB1326A400CFC906F54AD792E251B3B92E71",
            "correct horse",
        );
    }

    #[test]
    fn malformed_pbkdf2_strings_are_errors() {
        let key = "fb26eb1326a400cfc906f54ad792e251b3b92e71";
        let shape = "expected $1$<salt>$<rounds>$<hex>";
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "missing $1$ prefix"),
            (format!("$2$salt$2000${key}"), "missing $1$ prefix"),
            (format!("salt$2000${key}"), "missing $1$ prefix"),
            ("$1$".into(), shape),
            ("$1$salt$2000".into(), shape),
            (format!("$1$salt$2000${key}$"), shape),
            (format!("$1$sa$lt$2000${key}"), shape),
            (format!("$1$salt$${key}"), "rounds is not a number"),
            (format!("$1$salt$-1${key}"), "rounds is not a number"),
            (format!("$1$salt$ 2000${key}"), "rounds is not a number"),
            (format!("$1$salt$4294967296${key}"), "rounds is not a number"),
            (format!("$1$salt$0${key}"), "rounds must be at least 1"),
            ("$1$salt$2000$".into(), "digest is not 40 hex digits"),
            (
                format!("$1$salt$2000${}", &key[..38]),
                "digest is not 40 hex digits",
            ),
            (format!("$1$salt$2000${key}00"), "digest is not 40 hex digits"),
            (
                format!("$1$salt$2000${}zz", &key[..38]),
                "digest is not 40 hex digits",
            ),
        ];
        for (payload, reason) in cases {
            let stored = format!("{{PBKDF2}}{payload}");
            assert_eq!(
                PasswordHash::parse(&stored).unwrap_err(),
                PasswordError::malformed(Scheme::Pbkdf2, reason),
                "{stored}"
            );
        }
    }

    #[test]
    fn empty_salt_is_allowed_as_in_dovecot() {
        // Python hashlib 3.11: pbkdf2_hmac('sha1', b'correct horse', b'', 1000, 20).hex();
        // `doveadm pw -t` accepts it.
        assert_vector(
            "{PBKDF2}$1$$1000$2a5c16cccfe633c2e36cb866fb67a7d451852b5b",
            "correct horse",
        );
    }
}
