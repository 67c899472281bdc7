//! Stage 2: the brute-force ban check, before any cache or backend, so that a cached login
//! never bypasses a ban. Lookups (`no-auth`) guess no password and are not checked.

use std::ops::ControlFlow;

use super::{Attempt, Pipeline};
use crate::outcome::{AuthOutcome, FailReason};

impl Pipeline {
    pub(super) async fn check_brute_force(&self, a: &Attempt<'_>) -> ControlFlow<AuthOutcome> {
        let Some(bf) = self.parts.brute_force.as_ref().filter(|_| a.authenticating) else {
            return ControlFlow::Continue(());
        };
        match bf.check(a.req).await {
            Ok(None) => ControlFlow::Continue(()),
            Ok(Some(ban)) => {
                tracing::warn!(session = %a.req.session, rule = %ban.rule, scope = %ban.scope, "brute force: login refused, network banned");
                self.brute_force_actions(a.req, &ban.rule).await;
                ControlFlow::Break(self.fail(a.req, FailReason::BruteForce))
            }
            Err(e) => ControlFlow::Break(Self::brute_force_unavailable(a, &e)),
        }
    }

    /// Without the brute-force state a login cannot be judged safely: fail closed, temporarily.
    pub(super) fn brute_force_unavailable(a: &Attempt<'_>, e: &nauthilus_store::StoreError) -> AuthOutcome {
        tracing::warn!(session = %a.req.session, error = %e, "brute-force state unavailable");
        AuthOutcome::temp_fail("brute-force state unavailable")
    }
}
