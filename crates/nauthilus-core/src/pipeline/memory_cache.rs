//! Stage 3: this process' cache of verified logins. A hit skips the backends (not the filters).

use std::ops::ControlFlow;

use super::{Attempt, Pipeline, Source};
use crate::outcome::AuthOutcome;

impl Pipeline {
    pub(super) fn memory_cache(&self, a: &mut Attempt<'_>) -> ControlFlow<AuthOutcome> {
        let Some(cache) = self.parts.memory_cache.as_ref() else {
            return ControlFlow::Continue(());
        };
        if !(a.authenticating && a.req.cache_policy.use_memory_cache) {
            return ControlFlow::Continue(());
        }
        a.cache_asked = true;
        match cache.get(a.req, a.now) {
            Some(user) => {
                a.source = Source::MemoryCache;
                ControlFlow::Break(AuthOutcome::memory_hit(user))
            }
            None => ControlFlow::Continue(()),
        }
    }
}
