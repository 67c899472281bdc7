//! Stage 3: this process' cache of verified logins. A hit skips the backends (not the filters).
//! It is looked up before the brute-force check (no I/O: a hit then needs no positive-cache
//! reads) but only honoured after it, so a cached login never bypasses a ban.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::{Attempt, Pipeline, Source};
use crate::outcome::{AuthOutcome, UserData};

/// What the in-process cache said about an attempt.
#[derive(Debug)]
pub(super) enum MemoryLookup {
    /// Not asked (no cache, a lookup, or `in-memory=0`).
    NotAsked,
    Miss,
    Hit(Arc<UserData>),
}

impl Pipeline {
    pub(super) fn memory_lookup(&self, a: &Attempt<'_>) -> MemoryLookup {
        let Some(cache) = self.parts.memory_cache.as_ref() else {
            return MemoryLookup::NotAsked;
        };
        if !(a.authenticating && a.req.cache_policy.use_memory_cache) {
            return MemoryLookup::NotAsked;
        }
        match cache.get(a.req, a.now) {
            Some(user) => MemoryLookup::Hit(user),
            None => MemoryLookup::Miss,
        }
    }

    pub(super) fn memory_cache(&self, a: &mut Attempt<'_>, lookup: MemoryLookup) -> ControlFlow<AuthOutcome> {
        match lookup {
            MemoryLookup::NotAsked => ControlFlow::Continue(()),
            MemoryLookup::Miss => {
                a.cache_asked = true;
                ControlFlow::Continue(())
            }
            MemoryLookup::Hit(user) => {
                a.cache_asked = true;
                a.source = Source::MemoryCache;
                ControlFlow::Break(AuthOutcome::memory_hit(user))
            }
        }
    }
}
