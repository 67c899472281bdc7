//! The key set in force, swapped whole when a rotation changes it: a request signs and
//! verifies with the set it loaded, never with half of one.

use std::sync::Arc;

use arc_swap::ArcSwap;
use jsonwebtoken::Validation;
use jsonwebtoken::jwk::JwkSet;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{KeyError, KeySet, SigningAlg};

/// The provider's keys; `replace` puts a rotated set in force.
#[derive(Debug)]
pub struct KeyRing {
    current: ArcSwap<KeySet>,
}

impl KeyRing {
    /// A ring holding `keys`.
    pub fn new(keys: KeySet) -> Self {
        Self {
            current: ArcSwap::from_pointee(keys),
        }
    }

    /// The set in force now.
    pub fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// Puts `keys` in force for everything that signs or verifies from now on.
    pub fn replace(&self, keys: KeySet) {
        self.current.store(Arc::new(keys));
    }

    /// See [`KeySet::default_alg`].
    pub fn default_alg(&self) -> SigningAlg {
        self.current.load().default_alg()
    }

    /// See [`KeySet::can_sign`].
    pub fn can_sign(&self, alg: SigningAlg) -> bool {
        self.current.load().can_sign(alg)
    }

    /// See [`KeySet::algorithms`].
    pub fn algorithms(&self) -> Vec<&'static str> {
        self.current.load().algorithms()
    }

    /// See [`KeySet::jwks`].
    pub fn jwks(&self) -> JwkSet {
        self.current.load().jwks()
    }

    /// See [`KeySet::sign`].
    pub fn sign<T: Serialize>(
        &self,
        alg: Option<SigningAlg>,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        self.current.load().sign(alg, typ, claims)
    }

    /// See [`KeySet::verify`].
    pub fn verify<T: DeserializeOwned>(&self, token: &str, validation: Validation) -> Result<T, KeyError> {
        self.current.load().verify(token, validation)
    }
}
