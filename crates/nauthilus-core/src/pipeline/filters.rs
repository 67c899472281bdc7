//! Stage 5: filters see every verdict a cache or backend produced — in-process cache hits
//! included — and may still change it: refuse a login whose password was right, add or remove
//! attributes, pick the upstream, set a status message or log fields. A filter that fails makes
//! the login a temporary failure, never an OK.

use futures::future::BoxFuture;

use super::{Attempt, Pipeline};
use crate::outcome::{AuthOutcome, Decision};
use crate::request::AuthRequest;

/// Why a filter could not run; the login becomes a temporary failure.
#[derive(Debug, thiserror::Error)]
#[error("filter {filter}: {message}")]
pub struct FilterError {
    pub filter: String,
    pub message: String,
}

/// One filter (Lua filters implement this).
pub trait Filter: Send + Sync + std::fmt::Debug {
    /// The name used in logs.
    fn name(&self) -> &str;

    /// Looks at `outcome` for `req` and changes it if the filter says so.
    fn apply<'a>(
        &'a self,
        req: &'a AuthRequest,
        outcome: &'a mut AuthOutcome,
    ) -> BoxFuture<'a, Result<(), FilterError>>;
}

impl Pipeline {
    pub(super) async fn filters(&self, a: &Attempt<'_>, mut outcome: AuthOutcome) -> AuthOutcome {
        for filter in &self.parts.filters {
            if let Err(e) = filter.apply(a.req, &mut outcome).await {
                tracing::warn!(session = %a.req.session, filter = filter.name(), error = %e, "filter failed");
                return AuthOutcome::temp_fail(e.to_string());
            }
        }
        // A login a filter refused carries the same Auth-Wait as any other failure.
        if let Decision::Fail(reason) = outcome.decision
            && outcome.auth_wait.is_none()
        {
            outcome.auth_wait = self.fail(a.req, reason).auth_wait;
        }
        outcome
    }
}
