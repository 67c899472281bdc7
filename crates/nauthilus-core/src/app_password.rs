//! App passwords and enrolled second factors as the pipeline sees them: a trait that
//! `nauthilus-mfa` implements, so this crate knows nothing of where enrolments are stored.
//!
//! The pipeline asks it once a backend found the account (never on cache hits: a cached login
//! was verified before, and enrolment changes flush the user's caches).

use std::fmt;
use std::time::SystemTime;

use futures::future::BoxFuture;

use crate::request::AuthRequest;

/// What the presented password turned out to be worth for the protocol of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppPasswordVerdict {
    /// The backend's verdict stands.
    Unchanged,
    /// The password is an app password of the account for this protocol: the login succeeds.
    AppPassword,
    /// The account's main password was right, but the account has a second factor and
    /// `require_app_password_for_mfa_users` is on: the login fails.
    MainPasswordRefused,
}

/// App passwords of accounts, scoped to protocols.
pub trait AppPasswords: Send + Sync + fmt::Debug {
    /// True when app passwords (and the MFA-user rule) apply to `protocol` at all.
    fn applies_to(&self, protocol: &str) -> bool;

    /// Judges `req`'s password for `account` at `now`, given the backend's verdict on it as the
    /// main password. An error is a temporary failure.
    fn judge<'a>(
        &'a self,
        account: &'a str,
        req: &'a AuthRequest,
        main_password_ok: bool,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<AppPasswordVerdict, String>>;
}
