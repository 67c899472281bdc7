//! Store failures. Every one of them turns a login into a temporary failure upstream.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or did not answer in time.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with an error (wrong type, script error, ...).
    #[error("store error: {0}")]
    Command(String),
    /// The store settings cannot be used (bad address, unreadable TLS file, unsupported
    /// setting); only `Store::connect` returns it.
    #[error("store configuration: {0}")]
    Config(String),
}
