//! The testkit's one error type: every way starting or talking to a private service can fail.

use std::io;
use std::time::Duration;

/// Why a private test service could not be started, stopped or queried.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A required program is not installed.
    #[error(
        "`{binary}` was not found on PATH, in /usr/bin or in /usr/sbin; install it with \
         `apt-get install {package}` (Debian package `{package}`)"
    )]
    BinaryNotFound {
        /// Program name that was searched for.
        binary: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },

    /// An operating-system call failed.
    #[error("{action}: {source}")]
    Io {
        /// What the testkit was doing.
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The service was started but did not answer in time.
    #[error("{service} on {addr} did not become ready within {timeout:?}; log tail:\n{log_tail}")]
    StartTimeout {
        /// Kind of service, e.g. `redis-server`.
        service: &'static str,
        /// `127.0.0.1:port`.
        addr: String,
        /// How long the testkit waited.
        timeout: Duration,
        /// Last lines of the service's log.
        log_tail: String,
    },

    /// The service process ended while it was starting.
    #[error("{service} on {addr} exited while starting; log tail:\n{log_tail}")]
    Exited {
        /// Kind of service.
        service: &'static str,
        /// `127.0.0.1:port`.
        addr: String,
        /// Last lines of the service's log.
        log_tail: String,
    },

    /// Another process holds the port the service was meant to listen on.
    #[error("{service}: {addr} is taken by another process; log tail:\n{log_tail}")]
    PortTaken {
        /// Kind of service.
        service: &'static str,
        /// `127.0.0.1:port`.
        addr: String,
        /// Last lines of the service's log.
        log_tail: String,
    },

    /// Every attempt to start on a fresh port lost the port to another process.
    #[error("{service}: no usable loopback port after {attempts} attempts; last error: {last}")]
    NoFreePort {
        /// Kind of service.
        service: &'static str,
        /// Number of ports tried.
        attempts: usize,
        /// The last `PortTaken` error, rendered.
        last: String,
    },

    /// `redis-cli --cluster create` did not build the cluster.
    #[error("`redis-cli --cluster create` failed ({status}):\n{output}")]
    ClusterCreate {
        /// Exit status or reason.
        status: String,
        /// Combined stdout and stderr of redis-cli.
        output: String,
    },

    /// A cluster or sentinel set did not reach the wanted state in time.
    #[error("{what} within {timeout:?}; last observation: {last}")]
    NotConverged {
        /// The state that was awaited, e.g. `cluster_state:ok on 127.0.0.1:7000`.
        what: String,
        /// How long the testkit waited.
        timeout: Duration,
        /// What the service said last.
        last: String,
    },

    /// The service answered a command with a RESP error.
    #[error("{addr} answered `{command}` with an error: {message}")]
    ErrorReply {
        /// `127.0.0.1:port`.
        addr: String,
        /// Command name.
        command: String,
        /// The error text.
        message: String,
    },

    /// The service answered with something the testkit did not expect.
    #[error("{addr} answered `{command}` unexpectedly: {reply}")]
    UnexpectedReply {
        /// `127.0.0.1:port`.
        addr: String,
        /// Command name.
        command: String,
        /// The reply, rendered.
        reply: String,
    },

    /// The `sh` supervisor that owns the service process broke its protocol.
    #[error("supervisor of {service} on {addr} failed: {detail}")]
    Supervisor {
        /// Kind of service.
        service: &'static str,
        /// `127.0.0.1:port`.
        addr: String,
        /// What went wrong.
        detail: String,
    },

    /// The headless browser or its driver failed.
    #[error("browser: {detail}")]
    Browser {
        /// What went wrong.
        detail: String,
    },

    /// The requested topology cannot be built.
    #[error("invalid setup: {0}")]
    InvalidSetup(String),

    /// A shared (per test binary) instance failed to start on first use.
    #[error("shared {service} failed to start earlier in this test binary: {message}")]
    SharedStart {
        /// Kind of service.
        service: &'static str,
        /// The original error, rendered.
        message: String,
    },
}

impl TestkitError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }
}
