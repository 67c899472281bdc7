//! Stage 4: the backends in configured order (lookup + verify). The first that knows the user
//! decides, except that a positive-cache entry with a different password falls through (the
//! password may have changed). A backend error ends the login as a temporary failure: the
//! failed backend might have known the user and said no, so asking the next one could change
//! the decision.

use std::ops::ControlFlow;

use super::{Attempt, Pipeline, Source};
use crate::backend::{Backend, PassDbResult, PositiveCache};
use crate::outcome::{AuthOutcome, FailReason};

impl Pipeline {
    /// `Break` with the verdict of the backend that knew the user; `Continue` if none did.
    pub(super) async fn backends_stage(&self, a: &mut Attempt<'_>) -> ControlFlow<AuthOutcome> {
        let req = a.req;
        let mut cache_before: Option<&PositiveCache> = None;
        for (index, backend) in self.parts.backends.iter().enumerate() {
            let is_cache = matches!(backend, Backend::Cache(_));
            if let Backend::Cache(cache) = backend {
                if !req.cache_policy.use_positive_cache {
                    continue;
                }
                cache_before = Some(cache);
            }
            match backend.verify(req, &self.parts.verifier).await {
                Ok(PassDbResult::UserNotFound) => {}
                Ok(PassDbResult::Found {
                    password_ok: false, ..
                }) if is_cache => {}
                Ok(PassDbResult::Found { user, password_ok }) => {
                    a.source = if is_cache {
                        Source::PositiveCache
                    } else {
                        Source::Backend {
                            index,
                            remember_in: cache_before.cloned(),
                        }
                    };
                    if password_ok {
                        return ControlFlow::Break(AuthOutcome::ok(user));
                    }
                    a.account = Some(user.account.clone());
                    return ControlFlow::Break(self.fail(req, FailReason::WrongPassword));
                }
                Err(e) => {
                    tracing::warn!(session = %req.session, backend = backend.id().name(), error = %e, "backend failed");
                    return ControlFlow::Break(AuthOutcome::temp_fail(format!(
                        "{} backend failed",
                        backend.id().name()
                    )));
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// No backend knew the user.
    pub(super) fn unknown_user(&self, a: &Attempt<'_>) -> AuthOutcome {
        self.fail(a.req, FailReason::UnknownUser)
    }
}
