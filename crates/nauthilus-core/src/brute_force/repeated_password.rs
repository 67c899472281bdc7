//! Repeated wrong passwords: a client that retries the same stale password (a phone with last
//! month's password) must not get its network banned. Per client and account a short history of
//! salted password digests is kept; a wrong password already in it is not counted again. At most
//! `allowed` distinct digests are remembered per window, so only that many wrong passwords can
//! ever be forgiven: a guesser trying new passwords is counted for every one of them.

use std::collections::HashMap;

/// What one wrong password is, against the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repetition {
    /// Seen within the window: not counted again.
    Repeat,
    /// Not seen: counted. `remember` says whether the history has room to record it.
    New { remember: bool },
}

/// Classifies `digest` against `history` (digest → unix seconds last seen) at `now` and returns
/// the fields that have left the window (to be removed).
pub fn classify(
    history: &HashMap<String, String>,
    digest: &str,
    now: u64,
    window_secs: u64,
    allowed: usize,
) -> (Repetition, Vec<String>) {
    let live = |ts: &String| {
        ts.parse::<u64>()
            .is_ok_and(|t| now.saturating_sub(t) < window_secs)
    };
    let stale: Vec<String> = history
        .iter()
        .filter(|(_, ts)| !live(ts))
        .map(|(d, _)| d.clone())
        .collect();
    if history.get(digest).is_some_and(live) {
        return (Repetition::Repeat, stale);
    }
    let live_count = history.len() - stale.len();
    (
        Repetition::New {
            remember: live_count < allowed,
        },
        stale,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(entries: &[(&str, u64)]) -> HashMap<String, String> {
        entries
            .iter()
            .map(|(d, t)| ((*d).to_owned(), t.to_string()))
            .collect()
    }

    #[test]
    fn a_password_seen_within_the_window_is_a_repeat() {
        let h = history(&[("aa", 1000)]);
        assert_eq!(classify(&h, "aa", 1500, 900, 3), (Repetition::Repeat, vec![]));
    }

    #[test]
    fn a_password_seen_before_the_window_is_new_again() {
        let h = history(&[("aa", 1000)]);
        let (r, stale) = classify(&h, "aa", 1900, 900, 3);
        assert_eq!(r, Repetition::New { remember: true });
        assert_eq!(stale, ["aa"]);
    }

    #[test]
    fn only_the_allowed_number_of_passwords_is_remembered() {
        let h = history(&[("aa", 1000), ("bb", 1000), ("cc", 1000)]);
        assert_eq!(
            classify(&h, "dd", 1001, 900, 3).0,
            Repetition::New { remember: false }
        );
        assert_eq!(
            classify(&h, "dd", 1001, 900, 4).0,
            Repetition::New { remember: true }
        );
        assert_eq!(classify(&h, "bb", 1001, 900, 3).0, Repetition::Repeat);
    }

    #[test]
    fn garbage_timestamps_count_as_stale() {
        let mut h = history(&[("aa", 1000)]);
        h.insert("bb".into(), "never".into());
        let (r, stale) = classify(&h, "bb", 1001, 900, 3);
        assert_eq!(r, Repetition::New { remember: true });
        assert_eq!(stale, ["bb"]);
    }
}
