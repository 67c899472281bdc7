//! Where enrolments live: a narrow trait over records of a few kinds per account, each record a
//! JSON document under an id. SQL (PostgreSQL, MariaDB, SQLite), LDAP (attributes of the
//! user's entry) and Lua (the operator's backend script) implement it. Redis alone never holds
//! enrolments: they must survive a flush.
//!
//! Each implementation makes `remove` atomic (a conditional delete), so a single-use record
//! (a recovery code) is consumed once even by concurrent requests.

mod backend;
pub mod ldap;
pub mod lua;
pub mod sql;

use std::fmt;

use futures::future::BoxFuture;

use crate::error::MfaError;

pub use backend::RecordBackend;

/// The kinds of record an account can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The TOTP secret (encrypted), at most one.
    Totp,
    /// One WebAuthn credential per record.
    Webauthn,
    /// One hashed recovery code per record.
    RecoveryCode,
    /// One app password (hashed) per record.
    AppPassword,
}

impl Kind {
    /// The kind's name in the SQL table and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Webauthn => "webauthn",
            Self::RecoveryCode => "recovery_code",
            Self::AppPassword => "app_password",
        }
    }
}

/// One stored record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Unique among the account's records of its kind.
    pub id: String,
    /// The record (JSON).
    pub data: String,
}

/// A credential store: records by account, kind and id.
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// Every record of `kind` of `account`, in no particular order.
    fn list<'a>(&'a self, account: &'a str, kind: Kind) -> BoxFuture<'a, Result<Vec<Record>, MfaError>>;

    /// Adds `record`, or replaces the record with its id.
    fn put<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), MfaError>>;

    /// Removes the record `id` exactly as `expected` (when given) says it is; true when this
    /// call removed it. Two concurrent calls never both get true.
    fn remove<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        id: &'a str,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, MfaError>>;

    /// Replaces the record `old` with `new` (same id) only if it is still exactly `old`;
    /// true when replaced (false: changed or removed meanwhile, nothing written).
    fn update<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        old: &'a Record,
        new: &'a Record,
    ) -> BoxFuture<'a, Result<bool, MfaError>>;

    /// Replaces every record of `kind` with `records` (recovery codes are regenerated as a set).
    fn replace_all<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        records: &'a [Record],
    ) -> BoxFuture<'a, Result<(), MfaError>>;
}
