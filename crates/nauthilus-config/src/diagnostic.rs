//! Findings about a configuration: errors stop the server, warnings are logged. Each names the
//! key path and, when an environment variable set it, that variable.

use std::fmt;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The configuration cannot be used.
    Error,
    /// The configuration works, but something is ignored or suspicious.
    Warning,
}

/// One finding about one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Dotted key path (`server.redis.master.address`), or the file for whole-file problems.
    pub path: String,
    /// The environment variable the value came from, if any.
    pub env_var: Option<String>,
    pub message: String,
}

impl Diagnostic {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            path: path.into(),
            env_var: None,
            message: message.into(),
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            path: path.into(),
            env_var: None,
            message: message.into(),
        }
    }

    /// Notes that the value came from an environment variable.
    pub fn from_env(mut self, var: Option<&str>) -> Self {
        self.env_var = var.map(str::to_owned);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: {}", self.path)?;
        if let Some(var) = &self.env_var {
            write!(f, " (from {var})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error found while loading, with the warnings found alongside.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{} configuration error(s)", errors.len())]
pub struct ConfigErrors {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}
