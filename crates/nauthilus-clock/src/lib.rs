//! The one place that reads the clocks. Logic takes the time as an argument; the edges (HTTP
//! handlers, background tasks, pools) call these. `clippy.toml` forbids `SystemTime::now` and
//! `Instant::now` everywhere else (tests excepted), so every reading of time is visible here.

use std::time::SystemTime;

/// Wall-clock time, for TTLs, history entries and session ids.
#[allow(clippy::disallowed_methods)]
pub fn now() -> SystemTime {
    SystemTime::now()
}

/// Monotonic time, for timeouts and circuit breakers.
#[allow(clippy::disallowed_methods)]
pub fn instant() -> std::time::Instant {
    std::time::Instant::now()
}

/// Tokio's monotonic time, for measuring how long something took where a test may pause time.
#[allow(clippy::disallowed_methods)]
pub fn monotonic() -> tokio::time::Instant {
    tokio::time::Instant::now()
}
