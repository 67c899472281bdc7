//! Stage 4: the backends in configured order (lookup + verify). The first that knows the user
//! decides, except that a positive-cache entry with a different password falls through (the
//! password may have changed). A backend error ends the login as a temporary failure: the
//! failed backend might have known the user and said no, so asking the next one could change
//! the decision.

use std::ops::ControlFlow;

use super::{Attempt, Pipeline, Source};
use crate::backend::{Backend, PassDbResult, PositiveCache};
use crate::brute_force::Admission;
use crate::outcome::{AuthOutcome, FailReason, UserData};

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
                a.cache_asked = true;
            } else {
                self.reserve(a).await?;
            }
            // The positive cache's first reads may have come with the ban check.
            let answer = match (backend, a.prefetched.take()) {
                (Backend::Cache(cache), Some((probe, replies))) => cache
                    .lookup_probed(req, probe, replies)
                    .await
                    .map_err(crate::backend::BackendError::from),
                _ => backend.verify(req, &self.parts.verifier).await,
            };
            match answer {
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
                            remember_in: cache_before.cloned().map(Box::new),
                        }
                    };
                    let password_ok = if is_cache {
                        password_ok
                    } else {
                        self.app_password_step(a, &user.account, password_ok).await?
                    };
                    if password_ok {
                        return ControlFlow::Break(self.verified(a, user).await);
                    }
                    a.account = Some(user.account.clone());
                    return ControlFlow::Break(self.fail(req, FailReason::WrongPassword));
                }
                Err(e) => {
                    tracing::warn!(session = %req.session, backend = backend.id().name(), error = %e, "backend failed");
                    self.release(a).await;
                    return ControlFlow::Break(AuthOutcome::temp_fail(format!(
                        "{} backend failed",
                        backend.id().name()
                    )));
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// Attempts that reach a real verification count against the brute-force buckets before
    /// it runs (once per login), so a parallel burst of guesses cannot all be verified before
    /// the first failure is counted. Cache hits need no reservation: a cache only matches a
    /// password a backend verified, and a wrong password always reaches a backend.
    async fn reserve(&self, a: &mut Attempt<'_>) -> ControlFlow<AuthOutcome> {
        let Some(bf) = self.parts.brute_force.as_ref() else {
            return ControlFlow::Continue(());
        };
        if !a.authenticating || a.reservation.is_some() {
            return ControlFlow::Continue(());
        }
        match bf.reserve(a.req).await {
            Ok(Admission::Admitted(r)) => {
                a.reservation = Some(r);
                ControlFlow::Continue(())
            }
            Ok(Admission::Refused(ban)) => {
                tracing::warn!(session = %a.req.session, rule = %ban.rule, scope = %ban.scope, "brute force: login refused, too many attempts in flight");
                self.brute_force_actions(a.req, &ban, false).await;
                ControlFlow::Break(self.fail(a.req, FailReason::BruteForce))
            }
            Err(e) => ControlFlow::Break(Self::brute_force_unavailable(a, &e)),
        }
    }

    /// A backend verified the password: give the reservation back and make sure the network
    /// was not banned while the password was being checked.
    async fn verified(&self, a: &mut Attempt<'_>, user: std::sync::Arc<UserData>) -> AuthOutcome {
        let (Some(bf), Some(r)) = (self.parts.brute_force.as_ref(), a.reservation.take()) else {
            return AuthOutcome::ok(user);
        };
        a.success_counted = true;
        match bf.confirm_success(a.req, r, &user.account, a.now).await {
            Ok(None) => AuthOutcome::ok(user),
            Ok(Some(ban)) => {
                tracing::warn!(session = %a.req.session, rule = %ban.rule, scope = %ban.scope, "brute force: network banned while the password was checked");
                self.brute_force_actions(a.req, &ban, false).await;
                self.fail(a.req, FailReason::BruteForce)
            }
            Err(e) => Self::brute_force_unavailable(a, &e),
        }
    }

    /// Gives a reservation back unused (the login ends without a verdict).
    pub(super) async fn release(&self, a: &mut Attempt<'_>) {
        if let (Some(bf), Some(r)) = (self.parts.brute_force.as_ref(), a.reservation.take())
            && let Err(e) = bf.release(r).await
        {
            tracing::warn!(session = %a.req.session, error = %e, "brute-force reservation not released");
        }
    }

    /// No backend knew the user.
    pub(super) fn unknown_user(&self, a: &Attempt<'_>) -> AuthOutcome {
        self.fail(a.req, FailReason::UnknownUser)
    }
}
