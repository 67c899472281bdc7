//! Stage 6: commit what the final verdict means — the positive and in-process caches learn a
//! success, brute force counts a failure (or a success, for tolerations). Only here, after the
//! filters: a login a filter refused is neither cached nor counted as a guess.

use std::sync::Arc;

use super::{Attempt, Pipeline, Source};
use crate::outcome::{AuthOutcome, Decision, FailReason, UserData};

impl Pipeline {
    pub(super) async fn commit(&self, a: &mut Attempt<'_>, outcome: AuthOutcome) -> AuthOutcome {
        if !a.authenticating {
            return outcome;
        }
        match &outcome.decision {
            Decision::Ok(user) => self.commit_success(a, user).await,
            Decision::Fail(FailReason::WrongPassword | FailReason::UnknownUser) => {
                self.commit_failure(a).await;
            }
            // Not a guess (or no verdict): a reservation still held is given back.
            // (A feature's rejection that brute force learns from was counted when it triggered.)
            Decision::Fail(FailReason::BruteForce | FailReason::Filtered | FailReason::Feature(_))
            | Decision::TempFail(_) => {
                self.release(a).await;
            }
        }
        outcome
    }

    async fn commit_success(&self, a: &Attempt<'_>, user: &Arc<UserData>) {
        let req = a.req;
        if let Source::Backend {
            remember_in: Some(cache),
            ..
        } = &a.source
            && a.cacheable
            && let Err(e) = cache.remember(req, user).await
        {
            // The login itself was verified; a cache that cannot be written only costs speed.
            tracing::warn!(session = %req.session, error = %e, "positive cache not written");
        }
        if !matches!(a.source, Source::MemoryCache)
            && a.cacheable
            && req.cache_policy.use_memory_cache
            && let Some(memory) = &self.parts.memory_cache
        {
            memory.insert(req, user.clone(), a.now);
        }
        if let Some(bf) = &self.parts.brute_force
            && !a.success_counted
            && let Err(e) = bf.record_success(req, &user.account, a.now).await
        {
            tracing::warn!(session = %req.session, error = %e, "brute-force success not counted");
        }
    }

    async fn commit_failure(&self, a: &mut Attempt<'_>) {
        let Some(bf) = &self.parts.brute_force else {
            return;
        };
        let account = a.account.as_deref().unwrap_or(&a.req.username);
        let counted = match a.reservation.take() {
            Some(r) => bf.confirm_failure(a.req, r, account, a.now).await,
            None => bf.record_failure(a.req, account, a.now).await,
        };
        match counted {
            // The failure that fills a bucket starts a ban: its actions run now, before the answer.
            Ok(record) => {
                if let Some(ban) = record.banned {
                    self.brute_force_actions(a.req, &ban, false).await;
                }
            }
            // The login fails either way; an uncounted failure only weakens the protection.
            Err(e) => tracing::warn!(session = %a.req.session, error = %e, "brute-force failure not counted"),
        }
    }
}
