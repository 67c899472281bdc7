//! Random secrets users are shown once (recovery codes, app passwords) and their hashes, made
//! with our password-scheme library. They carry 50 to 100 random bits, so a salted SHA-512
//! (`{SSHA512}`, cheap enough to check inline) is as strong as a slow hash would be.

use nauthilus_backends::password::{PasswordHash, hash_random_secret};
use rand::Rng as _;
use zeroize::Zeroizing;

/// Lower-case letters and digits without the look-alikes `0 o 1 l i`.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// `groups` groups of `len` random characters joined by `-` (`k7mq-x2pd`).
pub fn random_code(groups: usize, len: usize) -> Zeroizing<String> {
    let mut rng = rand::rng();
    let mut out = Zeroizing::new(String::with_capacity(groups * (len + 1)));
    for g in 0..groups {
        if g > 0 {
            out.push('-');
        }
        for _ in 0..len {
            let i = rng.random_range(0..ALPHABET.len());
            out.push(char::from(ALPHABET[i]));
        }
    }
    out
}

/// A random id for a record (hex, 96 bits).
pub fn random_id() -> String {
    let bytes: [u8; 12] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a user typed, as it was shown: lower case, without spaces; dashes are kept.
pub fn normalize(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The stored hash of `secret` (`{SSHA512}`, 16 random bytes of salt).
pub fn hash(secret: &str) -> String {
    let salt: [u8; 16] = rand::rng().random();
    hash_random_secret(secret.as_bytes(), &salt)
}

/// True when `candidate` matches `stored`; an unreadable hash matches nothing.
pub fn matches(stored: &str, candidate: &str) -> bool {
    PasswordHash::parse(stored).is_ok_and(|h| h.verify(candidate.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_shape_and_differ() {
        let a = random_code(2, 5);
        assert_eq!(a.len(), 11);
        assert_eq!(a.as_bytes()[5], b'-');
        assert!(a.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        assert_ne!(*a, *random_code(2, 5));
        assert_eq!(random_id().len(), 24);
    }

    #[test]
    fn a_hash_matches_its_secret_only() {
        let h = hash("k7mqx-2pdab");
        assert!(h.starts_with("{SSHA512}"));
        assert!(matches(&h, "k7mqx-2pdab"));
        assert!(!matches(&h, "k7mqx-2pdac"));
        assert!(!matches("garbage", "k7mqx-2pdab"));
        assert_eq!(normalize(" K7MQX-2pdab "), "k7mqx-2pdab");
    }
}
