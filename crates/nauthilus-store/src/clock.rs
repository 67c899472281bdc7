//! The clock the in-process store measures TTLs with: the one place it reads time, so tests can
//! move time forward instead of sleeping.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A monotonic time source.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        nauthilus_clock::instant()
    }
}

/// A clock that stands still until told to advance (for tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    /// A clock starting at the current instant.
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(nauthilus_clock::instant())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.0.lock().map(|t| *t).unwrap_or_else(|e| *e.into_inner())
    }
}
