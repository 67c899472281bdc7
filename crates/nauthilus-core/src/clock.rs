//! The one place that reads the clocks. Logic takes the time as an argument; the edges (HTTP
//! handlers, background tasks) call these. `clippy.toml` forbids `SystemTime::now` and
//! `Instant::now` everywhere else.

use std::time::SystemTime;

use tokio::time::Instant;

/// Wall-clock time, for TTLs, history entries and session ids.
#[allow(clippy::disallowed_methods)]
pub fn now() -> SystemTime {
    SystemTime::now()
}

/// Monotonic time, for measuring how long something took (Tokio's, so paused test time applies).
#[allow(clippy::disallowed_methods)]
pub fn monotonic() -> Instant {
    Instant::now()
}
