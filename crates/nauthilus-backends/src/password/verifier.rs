//! `PasswordVerifier`: runs password verification off the async workers, on the blocking pool,
//! with at most `max_parallel` hashes computed at once.

use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinError;

use super::PasswordHash;

/// Why a verification produced no answer; never means "password correct".
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The verifier was closed (shutdown) before a slot became free.
    #[error("password verifier is closed")]
    Closed,
    /// The blocking task panicked or was cancelled by a shutting-down runtime.
    #[error("password verification task failed")]
    TaskFailed(#[source] JoinError),
    /// The hash needs more memory than the whole hashing budget (a hostile or mistaken
    /// parameter); never verified.
    #[error("password hash needs {needed_kib} KiB, more than the hashing memory budget of {budget_kib} KiB")]
    TooExpensive { needed_kib: u32, budget_kib: u32 },
}

/// Default memory all concurrent hashes may use together: 256 MiB.
pub const DEFAULT_MEMORY_BUDGET_KIB: u32 = 256 * 1024;

/// Verifies candidates against stored hashes on the blocking pool, bounded by a semaphore.
/// Clones share the same bound.
#[derive(Debug, Clone)]
pub struct PasswordVerifier {
    permits: Arc<Semaphore>,
    max_parallel: usize,
    /// KiB of hashing memory, taken by each memory-hard hash for as long as it runs: a burst of
    /// argon2 logins cannot hold more than this at once.
    memory: Arc<Semaphore>,
    memory_budget_kib: u32,
}

impl PasswordVerifier {
    /// A verifier running at most `max_parallel` hashes at once; 0 means one per CPU.
    pub fn new(max_parallel: usize) -> Self {
        let wanted = match max_parallel {
            0 => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            n => n,
        };
        // Semaphore::new panics above MAX_PERMITS; no machine needs more than that anyway.
        let max_parallel = wanted.min(Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(max_parallel)),
            max_parallel,
            memory: Arc::new(Semaphore::new(DEFAULT_MEMORY_BUDGET_KIB as usize)),
            memory_budget_kib: DEFAULT_MEMORY_BUDGET_KIB,
        }
    }

    /// The same verifier with `kib` KiB of hashing memory for all concurrent hashes together.
    pub fn with_memory_budget(mut self, kib: u32) -> Self {
        let kib = kib.max(1);
        self.memory = Arc::new(Semaphore::new((kib as usize).min(Semaphore::MAX_PERMITS)));
        self.memory_budget_kib = kib;
        self
    }

    /// The number of hashes this verifier computes at most at once.
    pub fn max_parallel(&self) -> usize {
        self.max_parallel
    }

    /// Refuses all further verifications with `VerifyError::Closed`, including waiting ones.
    pub fn close(&self) {
        self.permits.close();
        self.memory.close();
    }

    /// Checks `candidate` against `hash` without blocking the async worker.
    pub async fn verify(&self, hash: Arc<PasswordHash>, candidate: Vec<u8>) -> Result<bool, VerifyError> {
        if self.permits.is_closed() {
            return Err(VerifyError::Closed);
        }
        // PLAIN, SHA* and SSHA* cost one digest (microseconds): cheaper to run here than to hand
        // to the blocking pool, and they would not hold a permit long enough to matter.
        if hash.scheme().is_cheap() {
            return Ok(hash.verify(&candidate));
        }
        let needed_kib = hash.memory_kib();
        if needed_kib > self.memory_budget_kib {
            return Err(VerifyError::TooExpensive {
                needed_kib,
                budget_kib: self.memory_budget_kib,
            });
        }
        let memory = Arc::clone(&self.memory)
            .acquire_many_owned(needed_kib)
            .await
            .map_err(|_| VerifyError::Closed)?;
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| VerifyError::Closed)?;
        // The permits move into the blocking task, so they stay taken until the hash is computed
        // even when the caller's future is dropped half-way: the bounds hold under cancellation.
        let task = tokio::task::spawn_blocking(move || {
            let _permits = (permit, memory);
            hash.verify(&candidate)
        });
        task.await.map_err(VerifyError::TaskFailed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::task::JoinSet;

    use super::*;

    // argon2-cffi 25.1.0 vectors (the same as in argon2.rs): (stored, password).
    const ARGON2_VECTORS: [(&str, &str); 4] = [
        (
            "$argon2i$v=19$m=1024,t=1,p=1$OFXvHQmbGL9YTRmnoTXbFA$3BF9V/t1LeDQWvbS7c6yVnkCwfCWfyuJ14KnFzPa/h8",
            "correct horse",
        ),
        (
            "$argon2i$v=16$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$NgjVSsNMvXkUiH6K++xtGkSmEeUkMDeVNjDYmVCPcQI",
            "correct horse",
        ),
        (
            "$argon2id$v=19$m=4096,t=2,p=2$495ewIoZodVMqxM6i4OLHA$qgiaplty1ZpFCOJGgBK/8AMnz/vY1ytjobcJV4vJg6c",
            "correct horse",
        ),
        (
            "$argon2id$v=19$m=2048,t=1,p=1$+h7KluiulzBIimbQjEy8Ww$VxpcySof0YXh0QSyL+TdOQeAUZ5wfblmV1nIA4X3Vtw",
            "pässwörd",
        ),
    ];

    fn hash(stored: &str) -> Arc<PasswordHash> {
        Arc::new(PasswordHash::parse(stored).unwrap())
    }

    #[test]
    fn zero_means_one_slot_per_cpu() {
        let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        assert_eq!(PasswordVerifier::new(0).max_parallel(), cpus);
        assert_eq!(PasswordVerifier::new(3).max_parallel(), 3);
        assert_eq!(
            PasswordVerifier::new(usize::MAX).max_parallel(),
            Semaphore::MAX_PERMITS
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn single_slot_verifies_concurrent_argon2_hashes_correctly() {
        let verifier = PasswordVerifier::new(1);
        let mut tasks = JoinSet::new();
        for (stored, password) in ARGON2_VECTORS {
            for (candidate, expected) in [(password, true), ("wrong password", false)] {
                let verifier = verifier.clone();
                let hash = hash(stored);
                tasks.spawn(async move {
                    let verdict = verifier
                        .verify(hash, candidate.as_bytes().to_vec())
                        .await
                        .unwrap();
                    (stored, candidate, verdict, expected)
                });
            }
        }
        let mut finished = 0;
        while let Some(joined) = tasks.join_next().await {
            let (stored, candidate, verdict, expected) = joined.unwrap();
            assert_eq!(verdict, expected, "{stored} with {candidate:?}");
            finished += 1;
        }
        assert_eq!(finished, ARGON2_VECTORS.len() * 2);
        assert_eq!(
            verifier.permits.available_permits(),
            1,
            "every permit is returned"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expensive_hashes_wait_for_a_free_slot() {
        let verifier = PasswordVerifier::new(1);
        let held = Arc::clone(&verifier.permits).acquire_owned().await.unwrap();
        let (stored, password) = ARGON2_VECTORS[0];
        let pending = tokio::spawn({
            let verifier = verifier.clone();
            async move { verifier.verify(hash(stored), password.as_bytes().to_vec()).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!pending.is_finished(), "verification ran without a permit");
        drop(held);
        assert!(pending.await.unwrap().unwrap());
    }

    #[tokio::test]
    async fn cheap_schemes_run_inline_without_a_slot() {
        let verifier = PasswordVerifier::new(1);
        let _held = Arc::clone(&verifier.permits).acquire_owned().await.unwrap();
        // `doveadm pw -s SSHA256` (Dovecot 2.3.19).
        let ssha = hash("{SSHA256}XiG8DenxAFohIyKqegV3/pAqXnDNZv7fcPPcjeHIsFq3ij8x");
        assert!(
            verifier
                .verify(Arc::clone(&ssha), b"correct horse".to_vec())
                .await
                .unwrap()
        );
        assert!(!verifier.verify(ssha, b"wrong".to_vec()).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_verifier_is_an_error_never_a_verdict() {
        let verifier = PasswordVerifier::new(1);
        let held = Arc::clone(&verifier.permits).acquire_owned().await.unwrap();
        let (stored, password) = ARGON2_VECTORS[0];
        let waiting = tokio::spawn({
            let verifier = verifier.clone();
            async move { verifier.verify(hash(stored), password.as_bytes().to_vec()).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        verifier.close();
        assert!(matches!(waiting.await.unwrap(), Err(VerifyError::Closed)));
        drop(held);

        let ssha = hash("{SSHA256}XiG8DenxAFohIyKqegV3/pAqXnDNZv7fcPPcjeHIsFq3ij8x");
        assert!(matches!(
            verifier.verify(ssha, b"correct horse".to_vec()).await,
            Err(VerifyError::Closed)
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_share_a_memory_budget_and_one_beyond_it_is_refused() {
        // ARGON2_VECTORS[2] needs m=4096 KiB; a 6 MiB budget fits one at a time.
        let verifier = PasswordVerifier::new(4).with_memory_budget(6 * 1024);
        let (stored, password) = ARGON2_VECTORS[2];
        let held = Arc::clone(&verifier.memory)
            .acquire_many_owned(4096)
            .await
            .unwrap();
        let waiting = tokio::spawn({
            let verifier = verifier.clone();
            async move { verifier.verify(hash(stored), password.as_bytes().to_vec()).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "waits while the budget is taken");
        drop(held);
        assert!(waiting.await.unwrap().unwrap(), "then verifies");

        let small = PasswordVerifier::new(4).with_memory_budget(1024);
        assert!(matches!(
            small.verify(hash(stored), password.as_bytes().to_vec()).await,
            Err(VerifyError::TooExpensive {
                needed_kib: 4096,
                budget_kib: 1024
            })
        ));
    }
}
