//! The nauthilus server as a library: configuration → wiring → serving. The binary is a thin
//! `main` over this; integration tests start the same server in process.

// Tests may read the clock directly; the code under test takes it as an argument.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod cli;
pub mod logging;
pub mod mfa;
pub mod server;
pub mod transport;
pub mod users;
pub mod wiring;

pub use server::{ReloadReport, RunningServer, reload_from_file, start};
pub use wiring::{Services, StartupError};

/// The process environment as UTF-8 pairs (variables that are not UTF-8 are skipped).
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}
