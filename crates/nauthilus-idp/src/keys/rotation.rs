//! Scheduled rotation of the generated keys. Every `ROTATION_CHECK_INTERVAL` each instance
//! asks, at the time passed in, whether the newest key of an algorithm is older than
//! `idp.key_rotation`. Instances that share Redis (and, as they must to publish one JWKS,
//! `idp.key_dir`) claim the succession of that key in the store first (`SET NX` on
//! `idp:key-rotation:<kid>`); only the claimant generates its successor, and only if the key is
//! still the newest when it looks again, so a rotation happens once however many instances see
//! it due. The others find the new key in the directory on their next check. Retired keys past
//! `idp.key_retention` are dropped on the same pass. Keys read from `idp.signing_keys` are the
//! operator's and never rotate here.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nauthilus_config::IdpConfig;
use nauthilus_store::Store;

use super::generate::{self, Create};
use super::{KeyError, KeySet, SigningAlg};
use crate::state::StateKeys;
use crate::{Idp, IdpService};

/// How often an instance checks for a due rotation.
pub const ROTATION_CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// How long a claim to rotate a key holds: if its claimant dies before writing the successor,
/// another instance takes over after this (it looks at the directory again first).
const CLAIM_TTL: Duration = Duration::from_secs(600);

/// One rotation pass at `now` over the generated keys of `config`, coordinated through
/// `store`: the set to put in force when it differs from `current` (a successor made or found,
/// a retired key dropped), else `None`.
pub async fn rotate(
    store: &Store,
    config: &IdpConfig,
    now: SystemTime,
    current: &KeySet,
) -> Result<Option<KeySet>, KeyError> {
    if !config.signing_keys.is_empty() {
        return Ok(None);
    }
    let due = on_blocking(config, move |c| generate::due(&c, now)).await?;
    let claimed = claim(store, due).await?;
    let set = on_blocking(config, move |c| {
        KeySet::load_creating(&c, now, Create::Successors(&claimed))
    })
    .await?;
    Ok((set.fingerprint() != current.fingerprint()).then_some(set))
}

/// The rotations of `due` this instance wins.
pub(super) async fn claim(
    store: &Store,
    due: Vec<(SigningAlg, String)>,
) -> Result<Vec<(SigningAlg, String)>, KeyError> {
    let keys = StateKeys::new(store);
    let mut claimed = Vec::new();
    for (alg, kid) in due {
        let won = store
            .set_nx(&keys.key_rotation(&kid), "1", Some(CLAIM_TTL))
            .await
            .map_err(|e| KeyError::Load(format!("claiming the rotation of {kid}: {e}")))?;
        if won {
            claimed.push((alg, kid));
        } else {
            tracing::debug!(kid = %kid, "idp: signing key rotation claimed by another instance");
        }
    }
    Ok(claimed)
}

/// Runs the key files' I/O and key generation (RSA takes a while) off the async workers.
async fn on_blocking<T: Send + 'static>(
    config: &IdpConfig,
    work: impl FnOnce(IdpConfig) -> Result<T, KeyError> + Send + 'static,
) -> Result<T, KeyError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || work(config))
        .await
        .map_err(|e| KeyError::Load(format!("key rotation task: {e}")))?
}

impl Idp {
    /// One rotation pass at `now`; true when a new key set was put in force.
    pub async fn rotate_keys(&self, now: SystemTime) -> Result<bool, KeyError> {
        let current = self.keys.current();
        match rotate(&self.store, &self.config, now, &current).await? {
            Some(set) => {
                tracing::info!(keys = ?set.fingerprint(), "idp: signing keys rotated");
                self.keys.replace(set);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Checks for due rotations every `ROTATION_CHECK_INTERVAL` on the provider in force (a reload
/// swaps it) until `stop` turns true. Failures are logged and retried on the next check; the
/// keys in force keep signing meanwhile.
pub async fn run_key_rotation(service: Arc<IdpService>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(ROTATION_CHECK_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let idp = service.current();
        if let Err(e) = idp.rotate_keys(nauthilus_clock::now()).await {
            tracing::warn!(error = %e, "idp: signing key rotation failed; trying again later");
        }
    }
}
