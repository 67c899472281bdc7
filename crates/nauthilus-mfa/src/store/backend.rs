//! The one way a store type becomes a [`CredentialStore`]: it implements [`RecordBackend`]
//! with plain `async fn`s (each backend's own conditional reads and writes), and the blanket
//! impl here boxes them into the object-safe trait the service holds (`Arc<dyn CredentialStore>`).

use std::fmt;
use std::future::Future;

use futures::FutureExt as _;
use futures::future::BoxFuture;

use super::{CredentialStore, Kind, Record};
use crate::error::MfaError;

/// A credential store written with `async fn`; see [`CredentialStore`] for what each must do.
pub trait RecordBackend: Send + Sync + fmt::Debug {
    /// [`CredentialStore::list`].
    fn list_records(
        &self,
        account: &str,
        kind: Kind,
    ) -> impl Future<Output = Result<Vec<Record>, MfaError>> + Send;

    /// [`CredentialStore::put`].
    fn put_record(
        &self,
        account: &str,
        kind: Kind,
        record: &Record,
    ) -> impl Future<Output = Result<(), MfaError>> + Send;

    /// [`CredentialStore::remove`]: atomic, so concurrent calls never both get true.
    fn remove_record(
        &self,
        account: &str,
        kind: Kind,
        id: &str,
        expected: Option<&str>,
    ) -> impl Future<Output = Result<bool, MfaError>> + Send;

    /// [`CredentialStore::update`]: only if the record is still exactly `old`.
    fn update_record(
        &self,
        account: &str,
        kind: Kind,
        old: &Record,
        new: &Record,
    ) -> impl Future<Output = Result<bool, MfaError>> + Send;

    /// [`CredentialStore::replace_all`].
    fn replace_records(
        &self,
        account: &str,
        kind: Kind,
        records: &[Record],
    ) -> impl Future<Output = Result<(), MfaError>> + Send;
}

impl<T: RecordBackend> CredentialStore for T {
    fn list<'a>(&'a self, account: &'a str, kind: Kind) -> BoxFuture<'a, Result<Vec<Record>, MfaError>> {
        self.list_records(account, kind).boxed()
    }

    fn put<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), MfaError>> {
        self.put_record(account, kind, record).boxed()
    }

    fn remove<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        id: &'a str,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, MfaError>> {
        self.remove_record(account, kind, id, expected).boxed()
    }

    fn update<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        old: &'a Record,
        new: &'a Record,
    ) -> BoxFuture<'a, Result<bool, MfaError>> {
        self.update_record(account, kind, old, new).boxed()
    }

    fn replace_all<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        records: &'a [Record],
    ) -> BoxFuture<'a, Result<(), MfaError>> {
        self.replace_records(account, kind, records).boxed()
    }
}
