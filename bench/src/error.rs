//! Why a benchmark run stopped.

/// A benchmark run could not go on: a service did not start, a request was refused, a tool is
/// missing. The message says which and, where known, what to do.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Testkit(#[from] nauthilus_testkit::TestkitError),
    #[error("{0}")]
    Failed(String),
}

/// Adds what was being done to an I/O error.
pub trait IoContext<T> {
    /// Wraps the error with `what`.
    fn context(self, what: impl Into<String>) -> Result<T, BenchError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn context(self, what: impl Into<String>) -> Result<T, BenchError> {
        self.map_err(|source| BenchError::Io {
            what: what.into(),
            source,
        })
    }
}
