//! The pipeline of one login, as named stages that each either pass the attempt on or end it
//! (`ControlFlow`):
//!
//! ```text
//! client name (PTR) ─► environment (features) ─► brute-force check ─► in-process cache ─► backends (lookup + verify)
//!             ─► filters (may still flip the verdict) ─► commit (caches, brute-force bookkeeping)
//!             ─► post-actions (detached, after the answer)
//! ```
//!
//! Every stage returns `Continue(())` or `Break(outcome)`; a break skips the stages up to
//! filters, which see every verdict a backend or cache produced (so filters also run on
//! in-process cache hits). It knows nothing of HTTP; codecs hand it an `AuthRequest` and the
//! time, and get an `AuthOutcome` back.

mod app_passwords;
mod attempt;
mod backends;
mod brute_force;
mod client_name;
mod commit;
mod environment;
mod filters;
mod log;
mod master_user;
mod memory_cache;
mod post_actions;
mod script_features;
mod timing;

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::SystemTime;

use nauthilus_backends::password::PasswordVerifier;

use crate::auth_wait::auth_wait_secs;
use crate::backend::{Backend, PositiveCache};
use crate::backend_monitor::{BackendMonitor, NoHealthyServer};
use crate::brute_force::BruteForce;
use crate::cache_flush::UserFlusher;
use crate::features::{Dns, Features};
use crate::memory_cache::MemoryAuthCache;
use crate::outcome::{AuthOutcome, FailReason, Upstream};
use crate::request::AuthRequest;
use crate::script::{ScriptActions, ScriptFeatures, ScriptHooks};

pub use attempt::{Attempt, Source};
pub use filters::{Filter, FilterError};
pub use master_user::MasterUser;
pub use post_actions::PostAction;
pub use timing::FailureTiming;

/// Knobs of the failure path.
#[derive(Clone, Copy, Debug)]
pub struct FailurePolicy {
    /// Largest `Auth-Wait` in seconds (`nginx_wait_delay`); 0 sends none.
    pub max_wait: u64,
    /// Failures after which `Auth-Wait` stops growing (`max_login_attempts`).
    pub max_attempts: u64,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        Self {
            max_wait: 10,
            max_attempts: 15,
        }
    }
}

/// What one pipeline is made of, each service named (no stage looks another up).
#[derive(Clone, Debug)]
pub struct PipelineParts {
    /// Password databases, asked in this order.
    pub backends: Vec<Backend>,
    /// The positive cache, when `cache` is one of the backends (the same one as in `backends`).
    pub positive_cache: Option<PositiveCache>,
    /// Verifies stored hashes on the bounded hashing pool (lives across reloads).
    pub verifier: PasswordVerifier,
    /// This process' cache of verified logins.
    pub memory_cache: Option<MemoryAuthCache>,
    /// The built-in pre-auth features (`tls_encryption`, `relay_domains`, `rbl`) enabled.
    pub features: Features,
    /// `server.dns.resolve_client_ip`: the resolver that names clients by their PTR record.
    pub client_names: Option<Dns>,
    /// Brute-force protection, when enabled.
    pub brute_force: Option<BruteForce>,
    /// Health of the nginx upstreams (`backend_server_monitoring`), when enabled.
    pub backend_monitor: Option<BackendMonitor>,
    /// Filters, in order, after the backends.
    pub filters: Vec<Arc<dyn Filter>>,
    /// Post-actions, run detached after the answer.
    pub post_actions: Vec<Arc<dyn PostAction>>,
    /// Script features (`lua.features`), run before the built-in features.
    pub script_features: Option<Arc<dyn ScriptFeatures>>,
    /// Custom hooks (`/api/v1/custom/...`).
    pub hooks: Option<Arc<dyn ScriptHooks>>,
    /// Script actions of the built-in triggers (brute force, rbl, tls_encryption,
    /// relay_domains).
    pub script_actions: Option<Arc<dyn ScriptActions>>,
    pub failure: FailurePolicy,
    /// How long failures for unknown users take (against user enumeration by timing).
    pub timing: FailureTiming,
    /// `server.master_user`, when enabled.
    pub master_user: Option<MasterUser>,
    /// App passwords and the MFA-user rule (`mfa`), when enabled.
    pub app_passwords: Option<Arc<dyn crate::app_password::AppPasswords>>,
}

impl PipelineParts {
    /// Parts with no backends, caches, brute force, filters or post-actions.
    pub fn new(verifier: PasswordVerifier) -> Self {
        Self {
            backends: Vec::new(),
            positive_cache: None,
            verifier,
            memory_cache: None,
            features: Features::default(),
            client_names: None,
            brute_force: None,
            backend_monitor: None,
            filters: Vec::new(),
            post_actions: Vec::new(),
            script_features: None,
            hooks: None,
            script_actions: None,
            failure: FailurePolicy::default(),
            timing: FailureTiming::off(),
            master_user: None,
            app_passwords: None,
        }
    }
}

/// The services one login passes through (per configuration; cheap to clone).
#[derive(Clone, Debug)]
pub struct Pipeline {
    parts: Arc<PipelineParts>,
}

/// Why listing accounts failed.
#[derive(Debug, thiserror::Error)]
#[error("listing accounts failed: {0}")]
pub struct ListAccountsError(String);

impl Pipeline {
    /// A pipeline of `parts`.
    pub fn new(parts: PipelineParts) -> Self {
        Self {
            parts: Arc::new(parts),
        }
    }

    /// The flusher over the same caches and brute-force state this pipeline uses (for the
    /// admin API and for reloads that know a user changed).
    pub fn flusher(&self) -> UserFlusher {
        UserFlusher {
            memory_cache: self.parts.memory_cache.clone(),
            positive_cache: self.parts.positive_cache.clone(),
            brute_force: self.parts.brute_force.clone(),
        }
    }

    /// With `backend_server_monitoring`: the next healthy upstream for `protocol` (round robin),
    /// `Err` when none of its servers is healthy; `None` when no server is monitored for it.
    pub fn monitored_upstream(&self, protocol: &str) -> Option<Result<Upstream, NoHealthyServer>> {
        self.parts.backend_monitor.as_ref()?.upstream(protocol)
    }

    /// The monitored upstreams, if `backend_server_monitoring` is enabled.
    pub fn backend_monitor(&self) -> Option<&BackendMonitor> {
        self.parts.backend_monitor.as_ref()
    }

    /// The configured backends.
    pub fn backends(&self) -> &[Backend] {
        &self.parts.backends
    }

    /// The custom hooks, if any are configured.
    pub fn hooks(&self) -> Option<&Arc<dyn ScriptHooks>> {
        self.parts.hooks.as_ref()
    }

    /// Decides one login (or, in `no-auth` mode, one lookup) at time `now`. With
    /// `server.master_user`, a login `user*master` is decided as the master and answered as
    /// the user (see `master_user`).
    pub async fn authenticate(&self, req: &AuthRequest, now: SystemTime) -> AuthOutcome {
        let named = self.name_client(req).await;
        let req = named.as_ref();
        if let Some((user, master)) = self
            .parts
            .master_user
            .as_ref()
            .and_then(|m| m.split(&req.username))
        {
            // Rare, and its future holds two passes: boxed, it does not size every login's.
            return Box::pin(self.authenticate_master_user(req, user, master, now)).await;
        }
        self.authenticate_one(req, now).await
    }

    /// One pass through the stages for `req` as it is.
    async fn authenticate_one(&self, req: &AuthRequest, now: SystemTime) -> AuthOutcome {
        let started = crate::clock::monotonic();
        let mut attempt = Attempt::new(req, now);
        let outcome = match self.decide(&mut attempt).await {
            ControlFlow::Break(outcome) | ControlFlow::Continue(outcome) => outcome,
        };
        let mut outcome = self.commit(&mut attempt, outcome).await;
        // What scripts asked for along the way (`custom_log_add`, `status_message_set`).
        req.scratch.with(|s| {
            outcome.log_fields.append(&mut s.log_fields);
            outcome.headers.append(&mut s.response_headers);
            if outcome.status_message.is_none() {
                outcome.status_message = s.status_message.take();
            }
        });
        self.parts.timing.equalize(&attempt, &outcome, started).await;
        let elapsed = started.elapsed();
        let metrics = crate::metrics::global();
        if attempt.cache_asked {
            metrics.record_cache(matches!(
                attempt.source,
                Source::MemoryCache | Source::PositiveCache
            ));
        }
        metrics.record_auth(req, &outcome, elapsed);
        log::outcome(req, &outcome, elapsed);
        self.spawn_post_actions(req, &outcome);
        outcome
    }

    /// Environment → brute force → in-process cache → backends → filters. `Break` ends early
    /// with an outcome no filter may change (a ban, a temporary failure, a refused request).
    async fn decide(&self, a: &mut Attempt<'_>) -> ControlFlow<AuthOutcome, AuthOutcome> {
        self.environment(a).await?;
        let memory = self.memory_lookup(a);
        let hit = matches!(memory, memory_cache::MemoryLookup::Hit(_));
        self.check_brute_force(a, !hit).await?;
        let verdict = match self.memory_cache(a, memory) {
            ControlFlow::Break(hit) => hit,
            ControlFlow::Continue(()) => match self.backends_stage(a).await {
                ControlFlow::Break(verdict) => verdict,
                ControlFlow::Continue(()) => self.unknown_user(a),
            },
        };
        if matches!(verdict.decision, crate::outcome::Decision::TempFail(_)) {
            return ControlFlow::Break(verdict);
        }
        ControlFlow::Continue(self.filters(a, verdict).await)
    }

    /// Runs the script actions of `action_type` (a built-in feature refused `req`, or brute
    /// force banned it), before the answer.
    pub(super) async fn trigger_actions(&self, action_type: &str, req: &AuthRequest) {
        if let Some(actions) = self
            .parts
            .script_actions
            .as_ref()
            .filter(|a| a.wants(action_type))
        {
            actions.run(action_type, req).await;
        }
    }

    /// Notes the brute-force ban that refused `req` (its rule, its bucket's counter, whether it
    /// was in force before this login: `repeating`) for the scripts and runs the `brute_force`
    /// actions.
    pub(super) async fn brute_force_actions(&self, req: &AuthRequest, ban: &crate::Ban, repeating: bool) {
        if self.parts.script_actions.is_none() && self.parts.post_actions.is_empty() {
            return;
        }
        let counter = match &self.parts.brute_force {
            Some(bf) => bf.counter(req, ban).await.unwrap_or_else(|e| {
                tracing::warn!(session = %req.session, error = %e, "brute-force counter not read");
                0
            }),
            None => 0,
        };
        req.scratch.with(|s| {
            s.brute_force_bucket.clone_from(&ban.rule);
            s.brute_force_counter = counter;
            s.repeating = repeating;
        });
        self.trigger_actions("brute_force", req).await;
    }

    /// A failure outcome with the `Auth-Wait` the failure policy asks for.
    fn fail(&self, req: &AuthRequest, reason: FailReason) -> AuthOutcome {
        let failure = &self.parts.failure;
        let wait = auth_wait_secs(
            u64::from(req.login_attempt.max(1)),
            failure.max_wait,
            failure.max_attempts,
        );
        AuthOutcome::fail(reason, (failure.max_wait > 0).then_some(wait))
    }

    /// Every account of every backend that can list them, without duplicates, in backend order.
    pub async fn list_accounts(&self) -> Result<Vec<String>, ListAccountsError> {
        let mut seen = std::collections::HashSet::new();
        let mut accounts = Vec::new();
        for backend in self.parts.backends.iter().filter(|b| b.supports_list_accounts()) {
            let list = backend
                .list_accounts()
                .await
                .map_err(|e| ListAccountsError(e.to_string()))?;
            accounts.extend(list.into_iter().filter(|a| seen.insert(a.clone())));
        }
        Ok(accounts)
    }
}

#[cfg(test)]
mod tests;
