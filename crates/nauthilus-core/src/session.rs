//! The per-request session id: a KSUID, sent as `X-Nauthilus-Session` and logged as `session`.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use svix_ksuid::Ksuid;

/// Seconds between the Unix epoch and the KSUID epoch (2014-05-13T16:53:20Z).
const KSUID_EPOCH: u64 = 1_400_000_000;

/// A 27-character base62 KSUID identifying one request in responses and logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(Ksuid);

impl SessionId {
    /// A new id whose timestamp is `now` and whose payload is random.
    pub fn new(now: SystemTime) -> Self {
        let unix = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let since_epoch = u32::try_from(unix.saturating_sub(KSUID_EPOCH)).unwrap_or(u32::MAX);
        let payload: [u8; 16] = rand::random();
        Self(Ksuid::new_raw(since_epoch, Some(&payload)))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.0)
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
    fn session_ids_differ_within_one_second() {
        let t = SystemTime::now();
        assert_ne!(SessionId::new(t), SessionId::new(t));
    }
}
