//! Stored password hashes in Dovecot's formats: the `Scheme` set, parsing of `{SCHEME}` prefixes and
//! bare crypt strings, and the one place that dispatches verification to each scheme's module.
//!
//! Parsing validates the whole stored value up front, so a hash that parses can only fail to
//! verify because the candidate is wrong. Nothing here ever prints or returns secret material:
//! `Debug` shows the scheme only and errors name the scheme, never the stored value.

mod argon2;
mod crypt;
mod encoding;
mod hash;
mod pbkdf2;
mod plain;
mod salted;
mod verifier;

use std::fmt;

use self::argon2::Argon2Hash;
use self::crypt::{BcryptHash, CryptId, ShaCryptHash};
use self::encoding::Encoding;
use self::pbkdf2::Pbkdf2Hash;
use self::plain::PlainPassword;
use self::salted::{DigestAlgorithm, SaltedDigest};

pub use self::hash::{HashError, hash_password, hash_random_secret};
pub use self::verifier::{PasswordVerifier, VerifyError};

/// A password scheme we can verify, named as Dovecot names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `{PLAIN}` / `{CLEARTEXT}`: the password itself.
    Plain,
    /// `{SHA}`: unsalted SHA-1.
    Sha,
    /// `{SHA256}`: unsalted SHA-256.
    Sha256,
    /// `{SHA512}`: unsalted SHA-512.
    Sha512,
    /// `{SSHA}`: SHA-1 over password || salt, stored as digest || salt.
    Ssha,
    /// `{SSHA256}`: SHA-256 over password || salt, stored as digest || salt.
    Ssha256,
    /// `{SSHA512}`: SHA-512 over password || salt, stored as digest || salt.
    Ssha512,
    /// `{SHA256-CRYPT}`: `$5$` SHA-256-crypt.
    Sha256Crypt,
    /// `{SHA512-CRYPT}`: `$6$` SHA-512-crypt.
    Sha512Crypt,
    /// `{BLF-CRYPT}`: bcrypt, `$2a$` / `$2b$` / `$2y$`.
    BlfCrypt,
    /// `{ARGON2I}`: PHC string `$argon2i$`.
    Argon2i,
    /// `{ARGON2ID}`: PHC string `$argon2id$`.
    Argon2id,
    /// `{PBKDF2}`: Dovecot's `$1$<salt>$<rounds>$<hex>` PBKDF2-HMAC-SHA1.
    Pbkdf2,
}

impl Scheme {
    /// The scheme's name as Dovecot spells it, e.g. `"SSHA256"`.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Plain => "PLAIN",
            Scheme::Sha => "SHA",
            Scheme::Sha256 => "SHA256",
            Scheme::Sha512 => "SHA512",
            Scheme::Ssha => "SSHA",
            Scheme::Ssha256 => "SSHA256",
            Scheme::Ssha512 => "SSHA512",
            Scheme::Sha256Crypt => "SHA256-CRYPT",
            Scheme::Sha512Crypt => "SHA512-CRYPT",
            Scheme::BlfCrypt => "BLF-CRYPT",
            Scheme::Argon2i => "ARGON2I",
            Scheme::Argon2id => "ARGON2ID",
            Scheme::Pbkdf2 => "PBKDF2",
        }
    }

    /// True for schemes that cost about one digest: verifying them is cheaper than handing the
    /// work to the blocking pool, so `PasswordVerifier` runs them inline.
    pub(crate) fn is_cheap(&self) -> bool {
        matches!(
            self,
            Scheme::Plain
                | Scheme::Sha
                | Scheme::Sha256
                | Scheme::Sha512
                | Scheme::Ssha
                | Scheme::Ssha256
                | Scheme::Ssha512
        )
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a stored password hash could not be parsed. Never carries the stored value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The stored value is empty.
    #[error("stored password hash is empty")]
    Empty,
    /// The value starts with `{` but has no closing `}`.
    #[error("stored password hash has an unterminated {{SCHEME}} prefix")]
    UnterminatedPrefix,
    /// The `{...}` prefix names no scheme Dovecot knows.
    #[error("unknown password scheme {0}")]
    UnknownScheme(String),
    /// The scheme suffix is not one of `.b64`, `.base64`, `.hex`.
    #[error("unknown encoding suffix {encoding} on password scheme {scheme}")]
    UnknownEncoding {
        /// The scheme name before the dot.
        scheme: String,
        /// The suffix after the dot.
        encoding: String,
    },
    /// A scheme Dovecot knows but we deliberately do not verify (weak or challenge-response).
    #[error("unsupported password scheme {0}")]
    UnsupportedScheme(String),
    /// Neither a `{SCHEME}` prefix we resolve nor a crypt string with a `$id$` we recognise.
    #[error("stored password hash is not in a recognised format")]
    UnrecognisedFormat,
    /// The `{SCHEME}` prefix and the crypt string inside disagree, e.g. `{SHA512-CRYPT}$5$...`.
    #[error("password scheme {declared} does not match the {found} hash it prefixes")]
    SchemeMismatch {
        /// The scheme named in the prefix.
        declared: Scheme,
        /// The scheme of the crypt string.
        found: Scheme,
    },
    /// The scheme is known but the value after it is not valid for it.
    #[error("malformed {scheme} password hash: {reason}")]
    Malformed {
        /// The scheme whose format was violated.
        scheme: Scheme,
        /// What was wrong, without any of the stored value.
        reason: &'static str,
    },
}

impl PasswordError {
    fn malformed(scheme: Scheme, reason: &'static str) -> Self {
        PasswordError::Malformed { scheme, reason }
    }
}

/// A stored password hash, parsed and validated; `Debug` prints its scheme only.
#[derive(Clone)]
pub struct PasswordHash {
    scheme: Scheme,
    stored: Stored,
}

/// The parsed form of each scheme family.
#[derive(Clone)]
enum Stored {
    Plain(PlainPassword),
    Digest(SaltedDigest),
    ShaCrypt(ShaCryptHash),
    Bcrypt(BcryptHash),
    Argon2(Argon2Hash),
    Pbkdf2(Pbkdf2Hash),
}

/// What a `{NAME}` prefix (without its encoding suffix) stands for.
enum Prefix {
    Scheme(Scheme),
    /// `{CRYPT}`: the scheme follows from the crypt string's `$id$`.
    Crypt,
}

/// Dovecot schemes we recognise by name but refuse to verify.
const UNSUPPORTED_SCHEMES: &[&str] = &[
    "MD5",
    "MD5-CRYPT",
    "DES-CRYPT",
    "SMD5",
    "PLAIN-MD4",
    "PLAIN-MD5",
    "LDAP-MD5",
    "PLAIN-TRUNC",
    "CRAM-MD5",
    "HMAC-MD5",
    "DIGEST-MD5",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "LANMAN",
    "NTLM",
    "OTP",
    "SKEY",
    "RPA",
];

impl Prefix {
    fn from_name(name: &str) -> Result<Self, PasswordError> {
        let upper = name.to_ascii_uppercase();
        let scheme = match upper.as_str() {
            "PLAIN" | "CLEAR" | "CLEARTEXT" => Scheme::Plain,
            "SHA" | "SHA1" => Scheme::Sha,
            "SHA256" => Scheme::Sha256,
            "SHA512" => Scheme::Sha512,
            "SSHA" => Scheme::Ssha,
            "SSHA256" => Scheme::Ssha256,
            "SSHA512" => Scheme::Ssha512,
            "SHA256-CRYPT" => Scheme::Sha256Crypt,
            "SHA512-CRYPT" => Scheme::Sha512Crypt,
            "BLF-CRYPT" => Scheme::BlfCrypt,
            "ARGON2I" => Scheme::Argon2i,
            "ARGON2ID" => Scheme::Argon2id,
            "PBKDF2" => Scheme::Pbkdf2,
            "CRYPT" => return Ok(Prefix::Crypt),
            other if UNSUPPORTED_SCHEMES.contains(&other) => {
                return Err(PasswordError::UnsupportedScheme(other.to_owned()));
            }
            _ => return Err(PasswordError::UnknownScheme(printable_name(name))),
        };
        Ok(Prefix::Scheme(scheme))
    }
}

/// Echoes a scheme name into an error only when it looks like one: a value that merely starts with
/// `{` may be a plaintext password, and errors end up in logs.
fn printable_name(name: &str) -> String {
    let looks_like_scheme = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if looks_like_scheme {
        name.to_owned()
    } else {
        String::from("(name not shown)")
    }
}

impl PasswordHash {
    /// Parses and validates a stored hash: `{SCHEME}payload`, `{SCHEME.hex}payload`, or a bare
    /// crypt string such as `$6$...`, `$2y$...`, `$argon2id$...`.
    pub fn parse(stored: &str) -> Result<PasswordHash, PasswordError> {
        if stored.is_empty() {
            return Err(PasswordError::Empty);
        }
        match stored.strip_prefix('{') {
            Some(rest) => {
                let (name, payload) = rest.split_once('}').ok_or(PasswordError::UnterminatedPrefix)?;
                parse_prefixed(name, payload)
            }
            None => parse_crypt_text(stored, None),
        }
    }

    /// The scheme this hash was stored with (`{CRYPT}` resolves to the concrete crypt scheme).
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Memory one verification of this hash needs, in KiB (argon2's `m`; negligible for the
    /// other schemes, which count as 0).
    pub fn memory_kib(&self) -> u32 {
        match &self.stored {
            Stored::Argon2(hash) => hash.memory_kib(),
            _ => 0,
        }
    }

    /// Checks `candidate` against this hash. CPU-bound and synchronous: call it from a blocking
    /// context (see `PasswordVerifier`) unless the scheme is cheap.
    pub fn verify(&self, candidate: &[u8]) -> bool {
        match &self.stored {
            Stored::Plain(plain) => plain.verify(candidate),
            Stored::Digest(digest) => digest.verify(candidate),
            Stored::ShaCrypt(hash) => hash.verify(candidate),
            Stored::Bcrypt(hash) => hash.verify(candidate),
            Stored::Argon2(hash) => hash.verify(candidate),
            Stored::Pbkdf2(hash) => hash.verify(candidate),
        }
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHash")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

fn parse_prefixed(name: &str, payload: &str) -> Result<PasswordHash, PasswordError> {
    use DigestAlgorithm::{Sha1, Sha256, Sha512};

    // Dovecot splits the encoding off at the first dot and treats an unknown one as an unknown
    // scheme (password_scheme_lookup); we report it separately because that is easier to act on.
    let (base, suffix) = match name.split_once('.') {
        Some((base, suffix)) => (base, Some(suffix)),
        None => (name, None),
    };
    let prefix = Prefix::from_name(base)?;
    let explicit = suffix
        .map(|suffix| {
            Encoding::from_suffix(suffix).ok_or_else(|| PasswordError::UnknownEncoding {
                scheme: printable_name(base),
                encoding: printable_name(suffix),
            })
        })
        .transpose()?;

    let scheme = match prefix {
        Prefix::Crypt => {
            let text = decode_text(payload, explicit, None)?;
            return parse_crypt_text(&text, None);
        }
        Prefix::Scheme(scheme) => scheme,
    };
    let stored = match scheme {
        Scheme::Plain => {
            let raw = encoding::decode(payload, explicit.unwrap_or(Encoding::Raw))
                .map_err(|reason| PasswordError::malformed(scheme, reason))?;
            Stored::Plain(PlainPassword::new(raw)?)
        }
        Scheme::Sha => Stored::Digest(SaltedDigest::parse_unsalted(scheme, Sha1, payload, explicit)?),
        Scheme::Sha256 => Stored::Digest(SaltedDigest::parse_unsalted(scheme, Sha256, payload, explicit)?),
        Scheme::Sha512 => Stored::Digest(SaltedDigest::parse_unsalted(scheme, Sha512, payload, explicit)?),
        Scheme::Ssha => Stored::Digest(SaltedDigest::parse_salted(scheme, Sha1, payload, explicit)?),
        Scheme::Ssha256 => Stored::Digest(SaltedDigest::parse_salted(scheme, Sha256, payload, explicit)?),
        Scheme::Ssha512 => Stored::Digest(SaltedDigest::parse_salted(scheme, Sha512, payload, explicit)?),
        Scheme::Pbkdf2 => {
            let text = decode_text(payload, explicit, Some(scheme))?;
            Stored::Pbkdf2(Pbkdf2Hash::parse(&text)?)
        }
        Scheme::Sha256Crypt | Scheme::Sha512Crypt | Scheme::BlfCrypt | Scheme::Argon2i | Scheme::Argon2id => {
            let text = decode_text(payload, explicit, Some(scheme))?;
            return parse_crypt_text(&text, Some(scheme));
        }
    };
    Ok(PasswordHash { scheme, stored })
}

/// Decodes a payload that must be text (crypt strings, PBKDF2). Dovecot allows an encoding suffix
/// even on these schemes; without one the payload is used as is.
fn decode_text(
    payload: &str,
    explicit: Option<Encoding>,
    scheme: Option<Scheme>,
) -> Result<String, PasswordError> {
    let to_error = |reason| match scheme {
        Some(scheme) => PasswordError::malformed(scheme, reason),
        None => PasswordError::UnrecognisedFormat,
    };
    let raw = encoding::decode(payload, explicit.unwrap_or(Encoding::Raw)).map_err(to_error)?;
    String::from_utf8(raw).map_err(|_| to_error("decoded value is not UTF-8"))
}

/// Parses a crypt string recognised by its `$id$`; `declared` is the scheme of a `{SCHEME}` prefix,
/// which must agree with the string.
fn parse_crypt_text(text: &str, declared: Option<Scheme>) -> Result<PasswordHash, PasswordError> {
    let id = match (CryptId::detect(text), declared) {
        (Ok(id), _) => id,
        (Err(PasswordError::UnrecognisedFormat), Some(declared)) => {
            return Err(PasswordError::malformed(
                declared,
                "not a crypt string of this scheme",
            ));
        }
        (Err(err), _) => return Err(err),
    };
    let scheme = id.scheme();
    if let Some(declared) = declared
        && declared != scheme
    {
        return Err(PasswordError::SchemeMismatch {
            declared,
            found: scheme,
        });
    }
    let stored = match id {
        CryptId::Sha256 | CryptId::Sha512 => Stored::ShaCrypt(ShaCryptHash::parse(text, scheme)?),
        CryptId::Bcrypt => Stored::Bcrypt(BcryptHash::parse(text)?),
        CryptId::Argon2i | CryptId::Argon2id => Stored::Argon2(Argon2Hash::parse(text, scheme)?),
    };
    Ok(PasswordHash { scheme, stored })
}

/// A decimal made of digits only, as Dovecot's `str_to_uint` requires.
fn parse_decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(stored: &str) -> PasswordHash {
        PasswordHash::parse(stored).unwrap_or_else(|e| panic!("{stored:?} should parse: {e}"))
    }

    #[test]
    fn scheme_names_are_case_insensitive() {
        // Upper-case vector from `doveadm pw -s SSHA256.hex` (Dovecot 2.3.19).
        let upper = "5c2f4a99715ce3d83c1654aef1e14c907fec4dbb50d8a6e3d18c29276f968ff610e54376";
        for prefix in ["{SSHA256.HEX}", "{ssha256.hex}", "{Ssha256.Hex}"] {
            let hash = parse(&format!("{prefix}{upper}"));
            assert_eq!(hash.scheme(), Scheme::Ssha256);
            assert!(hash.verify(b"correct horse"));
        }
        assert_eq!(parse("{plain}x").scheme(), Scheme::Plain);
        assert_eq!(parse("{cleartext}x").scheme(), Scheme::Plain);
        assert_eq!(parse("{Clear}x").scheme(), Scheme::Plain);
        assert_eq!(parse("{sha1}L55TUjtiq8FBorTWAZ0jy6g129A=").scheme(), Scheme::Sha);
    }

    #[test]
    fn scheme_names_follow_dovecot_spelling() {
        let all = [
            (Scheme::Plain, "PLAIN"),
            (Scheme::Sha, "SHA"),
            (Scheme::Sha256, "SHA256"),
            (Scheme::Sha512, "SHA512"),
            (Scheme::Ssha, "SSHA"),
            (Scheme::Ssha256, "SSHA256"),
            (Scheme::Ssha512, "SSHA512"),
            (Scheme::Sha256Crypt, "SHA256-CRYPT"),
            (Scheme::Sha512Crypt, "SHA512-CRYPT"),
            (Scheme::BlfCrypt, "BLF-CRYPT"),
            (Scheme::Argon2i, "ARGON2I"),
            (Scheme::Argon2id, "ARGON2ID"),
            (Scheme::Pbkdf2, "PBKDF2"),
        ];
        for (scheme, name) in all {
            assert_eq!(scheme.name(), name);
            assert_eq!(scheme.to_string(), name);
        }
    }

    #[test]
    fn crypt_prefix_resolves_to_the_concrete_scheme() {
        // `doveadm pw -s CRYPT` (Dovecot 2.3.19, libxcrypt bcrypt).
        let hash = parse("{CRYPT}$2y$05$xXji29NU7HpK/C3ukqt66e.h8pyJreO6kJ0MnrdASrvdRrHsQyj1m");
        assert_eq!(hash.scheme(), Scheme::BlfCrypt);
        assert!(hash.verify(b"correct horse"));
        assert!(!hash.verify(b"wrong horse"));

        // `openssl passwd -6 -salt saltsalt` (OpenSSL 3.0.19).
        let hash = parse(
            "{crypt}$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0",
        );
        assert_eq!(hash.scheme(), Scheme::Sha512Crypt);
        assert!(hash.verify(b"correct horse"));

        // argon2-cffi 25.1.0, argon2i m=1024 t=1 p=1.
        let hash = parse(
            "{CRYPT}$argon2i$v=19$m=1024,t=1,p=1$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8",
        );
        assert_eq!(hash.scheme(), Scheme::Argon2i);
        assert!(hash.verify(b"correct horse"));
    }

    #[test]
    fn bare_crypt_strings_are_recognised_by_their_id() {
        let cases = [
            // `openssl passwd -5 -salt Nauthilus1234567` (OpenSSL 3.0.19).
            (
                "$5$Nauthilus1234567$QA17S..XV.yQD4e5zMO9Mq.P13UaBS.dRAlHxP608l0",
                Scheme::Sha256Crypt,
            ),
            // `openssl passwd -6 -salt saltsalt` (OpenSSL 3.0.19).
            (
                "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0",
                Scheme::Sha512Crypt,
            ),
            // Python bcrypt 5.0.0, gensalt(4, prefix=b"2b").
            (
                "$2b$04$yl6HRCncS.5GOnOMIidppu.HLoswrslGV/3UkQrb2ZFla2CeIC4j.",
                Scheme::BlfCrypt,
            ),
            // `doveadm pw -s BLF-CRYPT -r 4` (Dovecot 2.3.19).
            (
                "$2y$04$u8A/AByVT2wKrt0zvVst3us6sbcGk6RVNC3Qz6WWzvRKTjPbLdJdy",
                Scheme::BlfCrypt,
            ),
            // argon2-cffi 25.1.0, argon2id m=4096 t=2 p=2.
            (
                "$argon2id$v=19$m=4096,t=2,p=2$495ewIoZodVMqxM6i4OLHA$qgiaplty1ZpFCOJGgBK/8AMnz/vY1ytjobcJV4vJg6c",
                Scheme::Argon2id,
            ),
        ];
        for (stored, scheme) in cases {
            let hash = parse(stored);
            assert_eq!(hash.scheme(), scheme, "{stored}");
            assert!(hash.verify(b"correct horse"), "{stored}");
            assert!(!hash.verify(b"correct horsE"), "{stored}");
        }
    }

    #[test]
    fn encoding_suffix_applies_to_text_schemes_too() {
        // `doveadm pw -s PLAIN.b64` and `-s PLAIN.hex` (Dovecot 2.3.19).
        for stored in [
            "{PLAIN.B64}Y29ycmVjdCBob3JzZQ==",
            "{PLAIN.HEX}636f727265637420686f727365",
        ] {
            let hash = parse(stored);
            assert!(hash.verify(b"correct horse"));
            assert!(!hash.verify(b"correct horse "));
        }
        // Dovecot's PBKDF2 vector below, hex-encoded once more by us (the encoding is Dovecot's
        // generic payload decoding, not part of the scheme).
        let inner = "$1$abcdefghijklmnop$2000$fb26eb1326a400cfc906f54ad792e251b3b92e71";
        let hash = parse(&format!("{{PBKDF2.hex}}{}", hex::encode(inner)));
        assert!(hash.verify(b"correct horse"));
    }

    #[test]
    fn debug_prints_the_scheme_and_no_secret_material() {
        let plain = parse("{PLAIN}hunter2-secret");
        let printed = format!("{plain:?}");
        assert_eq!(printed, "PasswordHash { scheme: Plain, .. }");

        let ssha = "{SSHA}NSZEu/ZzEMKdBO5ESNEYml3qKRYBAgMEBQYHCA==";
        let printed = format!("{:?}", parse(ssha));
        assert!(!printed.contains("NSZEu"), "{printed}");
        assert!(printed.contains("Ssha"), "{printed}");

        let crypt = "$2b$04$yl6HRCncS.5GOnOMIidppu.HLoswrslGV/3UkQrb2ZFla2CeIC4j.";
        let printed = format!("{:#?}", parse(crypt));
        assert!(!printed.contains("yl6HRC"), "{printed}");
    }

    #[test]
    fn errors_never_echo_the_stored_value() {
        let secret = "{my secret password";
        let err = PasswordHash::parse(secret).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");

        let err = PasswordHash::parse("{not a scheme}payload").unwrap_err();
        assert_eq!(err, PasswordError::UnknownScheme("(name not shown)".into()));

        let err = PasswordHash::parse("plaintext-password").unwrap_err();
        assert_eq!(err, PasswordError::UnrecognisedFormat);
        assert!(!err.to_string().contains("plaintext-password"));
    }

    #[test]
    fn unknown_and_unsupported_schemes_are_named_in_the_error() {
        let cases = [
            (
                "{MD5-CRYPT}$1$abc$mEYYKBYwc4Odg5SoPgnFr/",
                PasswordError::UnsupportedScheme("MD5-CRYPT".into()),
            ),
            ("{md5}abc", PasswordError::UnsupportedScheme("MD5".into())),
            ("{DES}abcdefghijklm", PasswordError::UnknownScheme("DES".into())),
            ("{FOO-BAR}x", PasswordError::UnknownScheme("FOO-BAR".into())),
            // `openssl passwd -1 -salt abc`: Dovecot reads an unprefixed `$1$` as MD5-CRYPT.
            (
                "$1$abc$mEYYKBYwc4Odg5SoPgnFr/",
                PasswordError::UnsupportedScheme("MD5-CRYPT".into()),
            ),
            (
                "{CRYPT}$1$abc$mEYYKBYwc4Odg5SoPgnFr/",
                PasswordError::UnsupportedScheme("MD5-CRYPT".into()),
            ),
            (
                "{CRYPT}abJnggxhB/yWI",
                PasswordError::UnsupportedScheme("DES-CRYPT".into()),
            ),
            (
                "abJnggxhB/yWI",
                PasswordError::UnsupportedScheme("DES-CRYPT".into()),
            ),
            (
                "$y$j9T$salt$hash",
                PasswordError::UnsupportedScheme("yescrypt ($y$)".into()),
            ),
            (
                "$argon2d$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
                PasswordError::UnsupportedScheme("ARGON2D".into()),
            ),
            (
                "$2x$04$yl6HRCncS.5GOnOMIidppu.HLoswrslGV/3UkQrb2ZFla2CeIC4j.",
                PasswordError::UnsupportedScheme("BLF-CRYPT ($2x$)".into()),
            ),
        ];
        for (stored, expected) in cases {
            assert_eq!(PasswordHash::parse(stored).unwrap_err(), expected, "{stored}");
        }
        let err = PasswordHash::parse("{SSHA256.rot13}abc").unwrap_err();
        assert_eq!(
            err,
            PasswordError::UnknownEncoding {
                scheme: "SSHA256".into(),
                encoding: "rot13".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "unknown encoding suffix rot13 on password scheme SSHA256"
        );
    }

    #[test]
    fn prefix_must_match_the_crypt_string() {
        let sha256 = "$5$Nauthilus1234567$QA17S..XV.yQD4e5zMO9Mq.P13UaBS.dRAlHxP608l0";
        let bcrypt = "$2b$04$yl6HRCncS.5GOnOMIidppu.HLoswrslGV/3UkQrb2ZFla2CeIC4j.";
        let argon2id = "$argon2id$v=19$m=4096,t=2,p=2$495ewIoZodVMqxM6i4OLHA$qgiaplty1ZpFCOJGgBK/8AMnz/vY1ytjobcJV4vJg6c";
        let cases = [
            (
                format!("{{SHA512-CRYPT}}{sha256}"),
                Scheme::Sha512Crypt,
                Scheme::Sha256Crypt,
            ),
            (
                format!("{{SHA256-CRYPT}}{bcrypt}"),
                Scheme::Sha256Crypt,
                Scheme::BlfCrypt,
            ),
            (
                format!("{{BLF-CRYPT}}{sha256}"),
                Scheme::BlfCrypt,
                Scheme::Sha256Crypt,
            ),
            (
                format!("{{ARGON2I}}{argon2id}"),
                Scheme::Argon2i,
                Scheme::Argon2id,
            ),
            (
                format!("{{ARGON2ID}}{bcrypt}"),
                Scheme::Argon2id,
                Scheme::BlfCrypt,
            ),
        ];
        for (stored, declared, found) in cases {
            assert_eq!(
                PasswordHash::parse(&stored).unwrap_err(),
                PasswordError::SchemeMismatch { declared, found },
                "{stored}"
            );
        }
    }

    #[test]
    fn malformed_envelopes_are_errors() {
        let cases = [
            ("", PasswordError::Empty),
            ("{", PasswordError::UnterminatedPrefix),
            ("{SSHA256", PasswordError::UnterminatedPrefix),
            ("{}abc", PasswordError::UnknownScheme("(name not shown)".into())),
            (
                "{.hex}abc",
                PasswordError::UnknownScheme("(name not shown)".into()),
            ),
            (
                "{SHA256-CRYPT}",
                PasswordError::malformed(Scheme::Sha256Crypt, "not a crypt string of this scheme"),
            ),
            (
                "{ARGON2ID}argon2id",
                PasswordError::malformed(Scheme::Argon2id, "not a crypt string of this scheme"),
            ),
            ("{CRYPT}", PasswordError::UnrecognisedFormat),
            ("$", PasswordError::UnrecognisedFormat),
            ("$$", PasswordError::UnrecognisedFormat),
            ("$5", PasswordError::UnrecognisedFormat),
            ("{CRYPT.hex}zz", PasswordError::UnrecognisedFormat),
            (
                "{SHA512-CRYPT.hex}zz",
                PasswordError::malformed(Scheme::Sha512Crypt, "invalid hex"),
            ),
            (
                "{SHA512-CRYPT.hex}ff",
                PasswordError::malformed(Scheme::Sha512Crypt, "decoded value is not UTF-8"),
            ),
            (
                "{PLAIN.b64}!!!!",
                PasswordError::malformed(Scheme::Plain, "invalid base64"),
            ),
        ];
        for (stored, expected) in cases {
            assert_eq!(PasswordHash::parse(stored).unwrap_err(), expected, "{stored:?}");
        }
    }

    #[test]
    fn arbitrary_garbage_never_panics() {
        let pieces = [
            "{",
            "}",
            "$",
            "{SSHA}",
            "{CRYPT}",
            "{PBKDF2}",
            "$1$",
            "$2y$",
            "$5$",
            "$6$",
            "$argon2id$",
            "rounds=",
            "v=19",
            "m=1",
            ",",
            "=",
            ".hex",
            "é",
            "\0",
            "AAAA",
            "ZZ",
            "04",
            "99",
            "/",
            ".",
        ];
        // Every 1-, 2- and 3-piece concatenation: cheap, and covers the splitting edge cases.
        for a in pieces {
            let _ = PasswordHash::parse(a);
            for b in pieces {
                let _ = PasswordHash::parse(&format!("{a}{b}"));
                for c in pieces {
                    let _ = PasswordHash::parse(&format!("{a}{b}{c}"));
                }
            }
        }
    }
}
