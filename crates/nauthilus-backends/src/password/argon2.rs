//! `{ARGON2I}` / `{ARGON2ID}`: PHC strings (`$argon2i$...`, `$argon2id$...`) verified by the
//! `argon2` crate.

use ::argon2::{Argon2, Params, PasswordHash as PhcHash, PasswordVerifier as _, Version};

use super::{PasswordError, Scheme};

/// The argon2 version the reference implementation assumes when a PHC string has no `v=`.
const VERSION_WHEN_ABSENT: u32 = 0x10;

/// A validated argon2i/argon2id PHC string; boxed because the parsed form is several hundred bytes.
#[derive(Clone)]
pub(super) struct Argon2Hash(Box<PhcHash>);

impl Argon2Hash {
    /// Validates algorithm, version, parameters, salt and digest.
    pub(super) fn parse(text: &str, scheme: Scheme) -> Result<Self, PasswordError> {
        let malformed = |reason| PasswordError::malformed(scheme, reason);
        let mut phc = PhcHash::new(text).map_err(|_| malformed("not a valid PHC string"))?;
        let expected = if scheme == Scheme::Argon2i {
            "argon2i"
        } else {
            "argon2id"
        };
        if phc.algorithm.as_str() != expected {
            return Err(malformed("algorithm does not match the scheme"));
        }
        // libargon2 (and so libsodium and Dovecot) reads a missing `v=` as version 0x10, while the
        // crate would assume 0x13; make the reference behaviour explicit.
        let version = *phc.version.get_or_insert(VERSION_WHEN_ABSENT);
        Version::try_from(version).map_err(|_| malformed("unsupported argon2 version"))?;
        Params::try_from(&phc).map_err(|_| malformed("invalid argon2 parameters"))?;
        if phc.salt.is_none() {
            return Err(malformed("salt is missing"));
        }
        if phc.hash.is_none() {
            return Err(malformed("digest is missing"));
        }
        Ok(Self(Box::new(phc)))
    }

    /// The memory cost `m` in KiB.
    pub(super) fn memory_kib(&self) -> u32 {
        Params::try_from(&*self.0).map_or(0, |p| p.m_cost())
    }

    /// Recomputes argon2 with the stored parameters; the crate compares outputs in constant time.
    pub(super) fn verify(&self, candidate: &[u8]) -> bool {
        Argon2::default().verify_password(candidate, &*self.0).is_ok()
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
    fn argon2i_vectors_verify() {
        // argon2-cffi 25.1.0: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=I).
        assert_vector(
            "{ARGON2I}$argon2i$v=19$m=1024,t=1,p=1$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8",
            Scheme::Argon2i,
            "correct horse",
        );
        // argon2-cffi 25.1.0 low_level.hash_secret(..., version=0x10).
        assert_vector(
            "{argon2i}$argon2i$v=16$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$NgjVSsNMvXkUiH6K++xtGkSmEeUkMDeVNjDYmVCPcQI",
            Scheme::Argon2i,
            "correct horse",
        );
    }

    #[test]
    fn argon2_without_version_means_version_16() {
        // The v=16 vector above without its `v=16$`; argon2-cffi's verify_secret accepts this form.
        assert_vector(
            "$argon2i$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$NgjVSsNMvXkUiH6K++xtGkSmEeUkMDeVNjDYmVCPcQI",
            Scheme::Argon2i,
            "correct horse",
        );
    }

    #[test]
    fn argon2id_vectors_verify() {
        // argon2-cffi 25.1.0: PasswordHasher(time_cost=2, memory_cost=4096, parallelism=2, type=ID).
        assert_vector(
            "{ARGON2ID}$argon2id$v=19$m=4096,t=2,p=2$495ewIoZodVMqxM6i4OLHA$qgiaplty1ZpFCOJGgBK/8AMnz/vY1ytjobcJV4vJg6c",
            Scheme::Argon2id,
            "correct horse",
        );
        // argon2-cffi 25.1.0: PasswordHasher(time_cost=1, memory_cost=2048, parallelism=1, type=ID),
        // UTF-8 password.
        assert_vector(
            "{ARGON2ID}$argon2id$v=19$m=2048,t=1,p=1$+h7KluiulzBIimbQjEy8Ww$VxpcySof0YXh0QSyL+TdOQeAUZ5wfblmV1nIA4X3Vtw",
            Scheme::Argon2id,
            "pässwörd",
        );
    }

    #[test]
    fn malformed_argon2_strings_are_errors() {
        let good = "$argon2id$v=19$m=1024,t=1,p=1$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8";
        let id = Scheme::Argon2id;
        let cases = [
            ("$argon2id$", "not a valid PHC string"),
            ("$argon2id$v=19$m=1024,t=1,p=1", "salt is missing"),
            (
                "$argon2id$v=19$m=1024,t=1,p=1$OFXvHQmbGL9YTRmnoTXbFA",
                "digest is missing",
            ),
            (
                "$argon2id$v=18$m=1024,t=1,p=1$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8",
                "unsupported argon2 version",
            ),
            (
                "$argon2id$v=19$m=1,t=1,p=1$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8",
                "invalid argon2 parameters",
            ),
            (
                "$argon2id$v=19$m=1024,t=0,p=1$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8",
                "invalid argon2 parameters",
            ),
            (
                "$argon2id$v=19$m=1024,t=1,p=0$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8",
                "invalid argon2 parameters",
            ),
            (
                "$argon2id$v=19$m=1024,t=1,p=1,x=3$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8",
                "invalid argon2 parameters",
            ),
            (
                "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8",
                "not a valid PHC string",
            ),
            (
                "$argon2id$v=19$m=1024,t=1,p=1$OFXvHQmbGL9YTRmnoTXbFA$3BF9",
                "not a valid PHC string",
            ),
            (
                "$argon2id$v=19$m=1024,t=1,p=1$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8$x",
                "not a valid PHC string",
            ),
            (
                "$argon2id$v=19$m=1024,t=1,p=1$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h!",
                "not a valid PHC string",
            ),
        ];
        assert!(PasswordHash::parse(good).is_ok());
        for (stored, reason) in cases {
            assert_eq!(
                PasswordHash::parse(stored).unwrap_err(),
                PasswordError::malformed(id, reason),
                "{stored}"
            );
        }
    }
}
