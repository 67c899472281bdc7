//! Polling until a service reaches a state, with a deadline and the last observation for errors.

use std::thread;
use std::time::{Duration, Instant};

use crate::TestkitError;

/// Pause between two probes; short because local services come up in milliseconds.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Calls `probe` until it returns `Ok(())` or `timeout` passes; `Err(observation)` means "not
/// yet" and the last observation ends up in the error.
pub(crate) fn converge(
    what: impl FnOnce() -> String,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<(), String>,
) -> Result<(), TestkitError> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe() {
            Ok(()) => return Ok(()),
            Err(observation) => observation,
        };
        if Instant::now() >= deadline {
            return Err(TestkitError::NotConverged {
                what: what(),
                timeout,
                last,
            });
        }
        thread::sleep(POLL_INTERVAL);
    }
}
