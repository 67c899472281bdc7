//! crypt(3)-style strings: recognising a hash by its `$id$`, and verifying SHA-crypt (`$5$`, `$6$`,
//! via `sha-crypt`) and bcrypt (`$2a$`, `$2b$`, `$2y$`, via `bcrypt`).

use std::str::FromStr as _;

use sha_crypt::PasswordVerifier as _;

use super::{PasswordError, Scheme, parse_decimal};

/// The crypt families we verify, as told by the `$id$` prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CryptId {
    Sha256,
    Sha512,
    Bcrypt,
    Argon2i,
    Argon2id,
}

impl CryptId {
    /// Recognises a crypt string by its `$id$`; known but unsupported ids are named in the error.
    pub(super) fn detect(text: &str) -> Result<Self, PasswordError> {
        let Some(rest) = text.strip_prefix('$') else {
            return Err(if is_des_crypt(text) {
                PasswordError::UnsupportedScheme("DES-CRYPT".into())
            } else {
                PasswordError::UnrecognisedFormat
            });
        };
        let Some((id, _)) = rest.split_once('$') else {
            return Err(PasswordError::UnrecognisedFormat);
        };
        let unsupported = |name: &str| Err(PasswordError::UnsupportedScheme(name.to_owned()));
        match id {
            "5" => Ok(CryptId::Sha256),
            "6" => Ok(CryptId::Sha512),
            "2a" | "2b" | "2y" => Ok(CryptId::Bcrypt),
            "argon2i" => Ok(CryptId::Argon2i),
            "argon2id" => Ok(CryptId::Argon2id),
            // Dovecot reads a bare `$1$` as MD5-CRYPT.
            "1" => unsupported("MD5-CRYPT"),
            // The buggy pre-2011 crypt_blowfish variant; no current library produces it.
            "2x" => unsupported("BLF-CRYPT ($2x$)"),
            "argon2d" => unsupported("ARGON2D"),
            "y" => unsupported("yescrypt ($y$)"),
            "7" => unsupported("scrypt ($7$)"),
            other
                if !other.is_empty()
                    && other.len() <= 16
                    && other.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
            {
                unsupported(&format!("crypt (${other}$)"))
            }
            _ => Err(PasswordError::UnrecognisedFormat),
        }
    }

    /// The Dovecot scheme this family verifies as.
    pub(super) fn scheme(self) -> Scheme {
        match self {
            CryptId::Sha256 => Scheme::Sha256Crypt,
            CryptId::Sha512 => Scheme::Sha512Crypt,
            CryptId::Bcrypt => Scheme::BlfCrypt,
            CryptId::Argon2i => Scheme::Argon2i,
            CryptId::Argon2id => Scheme::Argon2id,
        }
    }
}

/// The crypt(3) base64 alphabet, in value order.
const CRYPT_ALPHABET: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Traditional DES crypt: 2 salt and 11 hash characters, no `$`.
fn is_des_crypt(text: &str) -> bool {
    text.len() == 13 && text.bytes().all(|b| CRYPT_ALPHABET.contains(&b))
}

/// A validated SHA-256-crypt or SHA-512-crypt string.
#[derive(Clone)]
pub(super) struct ShaCryptHash(String);

impl ShaCryptHash {
    /// Validates `$5$[rounds=N$]salt$digest` / `$6$...` completely, so that the crate's verifier
    /// can only answer "wrong password".
    pub(super) fn parse(text: &str, scheme: Scheme) -> Result<Self, PasswordError> {
        let malformed = |reason| PasswordError::malformed(scheme, reason);
        let (digest_len, last_char_limit) = match scheme {
            // 32 bytes: 10 groups of 4 characters, then 3 characters carrying 16 bits.
            Scheme::Sha256Crypt => (43, 16),
            // 64 bytes: 21 groups of 4 characters, then 2 characters carrying 8 bits.
            _ => (86, 4),
        };
        let mcf = sha_crypt::PasswordHashRef::new(text)
            .map_err(|_| malformed("not a valid modular crypt string"))?;
        let mut fields = mcf.fields();
        let mut field = fields.next().ok_or_else(|| malformed("salt is missing"))?;
        if let Some(rounds) = field.as_str().strip_prefix("rounds=") {
            let rounds = parse_decimal(rounds).ok_or_else(|| malformed("rounds is not a number"))?;
            sha_crypt::Params::new(rounds).map_err(|_| malformed("rounds out of range"))?;
            field = fields.next().ok_or_else(|| malformed("salt is missing"))?;
        }
        // glibc truncates the salt to 16 characters and writes the truncated one, so a longer salt
        // can never have come from it (and would never match in Dovecot).
        if field.as_str().len() > 16 {
            return Err(malformed("salt is longer than 16 characters"));
        }
        let digest = fields
            .next()
            .ok_or_else(|| malformed("digest is missing"))?
            .as_str();
        if fields.next().is_some() {
            return Err(malformed("unexpected field after the digest"));
        }
        let values: Option<Vec<usize>> = digest
            .bytes()
            .map(|b| CRYPT_ALPHABET.iter().position(|&c| c == b))
            .collect();
        let values = values.ok_or_else(|| malformed("digest is not crypt base64"))?;
        if values.len() != digest_len {
            return Err(malformed("digest has the wrong length"));
        }
        // The last character carries unused high bits, which must be zero; `sha-crypt` refuses
        // such strings at verify time, so refuse them here.
        if values.last().is_some_and(|&last| last >= last_char_limit) {
            return Err(malformed("digest is not canonically encoded"));
        }
        Ok(Self(text.to_owned()))
    }

    /// Recomputes SHA-crypt with the stored salt and rounds; the crate compares in constant time.
    pub(super) fn verify(&self, candidate: &[u8]) -> bool {
        sha_crypt::ShaCrypt::default()
            .verify_password(candidate, self.0.as_str())
            .is_ok()
    }
}

/// A validated bcrypt string.
#[derive(Clone)]
pub(super) struct BcryptHash(String);

impl BcryptHash {
    /// Validates `$2a$` / `$2b$` / `$2y$` strings: 60 characters, cost 4..=31, bcrypt base64.
    pub(super) fn parse(text: &str) -> Result<Self, PasswordError> {
        let malformed = |reason| PasswordError::malformed(Scheme::BlfCrypt, reason);
        let parts = bcrypt::HashParts::from_str(text).map_err(|_| malformed("not a valid bcrypt string"))?;
        if !(4..=31).contains(&parts.get_cost()) {
            return Err(malformed("cost out of range"));
        }
        Ok(Self(text.to_owned()))
    }

    /// Recomputes bcrypt (candidate truncated to 72 bytes, as every bcrypt does); constant-time
    /// comparison inside the crate.
    pub(super) fn verify(&self, candidate: &[u8]) -> bool {
        bcrypt::verify(candidate, &self.0).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::super::PasswordHash;
    use super::*;

    fn assert_vector(stored: &str, scheme: Scheme, password: &str) {
        let hash = PasswordHash::parse(stored).unwrap_or_else(|e| panic!("{stored}: {e}"));
        assert_eq!(hash.scheme(), scheme, "{stored}");
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
    fn sha256_crypt_vectors_verify() {
        // `doveadm pw -s SHA256-CRYPT` (Dovecot 2.3.19 via glibc crypt, 5000 rounds).
        assert_vector(
            "{SHA256-CRYPT}$5$lyXosBvARGFgnSjC$xaoZu3qc3mJZDhmzHLYgGtBZ9rKen3z5P4ScrldSbq.",
            Scheme::Sha256Crypt,
            "correct horse",
        );
        // `openssl passwd -5 -salt Nauthilus1234567` (OpenSSL 3.0.19).
        assert_vector(
            "{SHA256-CRYPT}$5$Nauthilus1234567$QA17S..XV.yQD4e5zMO9Mq.P13UaBS.dRAlHxP608l0",
            Scheme::Sha256Crypt,
            "correct horse",
        );
        // `openssl passwd -5 -salt 'rounds=1000$shortsalt'` (OpenSSL 3.0.19), UTF-8 password.
        assert_vector(
            "$5$rounds=1000$shortsalt$ln7X5DM7bCHGokyqFZr0EFVft6dY.k5kgI7IQI98TUD",
            Scheme::Sha256Crypt,
            "pässwörd",
        );
    }

    #[test]
    fn sha512_crypt_vectors_verify() {
        // `doveadm pw -s SHA512-CRYPT` (Dovecot 2.3.19 via glibc crypt, 5000 rounds).
        assert_vector(
            "{SHA512-CRYPT}$6$7UyktnaFE5yYnhNG$AGDLQ51F3m61Zqy4WQ7nknxv.ybT3qksLHKnZSzJFLSubqv8zESTz4a70etiTyoJMeDpmhf72yK8uex9JEh.3/",
            Scheme::Sha512Crypt,
            "correct horse",
        );
        // `doveadm pw -s SHA512-CRYPT -r 1000` (Dovecot 2.3.19).
        assert_vector(
            "{SHA512-CRYPT}$6$rounds=1000$e74a56jyQH73SK7r$dwCnKe6qOfm9RSQNWAl/KQaxib.Srew/xMww2WHC0fnL2rVkLLRJS4RceY/3rkTZG0YT8CsNav34NzfxYp.4w/",
            Scheme::Sha512Crypt,
            "correct horse",
        );
        // `openssl passwd -6 -salt saltsalt` (OpenSSL 3.0.19).
        assert_vector(
            "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0",
            Scheme::Sha512Crypt,
            "correct horse",
        );
    }

    #[test]
    fn bcrypt_vectors_verify() {
        // `doveadm pw -s BLF-CRYPT -r 4` (Dovecot 2.3.19 via libxcrypt).
        assert_vector(
            "{BLF-CRYPT}$2y$04$u8A/AByVT2wKrt0zvVst3us6sbcGk6RVNC3Qz6WWzvRKTjPbLdJdy",
            Scheme::BlfCrypt,
            "correct horse",
        );
        // `doveadm pw -s BLF-CRYPT -r 5` (Dovecot 2.3.19), UTF-8 password.
        assert_vector(
            "{BLF-CRYPT}$2y$05$pXYCs.woljvTJfXGwyElyuuLN8.x2oN5AG6xxGR48TaJnBoRylcV2",
            Scheme::BlfCrypt,
            "pässwörd",
        );
        // Python bcrypt 5.0.0: gensalt(4, prefix=b"2a") and gensalt(4, prefix=b"2b").
        assert_vector(
            "{blf-crypt}$2a$04$puYaiBzCwQrxXXFpW40ScOFZHORRjDdVlxhfVDd3n1dkRM3Pu6WBu",
            Scheme::BlfCrypt,
            "correct horse",
        );
        assert_vector(
            "$2b$04$yl6HRCncS.5GOnOMIidppu.HLoswrslGV/3UkQrb2ZFla2CeIC4j.",
            Scheme::BlfCrypt,
            "correct horse",
        );
    }

    #[test]
    fn non_canonical_sha_crypt_digest_is_refused_like_the_crate_does() {
        // Last character bumped past the canonical range: 'D' (15) -> 'E' (16) for SHA-256,
        // '0' (2) -> '2' (4) for SHA-512.
        let cases = [
            (
                "$5$rounds=1000$shortsalt$ln7X5DM7bCHGokyqFZr0EFVft6dY.k5kgI7IQI98TUE",
                Scheme::Sha256Crypt,
            ),
            (
                "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z2",
                Scheme::Sha512Crypt,
            ),
        ];
        for (stored, scheme) in cases {
            assert_eq!(
                PasswordHash::parse(stored).unwrap_err(),
                PasswordError::malformed(scheme, "digest is not canonically encoded"),
            );
            // The crate agrees: it refuses the encoding rather than reporting a mismatch.
            let crate_says = sha_crypt::ShaCrypt::default().verify_password(b"x", stored);
            assert_eq!(crate_says, Err(sha_crypt::password_hash::Error::EncodingInvalid));
        }
    }

    #[test]
    fn malformed_crypt_strings_are_errors() {
        let sha256 = Scheme::Sha256Crypt;
        let sha512 = Scheme::Sha512Crypt;
        let blf = Scheme::BlfCrypt;
        let good_256 = "ln7X5DM7bCHGokyqFZr0EFVft6dY.k5kgI7IQI98TUD";
        let cases: Vec<(String, Scheme, &str)> = vec![
            ("$5$".into(), sha256, "not a valid modular crypt string"),
            ("$5$salt".into(), sha256, "digest is missing"),
            ("$5$salt$".into(), sha256, "not a valid modular crypt string"),
            ("$5$rounds=1000$salt".into(), sha256, "digest is missing"),
            (
                format!("$5$rounds=999$salt${good_256}"),
                sha256,
                "rounds out of range",
            ),
            (
                format!("$5$rounds=1000000000$salt${good_256}"),
                sha256,
                "rounds out of range",
            ),
            (
                format!("$5$rounds=99999999999$salt${good_256}"),
                sha256,
                "rounds is not a number",
            ),
            (
                format!("$5$rounds=+1000$salt${good_256}"),
                sha256,
                "rounds is not a number",
            ),
            (
                format!("$5$rounds=$salt${good_256}"),
                sha256,
                "rounds is not a number",
            ),
            (
                format!("$5$salt${good_256}$extra"),
                sha256,
                "unexpected field after the digest",
            ),
            (
                format!("$5$salt with space${good_256}"),
                sha256,
                "not a valid modular crypt string",
            ),
            (
                format!("$5$abcdefghijklmnopq${good_256}"),
                sha256,
                "salt is longer than 16 characters",
            ),
            (
                format!("$5$salt${}", &good_256[..42]),
                sha256,
                "digest has the wrong length",
            ),
            (
                format!("$6$salt${good_256}"),
                sha512,
                "digest has the wrong length",
            ),
            (
                "$5$salt$ln7X5DM7bCHGokyqFZr0EFVft6dY+k5kgI7IQI98TUD".into(),
                sha256,
                "digest is not crypt base64",
            ),
            ("$2y$04$short".into(), blf, "not a valid bcrypt string"),
            (
                "$2y$03$u8A/AByVT2wKrt0zvVst3us6sbcGk6RVNC3Qz6WWzvRKTjPbLdJdy".into(),
                blf,
                "cost out of range",
            ),
            (
                "$2y$32$u8A/AByVT2wKrt0zvVst3us6sbcGk6RVNC3Qz6WWzvRKTjPbLdJdy".into(),
                blf,
                "cost out of range",
            ),
            (
                "$2y$0x$u8A/AByVT2wKrt0zvVst3us6sbcGk6RVNC3Qz6WWzvRKTjPbLdJdy".into(),
                blf,
                "not a valid bcrypt string",
            ),
            (
                "$2y$04$u8A/AByVT2wKrt0zvVst3us6sbcGk6RVNC3Qz6WWzvRKTjPbLdJd!".into(),
                blf,
                "not a valid bcrypt string",
            ),
            (
                "$2y$04$u8A/AByVT2wKrt0zvVst3us6sbcGk6RVNC3Qz6WWzvRKTjPbLdJdyy".into(),
                blf,
                "not a valid bcrypt string",
            ),
            (
                "$2y$04$u8A/AByVT2wKrt0zvVst3us6sbcGk6RVNC3Qz6WWzvRKTjPbLdJé".into(),
                blf,
                "not a valid bcrypt string",
            ),
        ];
        for (stored, scheme, reason) in cases {
            assert_eq!(
                PasswordHash::parse(&stored).unwrap_err(),
                PasswordError::malformed(scheme, reason),
                "{stored}"
            );
        }
    }

    #[test]
    fn bcrypt_truncates_candidates_at_72_bytes_like_every_bcrypt() {
        // Python bcrypt 5.0.0 refuses >72-byte passwords, so this vector is the 72-byte prefix
        // hashed by `doveadm pw -s BLF-CRYPT -r 4` (Dovecot 2.3.19 via libxcrypt).
        let hash =
            PasswordHash::parse("{BLF-CRYPT}$2y$04$xxPFV/6gJJvZk6vPZboarewVcAvMiks9MyMjmLxOizjV6IE8iH4pS")
                .unwrap();
        let prefix = "a".repeat(72);
        assert!(hash.verify(prefix.as_bytes()));
        assert!(hash.verify(format!("{prefix}ignored").as_bytes()));
        assert!(!hash.verify(&prefix.as_bytes()[..71]));
    }
}
