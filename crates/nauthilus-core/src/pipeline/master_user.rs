//! Master-user logins (`server.master_user`), as Nauthilus does them: a login name
//! `user<delimiter>master` (exactly one delimiter, text on both sides) authenticates `master`
//! with the presented password — without any cache, so the check always reaches a backend —
//! and, if that succeeds, looks `user` up and answers with `user`'s account and attributes. A
//! `no-auth` lookup of such a name looks up both and answers with `user`.
//!
//! Nauthilus has no list of master users: any user a backend authenticates can act as master.
//! Restrict who can (an LDAP filter, a separate backend, or a filter stage) before enabling it.

use std::time::SystemTime;

use super::Pipeline;
use crate::outcome::{AuthOutcome, Decision, FailReason};
use crate::password::Password;
use crate::request::{AuthMode, AuthRequest, CachePolicy};

/// The master-user setting of one pipeline.
#[derive(Clone, Debug)]
pub struct MasterUser {
    delimiter: String,
}

impl MasterUser {
    /// Master-user logins split at `delimiter` (one character, validated by the config).
    pub fn new(delimiter: &str) -> Self {
        Self {
            delimiter: delimiter.to_owned(),
        }
    }

    /// `(user, master)` when `username` is a master-user login.
    pub fn split<'a>(&self, username: &'a str) -> Option<(&'a str, &'a str)> {
        if self.delimiter.is_empty() || username.matches(self.delimiter.as_str()).count() != 1 {
            return None;
        }
        let (user, master) = username.split_once(self.delimiter.as_str())?;
        (!user.is_empty() && !master.is_empty()).then_some((user, master))
    }
}

const NO_CACHES: CachePolicy = CachePolicy {
    use_memory_cache: false,
    use_positive_cache: false,
};

impl Pipeline {
    /// `req` (named `user*master`) as the master, then the user's lookup.
    pub(super) async fn authenticate_master_user(
        &self,
        req: &AuthRequest,
        user: &str,
        master: &str,
        now: SystemTime,
    ) -> AuthOutcome {
        let mut as_master = req.clone();
        as_master.username = master.to_owned();
        as_master.cache_policy = NO_CACHES;
        let outcome = self.authenticate_one(&as_master, now).await;
        if !outcome.is_ok() {
            return outcome;
        }
        let mut lookup = req.clone();
        lookup.username = user.to_owned();
        lookup.mode = AuthMode::NoAuth;
        lookup.password = Password::default();
        lookup.cache_policy = NO_CACHES;
        let mut found = self.authenticate_one(&lookup, now).await;
        match found.decision {
            Decision::Ok(_) => {
                found.log_fields.push(("master_user".into(), master.to_owned()));
                found
            }
            // The master was right but the user does not exist: an ordinary failed login.
            Decision::Fail(_) => self.fail(req, FailReason::UnknownUser),
            Decision::TempFail(_) => found,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_delimiter_with_text_on_both_sides_splits() {
        let m = MasterUser::new("*");
        assert_eq!(m.split("alice@x*admin@x"), Some(("alice@x", "admin@x")));
        assert_eq!(m.split("alice@x"), None);
        assert_eq!(m.split("*admin"), None);
        assert_eq!(m.split("alice*"), None);
        assert_eq!(m.split("a*b*c"), None);
        assert_eq!(MasterUser::new("#").split("a#b"), Some(("a", "b")));
        assert_eq!(MasterUser::new("").split("a*b"), None);
    }
}
