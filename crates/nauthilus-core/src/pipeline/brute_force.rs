//! Stage 2: the brute-force ban check, before any cache or backend answer counts, so that a
//! cached login never bypasses a ban. Lookups (`no-auth`) guess no password and are not checked.
//!
//! The ban keys are read in one round trip together with the first reads of the positive cache
//! when that is the first backend and the in-process cache had no answer: the ban is judged
//! first, and the cache's answers wait in the attempt for the backends stage. Reading them
//! early is safe, as reads change nothing; a banned login's cache answers are dropped unread.

use std::ops::ControlFlow;

use nauthilus_store::Read;

use super::{Attempt, Pipeline};
use crate::backend::Backend;
use crate::outcome::{AuthOutcome, FailReason};

impl Pipeline {
    /// `with_cache`: also read the positive cache ahead (the in-process cache had no answer).
    pub(super) async fn check_brute_force(
        &self,
        a: &mut Attempt<'_>,
        with_cache: bool,
    ) -> ControlFlow<AuthOutcome> {
        let probe = self
            .parts
            .brute_force
            .as_ref()
            .filter(|_| a.authenticating)
            .and_then(|bf| bf.ban_probe(a.req).map(|p| (bf, p)));
        let Some((bf, probe)) = probe else {
            // No ban to read: the positive cache reads when the backends stage asks it.
            return ControlFlow::Continue(());
        };
        let cache = match self.parts.backends.first() {
            Some(Backend::Cache(cache))
                if with_cache
                    && a.req.cache_policy.use_positive_cache
                    && cache.store().same_as(bf.store()) =>
            {
                Some(cache.probe(a.req))
            }
            _ => None,
        };
        let mut reads: Vec<Read<'_>> = probe.keys().map(Read::Get).collect();
        if let Some(cache_probe) = &cache {
            reads.extend(cache_probe.reads());
        }
        let bans = probe.len();
        let mut replies = match bf.store().read_batch(&reads).await {
            Ok(replies) => replies,
            Err(e) => return ControlFlow::Break(Self::brute_force_unavailable(a, &e)),
        };
        drop(reads);
        let cache_replies = replies.split_off(bans.min(replies.len()));
        let found = replies.into_iter().map(|r| r.into_value()).collect();
        if let Some(ban) = bf.judge(probe, found) {
            tracing::warn!(session = %a.req.session, rule = %ban.rule, scope = %ban.scope, "brute force: login refused, network banned");
            self.brute_force_actions(a.req, &ban, true).await;
            return ControlFlow::Break(self.fail(a.req, FailReason::BruteForce));
        }
        a.prefetched = cache.map(|probe| (probe, cache_replies));
        ControlFlow::Continue(())
    }

    /// Without the brute-force state a login cannot be judged safely: fail closed, temporarily.
    pub(super) fn brute_force_unavailable(a: &Attempt<'_>, e: &nauthilus_store::StoreError) -> AuthOutcome {
        tracing::warn!(session = %a.req.session, error = %e, "brute-force state unavailable");
        AuthOutcome::temp_fail("brute-force state unavailable")
    }
}
