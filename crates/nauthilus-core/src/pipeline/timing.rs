//! Against user enumeration by timing: a login for an unknown user skips the password hash and
//! would answer much sooner than a wrong password for a known one. With the policy on, such a
//! failure is held back until it has taken as long as the running average of the logins a
//! backend decided (which include the hash). Off for benchmarks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::{Attempt, Source};
use crate::outcome::{AuthOutcome, Decision, FailReason};

/// Longest a failure is ever held back, whatever the average says.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// The failure-timing policy (cheap to clone; clones share the average).
#[derive(Clone, Debug)]
pub struct FailureTiming {
    /// Exponentially weighted mean of backend-decided logins, in nanoseconds; `None`: off.
    mean_nanos: Option<Arc<AtomicU64>>,
}

impl FailureTiming {
    /// Holds unknown-user failures back to the running average.
    pub fn on() -> Self {
        Self {
            mean_nanos: Some(Arc::default()),
        }
    }

    /// Answers every failure as soon as it is known.
    pub fn off() -> Self {
        Self { mean_nanos: None }
    }

    /// The current average of backend-decided logins (zero before the first).
    pub fn mean(&self) -> Duration {
        self.mean_nanos.as_ref().map_or(Duration::ZERO, |m| {
            Duration::from_nanos(m.load(Ordering::Relaxed))
        })
    }

    /// Feeds one sample into the average (tests, where paused time makes every login take 0).
    #[cfg(test)]
    pub fn learn_for_test(&self, took: Duration) {
        if let Some(mean) = &self.mean_nanos {
            self.record(mean, took);
        }
    }

    fn record(&self, mean: &AtomicU64, took: Duration) {
        let sample = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = mean.load(Ordering::Relaxed);
        // Weight 1/8; the first sample is taken as it is. Racing updates lose a sample, which
        // an average can afford.
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        mean.store(new, Ordering::Relaxed);
    }

    /// Learns from a backend-decided login, or holds an unknown-user failure back.
    pub(super) async fn equalize(&self, a: &Attempt<'_>, outcome: &AuthOutcome, started: Instant) {
        let Some(mean) = &self.mean_nanos else {
            return;
        };
        if !a.authenticating {
            return;
        }
        let took = started.elapsed();
        match (&a.source, &outcome.decision) {
            (Source::Backend { .. }, Decision::Ok(_) | Decision::Fail(FailReason::WrongPassword)) => {
                self.record(mean, took);
            }
            (Source::None, Decision::Fail(FailReason::UnknownUser)) => {
                let target = Duration::from_nanos(mean.load(Ordering::Relaxed)).min(MAX_DELAY);
                if let Some(rest) = target.checked_sub(took) {
                    tokio::time::sleep(rest).await;
                }
            }
            _ => {}
        }
    }
}
