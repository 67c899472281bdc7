//! Dovecot's payload encodings: the `.b64` / `.base64` / `.hex` suffix on a scheme name, each
//! scheme's default, and Dovecot's hex-or-base64 guess for fixed-length digests.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// How the payload after `{SCHEME}` is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Encoding {
    /// Used as is (PLAIN, crypt strings, PBKDF2).
    Raw,
    /// Standard base64 (the default for SHA* and SSHA*).
    Base64,
    /// Hexadecimal, either case.
    Hex,
}

/// Standard alphabet, lenient about padding and trailing bits: stored hashes come from many
/// generators (LDAP tools, PHP, doveadm) and Dovecot's own decoder does not insist on either.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

impl Encoding {
    /// The encoding a scheme-name suffix (after the dot) selects, if it is one Dovecot knows.
    pub(super) fn from_suffix(suffix: &str) -> Option<Encoding> {
        if suffix.eq_ignore_ascii_case("b64") || suffix.eq_ignore_ascii_case("base64") {
            Some(Encoding::Base64)
        } else if suffix.eq_ignore_ascii_case("hex") {
            Some(Encoding::Hex)
        } else {
            None
        }
    }
}

/// Decodes `payload`; the error says which encoding was violated and nothing about the payload.
pub(super) fn decode(payload: &str, encoding: Encoding) -> Result<Vec<u8>, &'static str> {
    match encoding {
        Encoding::Raw => Ok(payload.as_bytes().to_vec()),
        Encoding::Base64 => LENIENT_BASE64.decode(payload).map_err(|_| "invalid base64"),
        Encoding::Hex => hex::decode(payload).map_err(|_| "invalid hex"),
    }
}

/// Dovecot's rule for fixed-length digests without a suffix (`password_decode`): a payload exactly
/// twice the digest length is hex, unless it does not decode as hex; everything else is base64.
pub(super) fn decode_guessing(payload: &str, digest_len: usize) -> Result<Vec<u8>, &'static str> {
    if payload.len() == digest_len * 2
        && let Ok(raw) = hex::decode(payload)
    {
        return Ok(raw);
    }
    decode(payload, Encoding::Base64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_case_insensitive() {
        assert_eq!(Encoding::from_suffix("b64"), Some(Encoding::Base64));
        assert_eq!(Encoding::from_suffix("BASE64"), Some(Encoding::Base64));
        assert_eq!(Encoding::from_suffix("Hex"), Some(Encoding::Hex));
        assert_eq!(Encoding::from_suffix("raw"), None);
        assert_eq!(Encoding::from_suffix(""), None);
    }

    #[test]
    fn base64_tolerates_missing_padding() {
        assert_eq!(decode("YWJjZA==", Encoding::Base64), Ok(b"abcd".to_vec()));
        assert_eq!(decode("YWJjZA", Encoding::Base64), Ok(b"abcd".to_vec()));
        assert_eq!(decode("YW*jZA", Encoding::Base64), Err("invalid base64"));
    }

    #[test]
    fn hex_accepts_either_case_and_rejects_odd_length() {
        assert_eq!(decode("aBcD", Encoding::Hex), Ok(vec![0xab, 0xcd]));
        assert_eq!(decode("abc", Encoding::Hex), Err("invalid hex"));
    }

    #[test]
    fn guess_prefers_hex_only_at_twice_the_digest_length() {
        // "abcd" is valid hex and valid base64; the digest length decides.
        assert_eq!(decode_guessing("abcd", 2), Ok(vec![0xab, 0xcd]));
        assert_eq!(decode_guessing("abcd", 3), Ok(vec![0x69, 0xb7, 0x1d]));
        // Right length but not hex: falls through to base64, as Dovecot does.
        assert_eq!(decode_guessing("zzzz", 2), Ok(vec![0xcf, 0x3c, 0xf3]));
    }
}
