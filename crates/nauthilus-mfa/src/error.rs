//! Why an MFA operation failed. Storage errors are temporary failures upstream; the others are
//! the user's (a wrong code, an expired ceremony) and carry no secret.

use nauthilus_backends::ldap::LdapError;
use nauthilus_backends::sql::SqlError;
use nauthilus_store::StoreError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The credential store (SQL) failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// The credential store (LDAP) failed.
    #[error(transparent)]
    Ldap(#[from] LdapError),
    /// The state store (Redis or in process) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The credential store (an operator's Lua script) failed: an error, a timeout or a wrong
    /// return type.
    #[error("lua credential store: {0}")]
    Script(String),
    /// The account has no entry where its enrolments could be kept (LDAP).
    #[error("no directory entry for account {0:?}")]
    NoEntry(String),
    /// A stored record could not be read (corrupt, or written with another key).
    #[error("stored {kind} record of {account:?} is unreadable: {reason}")]
    Corrupt {
        kind: &'static str,
        account: String,
        reason: String,
    },
    /// The settings cannot work (missing key, bad URL, unknown protocol...).
    #[error("mfa configuration: {0}")]
    Config(String),
    /// A request that cannot be served as asked (bad input, nothing to confirm, unknown id).
    #[error("{0}")]
    Invalid(String),
    /// A WebAuthn ceremony failed (bad signature, wrong origin, replayed or expired state).
    #[error("webauthn: {0}")]
    Webauthn(String),
}

impl MfaError {
    /// True when the failure is the storage's (a temporary failure), not the user's.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Self::Sql(_)
                | Self::Ldap(_)
                | Self::Store(_)
                | Self::Script(_)
                | Self::Corrupt { .. }
                | Self::Config(_)
        )
    }
}
