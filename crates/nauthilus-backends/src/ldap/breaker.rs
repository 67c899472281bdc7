//! Per-server circuit breaker and retry backoff: pure logic, time passed in.
//!
//! After `threshold` consecutive failures a server is *open*: no connection is attempted for
//! `cooldown`. Then one probe is let through (*half-open*); its success closes the breaker, its
//! failure opens it for another cooldown. A probe that never reports back (its request was
//! cancelled) is given up after one cooldown, so the breaker cannot stay stuck half-open.

use std::time::{Duration, Instant};

/// The state of one server's breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Connections are attempted; `failures` in a row so far.
    Closed { failures: u32 },
    /// No connection is attempted before `until`.
    Open { until: Instant },
    /// One probe is under way since `since`.
    HalfOpen { since: Instant },
}

/// A circuit breaker for one server.
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    state: BreakerState,
}

impl CircuitBreaker {
    /// A closed breaker opening after `threshold` failures in a row (0 = never opens).
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            state: BreakerState::Closed { failures: 0 },
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// True when the breaker is not closed (the server is considered down).
    pub fn is_tripped(&self) -> bool {
        !matches!(self.state, BreakerState::Closed { .. })
    }

    /// May a connection be attempted at `now`? Past the cooldown this admits one probe.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen { since: now };
                true
            }
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { since } if now >= since + self.cooldown => {
                self.state = BreakerState::HalfOpen { since: now };
                true
            }
            BreakerState::HalfOpen { .. } => false,
        }
    }

    /// A connection to the server worked.
    pub fn record_success(&mut self) {
        self.state = BreakerState::Closed { failures: 0 };
    }

    /// A connection to the server failed at `now`.
    pub fn record_failure(&mut self, now: Instant) {
        self.state = match self.state {
            BreakerState::Closed { failures } => {
                let failures = failures.saturating_add(1);
                if self.threshold > 0 && failures >= self.threshold {
                    BreakerState::Open {
                        until: now + self.cooldown,
                    }
                } else {
                    BreakerState::Closed { failures }
                }
            }
            BreakerState::HalfOpen { .. } | BreakerState::Open { .. } => BreakerState::Open {
                until: now + self.cooldown,
            },
        };
    }
}

/// The pause before retry number `attempt` (0 = the first retry): `base · 2^attempt`, at most
/// `max`. No jitter: retries are few and per request, not synchronised across clients.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(30);

    #[test]
    fn opens_after_threshold_failures_in_a_row() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(3, COOLDOWN);
        b.record_failure(t0);
        b.record_failure(t0);
        assert!(b.allow(t0));
        b.record_failure(t0);
        assert_eq!(b.state(), BreakerState::Open { until: t0 + COOLDOWN });
        assert!(!b.allow(t0 + Duration::from_secs(29)));
    }

    #[test]
    fn a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(2, COOLDOWN);
        b.record_failure(t0);
        b.record_success();
        b.record_failure(t0);
        assert_eq!(b.state(), BreakerState::Closed { failures: 1 });
    }

    #[test]
    fn after_the_cooldown_exactly_one_probe_goes_through() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(1, COOLDOWN);
        b.record_failure(t0);
        let later = t0 + COOLDOWN;
        assert!(b.allow(later));
        assert!(!b.allow(later), "second caller while the probe runs");
        b.record_success();
        assert!(b.allow(later));
        assert!(!b.is_tripped());
    }

    #[test]
    fn a_failed_probe_opens_for_another_cooldown() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(1, COOLDOWN);
        b.record_failure(t0);
        let probe = t0 + COOLDOWN;
        assert!(b.allow(probe));
        b.record_failure(probe);
        assert!(!b.allow(probe + Duration::from_secs(1)));
        assert!(b.allow(probe + COOLDOWN));
    }

    #[test]
    fn a_lost_probe_is_replaced_after_a_cooldown() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(1, COOLDOWN);
        b.record_failure(t0);
        assert!(b.allow(t0 + COOLDOWN));
        assert!(!b.allow(t0 + COOLDOWN + Duration::from_secs(1)));
        assert!(b.allow(t0 + COOLDOWN * 2));
    }

    #[test]
    fn threshold_zero_never_opens() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(0, COOLDOWN);
        for _ in 0..100 {
            b.record_failure(t0);
        }
        assert!(b.allow(t0));
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let base = Duration::from_millis(200);
        let max = Duration::from_secs(2);
        assert_eq!(backoff(0, base, max), Duration::from_millis(200));
        assert_eq!(backoff(1, base, max), Duration::from_millis(400));
        assert_eq!(backoff(3, base, max), Duration::from_millis(1600));
        assert_eq!(backoff(4, base, max), max);
        assert_eq!(backoff(100, base, max), max);
    }
}
