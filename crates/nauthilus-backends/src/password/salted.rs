//! `{SHA}`/`{SHA256}`/`{SHA512}` (unsalted digests) and `{SSHA}`/`{SSHA256}`/`{SSHA512}`
//! (digest over password || salt, stored as digest || salt).

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq as _;

use super::encoding::{self, Encoding};
use super::{PasswordError, Scheme};

/// The digest behind a SHA/SSHA scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DigestAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl DigestAlgorithm {
    /// Digest length in bytes.
    pub(super) fn output_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha1 => 20,
            DigestAlgorithm::Sha256 => 32,
            DigestAlgorithm::Sha512 => 64,
        }
    }

    pub(super) fn digest(self, password: &[u8], salt: &[u8]) -> Vec<u8> {
        fn run<D: Digest>(password: &[u8], salt: &[u8]) -> Vec<u8> {
            let mut hasher = D::new();
            hasher.update(password);
            hasher.update(salt);
            hasher.finalize().to_vec()
        }
        match self {
            DigestAlgorithm::Sha1 => run::<Sha1>(password, salt),
            DigestAlgorithm::Sha256 => run::<Sha256>(password, salt),
            DigestAlgorithm::Sha512 => run::<Sha512>(password, salt),
        }
    }
}

/// A stored digest and its salt (empty for the unsalted schemes).
#[derive(Clone)]
pub(super) struct SaltedDigest {
    algorithm: DigestAlgorithm,
    digest: Vec<u8>,
    salt: Vec<u8>,
}

impl SaltedDigest {
    /// `{SHA}`-style payload: base64 by default, or hex when it is exactly twice the digest
    /// length (Dovecot's guess), unless a suffix says which.
    pub(super) fn parse_unsalted(
        scheme: Scheme,
        algorithm: DigestAlgorithm,
        payload: &str,
        explicit: Option<Encoding>,
    ) -> Result<Self, PasswordError> {
        let raw = match explicit {
            Some(encoding) => encoding::decode(payload, encoding),
            None => encoding::decode_guessing(payload, algorithm.output_len()),
        }
        .map_err(|reason| PasswordError::malformed(scheme, reason))?;
        Self::unsalted(scheme, algorithm, raw)
    }

    /// `{SSHA}`-style payload: base64 unless a suffix says otherwise (no guessing: the length
    /// varies with the salt).
    pub(super) fn parse_salted(
        scheme: Scheme,
        algorithm: DigestAlgorithm,
        payload: &str,
        explicit: Option<Encoding>,
    ) -> Result<Self, PasswordError> {
        let raw = encoding::decode(payload, explicit.unwrap_or(Encoding::Base64))
            .map_err(|reason| PasswordError::malformed(scheme, reason))?;
        Self::salted(scheme, algorithm, raw)
    }

    /// An unsalted digest: `raw` must be exactly one digest long.
    fn unsalted(scheme: Scheme, algorithm: DigestAlgorithm, raw: Vec<u8>) -> Result<Self, PasswordError> {
        if raw.len() != algorithm.output_len() {
            return Err(PasswordError::malformed(scheme, "digest has the wrong length"));
        }
        Ok(Self {
            algorithm,
            digest: raw,
            salt: Vec::new(),
        })
    }

    /// A salted digest: `raw` is digest || salt with a non-empty salt, as Dovecot requires.
    fn salted(scheme: Scheme, algorithm: DigestAlgorithm, mut raw: Vec<u8>) -> Result<Self, PasswordError> {
        if raw.len() <= algorithm.output_len() {
            return Err(PasswordError::malformed(
                scheme,
                "too short to hold digest and salt",
            ));
        }
        let salt = raw.split_off(algorithm.output_len());
        Ok(Self {
            algorithm,
            digest: raw,
            salt,
        })
    }

    /// Recomputes the digest and compares in constant time.
    pub(super) fn verify(&self, candidate: &[u8]) -> bool {
        self.algorithm
            .digest(candidate, &self.salt)
            .ct_eq(&self.digest)
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::super::PasswordHash;
    use super::*;

    fn assert_vector(stored: &str, scheme: Scheme, password: &[u8]) {
        let hash = PasswordHash::parse(stored).unwrap_or_else(|e| panic!("{stored}: {e}"));
        assert_eq!(hash.scheme(), scheme, "{stored}");
        assert!(hash.verify(password), "{stored} should accept its password");
        assert!(
            !hash.verify(b"wrong password"),
            "{stored} should reject a wrong password"
        );
        let mut almost = password.to_vec();
        almost.push(b'x');
        assert!(!hash.verify(&almost), "{stored} should reject a longer password");
    }

    #[test]
    fn unsalted_sha_vectors_verify() {
        // `doveadm pw -s SHA`, `-s SHA256`, `-s SHA512`, `-s SHA.hex` (Dovecot 2.3.19).
        assert_vector("{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=", Scheme::Sha, b"correct horse");
        assert_vector(
            "{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE=",
            Scheme::Sha256,
            b"correct horse",
        );
        assert_vector(
            "{SHA512}VraY3v7bWkNbY0r+MyC7rz/c2SC2xQOkRvx7endrKY1HnRumqLYXgI6wv1ec6aldZoNHvKtxSQhayTyyeZUZew==",
            Scheme::Sha512,
            b"correct horse",
        );
        assert_vector(
            "{SHA.HEX}2f9e53523b62abc141a2b4d6019d23cba835dbd0",
            Scheme::Sha,
            b"correct horse",
        );
        // Python hashlib 3.11: sha256(...).hexdigest() with `.hex`.
        assert_vector(
            "{SHA256.hex}4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631",
            Scheme::Sha256,
            b"correct horse",
        );
    }

    #[test]
    fn unsalted_hex_without_suffix_is_guessed_like_dovecot() {
        // Python hashlib 3.11 sha512(...).hexdigest(), no suffix; `doveadm pw -t` accepts it.
        assert_vector(
            "{SHA512}56b698defedb5a435b634afe3320bbaf3fdcd920b6c503a446fc7b7a776b298d479d1ba6a8b617808eb0bf579ce9a95d668347bcab7149085ac93cb27995197b",
            Scheme::Sha512,
            b"correct horse",
        );
    }

    #[test]
    fn salted_sha_vectors_verify() {
        // `doveadm pw -s SSHA`, `-s SSHA256`, `-s SSHA512` (Dovecot 2.3.19; 4-byte random salt).
        assert_vector(
            "{SSHA}stVC0y4PnuPgYTe6sBHWu9wvlzgV8QmU",
            Scheme::Ssha,
            b"correct horse",
        );
        assert_vector(
            "{SSHA256}XiG8DenxAFohIyKqegV3/pAqXnDNZv7fcPPcjeHIsFq3ij8x",
            Scheme::Ssha256,
            b"correct horse",
        );
        assert_vector(
            "{SSHA512}SyCmxPEbOSE2RlK5kJlq5atCopx4mmu/H99CWlWnjxgTLRZ2BhFvqrc8mza+j1i67oe87yn3kSxTnY0gtndbDveL6ok=",
            Scheme::Ssha512,
            b"correct horse",
        );
        // Python hashlib 3.11, 8-byte salt 01..08, base64(digest || salt).
        assert_vector(
            "{SSHA}NSZEu/ZzEMKdBO5ESNEYml3qKRYBAgMEBQYHCA==",
            Scheme::Ssha,
            b"correct horse",
        );
        assert_vector(
            "{SSHA256}CFsq5JPfiBQ0W3uR5Dnao+9mknEq9a739V+FPkJ6yjABAgMEBQYHCA==",
            Scheme::Ssha256,
            b"correct horse",
        );
        assert_vector(
            "{SSHA512}ggObOJHDWCqgI5uFv/j9yDNYMvdTgt+Toj8d6cGrSG/e+E9GbH4DkQ8y5jY3NblhoGens+zNVX1mZaFy0qwRwwECAwQFBgcI",
            Scheme::Ssha512,
            b"correct horse",
        );
    }

    #[test]
    fn salted_sha_with_encoding_suffixes_verify() {
        // `doveadm pw -s SSHA256.hex` and `-s SSHA512.b64` (Dovecot 2.3.19).
        assert_vector(
            "{SSHA256.HEX}5c2f4a99715ce3d83c1654aef1e14c907fec4dbb50d8a6e3d18c29276f968ff610e54376",
            Scheme::Ssha256,
            b"correct horse",
        );
        assert_vector(
            "{SSHA512.B64}Xaz7jR87lF5Z/t1UoWiucXZRlzvyJs2ycDwGBOmfAl0cta/EmIQoejYDhuF20hSjuFRorSQ2H4cAKoOJo2sIJLE56bQ=",
            Scheme::Ssha512,
            b"correct horse",
        );
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        // The `doveadm pw -s SHA` vector above with its `=` stripped, as some LDAP tools store it.
        assert_vector("{SHA}L55TUjtiq8FBorTWAZ0jy6g129A", Scheme::Sha, b"correct horse");
    }

    #[test]
    fn malformed_digests_are_errors() {
        let wrong_length = "digest has the wrong length";
        let too_short = "too short to hold digest and salt";
        let cases = [
            ("{SHA}", Scheme::Sha, wrong_length),
            ("{SHA}L55TUjtiq8FBorTWAZ0jy6g1", Scheme::Sha, wrong_length),
            (
                "{SHA256}L55TUjtiq8FBorTWAZ0jy6g129A=",
                Scheme::Sha256,
                wrong_length,
            ),
            ("{SHA}L55TUjt!q8FBorTWAZ0jy6g129A=", Scheme::Sha, "invalid base64"),
            (
                "{SHA.hex}2f9e53523b62abc141a2b4d6019d23cba835dbdz",
                Scheme::Sha,
                "invalid hex",
            ),
            ("{SHA512.hex}2f9e", Scheme::Sha512, wrong_length),
            // Exactly a digest and no salt: Dovecot refuses this too.
            ("{SSHA}L55TUjtiq8FBorTWAZ0jy6g129A=", Scheme::Ssha, too_short),
            ("{SSHA256}", Scheme::Ssha256, too_short),
            ("{SSHA512}abc=", Scheme::Ssha512, too_short),
            ("{SSHA}%%%%", Scheme::Ssha, "invalid base64"),
            ("{SSHA256.hex}0", Scheme::Ssha256, "invalid hex"),
        ];
        for (stored, scheme, reason) in cases {
            let err = PasswordHash::parse(stored).unwrap_err();
            assert_eq!(err, PasswordError::malformed(scheme, reason), "{stored}");
        }
    }
}
