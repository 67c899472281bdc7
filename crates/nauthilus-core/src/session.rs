//! The per-request session id: a KSUID, sent as `X-Nauthilus-Session` and logged as `session`.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use svix_ksuid::{Ksuid, KsuidLike};

/// Seconds between the Unix epoch and the KSUID epoch (2014-05-13T16:53:20Z).
const KSUID_EPOCH: u64 = 1_400_000_000;

/// Characters of a KSUID's base62 text, in digit order.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of that text.
const TEXT_LEN: usize = 27;

/// A 27-character base62 KSUID identifying one request in responses and logs. The text is
/// encoded once, when the id is made: every response header and log line reuses it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId {
    text: [u8; TEXT_LEN],
}

impl SessionId {
    /// A new id whose timestamp is `now` and whose payload is random.
    pub fn new(now: SystemTime) -> Self {
        let unix = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let since_epoch = u32::try_from(unix.saturating_sub(KSUID_EPOCH)).unwrap_or(u32::MAX);
        let payload: [u8; 16] = rand::random();
        let ksuid = Ksuid::new_raw(since_epoch, Some(&payload));
        Self {
            text: base62(ksuid.bytes()),
        }
    }

    /// The 27-character text.
    pub fn as_str(&self) -> &str {
        // Only BASE62 characters are ever written into `text`.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }
}

/// The 20 bytes of a KSUID as 27 base62 digits, most significant first, zero-padded (the text
/// svix-ksuid and the Go ksuid package print): long division of the number, as five 32-bit
/// words, by 62, once per digit.
fn base62(bytes: &[u8; 20]) -> [u8; TEXT_LEN] {
    let mut words = [0u32; 5];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    let mut text = [b'0'; TEXT_LEN];
    for digit in text.iter_mut().rev() {
        let mut remainder = 0u64;
        for word in &mut words {
            let value = (remainder << 32) | u64::from(*word);
            // value < 62 · 2^32, so the quotient fits in 32 bits.
            *word = u32::try_from(value / 62).unwrap_or(u32::MAX);
            remainder = value % 62;
        }
        *digit = BASE62[usize::try_from(remainder).unwrap_or(0)];
    }
    text
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn session_ids_are_27_base62_characters() {
        let id = SessionId::new(SystemTime::now()).to_string();
        assert_eq!(id.len(), 27);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn session_ids_sort_by_time() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let earlier = SessionId::new(t).to_string();
        let later = SessionId::new(t + Duration::from_secs(2)).to_string();
        assert!(earlier < later);
    }

    #[test]
    fn the_text_is_the_ksuid_base62_encoding() {
        for i in 0u32..2000 {
            let payload: [u8; 16] = rand::random();
            let ksuid = Ksuid::new_raw(i.wrapping_mul(2_654_435_761), Some(&payload));
            assert_eq!(
                std::str::from_utf8(&base62(ksuid.bytes())).unwrap(),
                ksuid.to_string()
            );
        }
        for extreme in [[0u8; 16], [0xff; 16]] {
            for ts in [0, u32::MAX] {
                let ksuid = Ksuid::new_raw(ts, Some(&extreme));
                assert_eq!(
                    std::str::from_utf8(&base62(ksuid.bytes())).unwrap(),
                    ksuid.to_string()
                );
            }
        }
    }

    #[test]
    fn session_ids_differ_within_one_second() {
        let t = SystemTime::now();
        assert_ne!(SessionId::new(t), SessionId::new(t));
    }
}
