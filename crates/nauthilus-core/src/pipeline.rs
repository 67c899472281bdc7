//! The pipeline of one login: brute-force check → in-process cache → backends in configured order
//! → outcome, then the failure or success is recorded for brute force. It knows nothing of HTTP;
//! codecs hand it an `AuthRequest` and the time, and get an `AuthOutcome` back.
//! (Features, filters and post-actions join here as later stages.)

use std::sync::Arc;
use std::time::SystemTime;

use nauthilus_backends::password::PasswordVerifier;

use crate::auth_wait::auth_wait_secs;
use crate::backend::{Backend, PassDbResult, PositiveCache};
use crate::brute_force::{Admission, BruteForce, Reservation};
use crate::memory_cache::MemoryAuthCache;
use crate::outcome::{AuthOutcome, Decision, FailReason, UserData};
use crate::request::{AuthMode, AuthRequest};

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

/// The services one login passes through.
#[derive(Clone, Debug)]
pub struct Pipeline {
    backends: Vec<Backend>,
    verifier: PasswordVerifier,
    memory_cache: Option<MemoryAuthCache>,
    failure: FailurePolicy,
    brute_force: Option<BruteForce>,
}

/// Why listing accounts failed.
#[derive(Debug, thiserror::Error)]
#[error("listing accounts failed: {0}")]
pub struct ListAccountsError(String);

impl Pipeline {
    /// A pipeline over `backends` (in the order they are asked).
    pub fn new(
        backends: Vec<Backend>,
        verifier: PasswordVerifier,
        memory_cache: Option<MemoryAuthCache>,
        failure: FailurePolicy,
    ) -> Self {
        Self {
            backends,
            verifier,
            memory_cache,
            failure,
            brute_force: None,
        }
    }

    /// The same pipeline with brute-force protection.
    pub fn with_brute_force(mut self, brute_force: BruteForce) -> Self {
        self.brute_force = Some(brute_force);
        self
    }

    /// Brute-force protection, if enabled.
    pub fn brute_force(&self) -> Option<&BruteForce> {
        self.brute_force.as_ref()
    }

    /// The configured backends.
    pub fn backends(&self) -> &[Backend] {
        &self.backends
    }

    /// The positive cache, if `cache` is one of the backends.
    pub fn positive_cache(&self) -> Option<&PositiveCache> {
        self.backends.iter().find_map(|b| match b {
            Backend::Cache(c) => Some(c),
            _ => None,
        })
    }

    /// The in-process cache, if enabled.
    pub fn memory_cache(&self) -> Option<&MemoryAuthCache> {
        self.memory_cache.as_ref()
    }

    /// Decides one login (or, in `no-auth` mode, one lookup) at time `now`.
    pub async fn authenticate(&self, req: &AuthRequest, now: SystemTime) -> AuthOutcome {
        let outcome = self.decide(req, now).await;
        log_outcome(req, &outcome);
        outcome
    }

    async fn decide(&self, req: &AuthRequest, now: SystemTime) -> AuthOutcome {
        let authenticating = req.mode == AuthMode::Authenticate;
        if authenticating && req.password.is_empty() {
            // Codecs reject this as malformed; never let an empty password reach a backend.
            return self.fail(req, FailReason::WrongPassword);
        }
        // Lookups (no-auth) guess no password, so brute force only guards authentication.
        let brute_force = self.brute_force.as_ref().filter(|_| authenticating);
        if let Some(bf) = brute_force {
            match bf.check(req).await {
                Ok(None) => {}
                Ok(Some(ban)) => {
                    tracing::warn!(session = %req.session, rule = %ban.rule, scope = %ban.scope, "brute force: login refused, network banned");
                    return self.fail(req, FailReason::BruteForce);
                }
                Err(e) => return self.brute_force_unavailable(req, &e),
            }
        }
        let memory = self
            .memory_cache
            .as_ref()
            .filter(|_| authenticating && req.cache_policy.use_memory_cache);
        if let Some(user) = memory.and_then(|m| m.get(req, now)) {
            self.succeeded(req, &user.account, now).await;
            return AuthOutcome {
                decision: Decision::Ok(user),
                memory_cache_hit: true,
                auth_wait: None,
            };
        }

        let mut cache_before: Option<&PositiveCache> = None;
        // Attempts reaching a real verification are counted before it runs (brute_force docs).
        let mut reservation: Option<Reservation> = None;
        for backend in &self.backends {
            if let Backend::Cache(cache) = backend {
                if !req.cache_policy.use_positive_cache {
                    continue;
                }
                cache_before = Some(cache);
            } else if let Some(bf) = brute_force
                && reservation.is_none()
            {
                match bf.reserve(req).await {
                    Ok(Admission::Admitted(r)) => reservation = Some(r),
                    Ok(Admission::Refused(_)) => return self.fail(req, FailReason::BruteForce),
                    Err(e) => return self.brute_force_unavailable(req, &e),
                }
            }
            match backend.verify(req, &self.verifier).await {
                Ok(PassDbResult::UserNotFound) => {}
                Ok(PassDbResult::Found {
                    user,
                    password_ok: true,
                }) => {
                    if let Some(bf) = brute_force {
                        match reservation.take() {
                            Some(r) => match bf.confirm_success(req, r, &user.account, now).await {
                                Ok(None) => {}
                                Ok(Some(_)) => return self.fail(req, FailReason::BruteForce),
                                Err(e) => return self.brute_force_unavailable(req, &e),
                            },
                            None => self.succeeded(req, &user.account, now).await,
                        }
                    }
                    // Remember a login another backend verified, if a cache is listed before it.
                    let verified_elsewhere = authenticating && !matches!(backend, Backend::Cache(_));
                    if let Some(cache) = cache_before.filter(|_| verified_elsewhere) {
                        self.remember(cache, req, &user).await;
                    }
                    if let Some(m) = memory {
                        m.insert(req, user.clone(), now);
                    }
                    return AuthOutcome {
                        decision: Decision::Ok(user),
                        memory_cache_hit: false,
                        auth_wait: None,
                    };
                }
                // A stale cache entry (the password changed) must not block the login: ask on.
                Ok(PassDbResult::Found {
                    password_ok: false, ..
                }) if matches!(backend, Backend::Cache(_)) => {}
                Ok(PassDbResult::Found {
                    user,
                    password_ok: false,
                }) => {
                    return self
                        .failed(req, FailReason::WrongPassword, &user.account, now, reservation)
                        .await;
                }
                Err(e) => {
                    // The failed backend might have known the user (and said no): asking the next
                    // one could change the decision, so fail closed, temporarily.
                    tracing::warn!(session = %req.session, backend = backend.id().name(), error = %e, "backend failed");
                    if let (Some(bf), Some(r)) = (brute_force, reservation)
                        && let Err(e) = bf.release(r).await
                    {
                        tracing::warn!(session = %req.session, error = %e, "brute-force reservation not released");
                    }
                    return AuthOutcome {
                        decision: Decision::TempFail(format!("{} backend failed", backend.id().name())),
                        memory_cache_hit: false,
                        auth_wait: None,
                    };
                }
            }
        }
        if authenticating {
            return self
                .failed(req, FailReason::UnknownUser, &req.username, now, reservation)
                .await;
        }
        self.fail(req, FailReason::UnknownUser)
    }

    /// Without the brute-force state a login cannot be judged safely: fail closed, temporarily.
    fn brute_force_unavailable(&self, req: &AuthRequest, e: &nauthilus_store::StoreError) -> AuthOutcome {
        tracing::warn!(session = %req.session, error = %e, "brute-force state unavailable");
        AuthOutcome {
            decision: Decision::TempFail("brute-force state unavailable".into()),
            memory_cache_hit: false,
            auth_wait: None,
        }
    }

    /// A failed authentication: counted for brute force (settling its reservation, if any),
    /// then answered.
    async fn failed(
        &self,
        req: &AuthRequest,
        reason: FailReason,
        account: &str,
        now: SystemTime,
        reservation: Option<Reservation>,
    ) -> AuthOutcome {
        let counted = match (&self.brute_force, reservation) {
            (Some(bf), Some(r)) => bf.confirm_failure(req, r, account, now).await.map(drop),
            (Some(bf), None) => bf.record_failure(req, account, now).await.map(drop),
            (None, _) => Ok(()),
        };
        if let Err(e) = counted {
            // The login fails either way; an uncounted failure only weakens the protection.
            tracing::warn!(session = %req.session, error = %e, "brute-force failure not counted");
        }
        self.fail(req, reason)
    }

    /// A successful authentication that reserved nothing: counted for tolerations.
    async fn succeeded(&self, req: &AuthRequest, account: &str, now: SystemTime) {
        if let Some(bf) = &self.brute_force
            && let Err(e) = bf.record_success(req, account, now).await
        {
            tracing::warn!(session = %req.session, error = %e, "brute-force success not counted");
        }
    }

    async fn remember(&self, cache: &PositiveCache, req: &AuthRequest, user: &Arc<UserData>) {
        if let Err(e) = cache.remember(req, user).await {
            // The login itself was verified; a cache that cannot be written only costs speed.
            tracing::warn!(session = %req.session, error = %e, "positive cache not written");
        }
    }

    fn fail(&self, req: &AuthRequest, reason: FailReason) -> AuthOutcome {
        let failures = u64::from(req.login_attempt.max(1));
        let wait = auth_wait_secs(failures, self.failure.max_wait, self.failure.max_attempts);
        AuthOutcome {
            decision: Decision::Fail(reason),
            memory_cache_hit: false,
            auth_wait: (self.failure.max_wait > 0).then_some(wait),
        }
    }

    /// Every account of every backend that can list them, without duplicates, in backend order.
    pub async fn list_accounts(&self) -> Result<Vec<String>, ListAccountsError> {
        let mut seen = std::collections::HashSet::new();
        let mut accounts = Vec::new();
        for backend in self.backends.iter().filter(|b| b.supports_list_accounts()) {
            let list = backend
                .list_accounts()
                .await
                .map_err(|e| ListAccountsError(e.to_string()))?;
            accounts.extend(list.into_iter().filter(|a| seen.insert(a.clone())));
        }
        Ok(accounts)
    }
}

fn log_outcome(req: &AuthRequest, outcome: &AuthOutcome) {
    let (result, backend, account, reason) = match &outcome.decision {
        Decision::Ok(user) => ("ok", user.backend.name(), user.account.as_str(), ""),
        Decision::Fail(FailReason::WrongPassword) => ("fail", "", "", "wrong password"),
        Decision::Fail(FailReason::UnknownUser) => ("fail", "", "", "unknown user"),
        Decision::Fail(FailReason::BruteForce) => ("fail", "", "", "brute force: network banned"),
        Decision::TempFail(why) => ("tempfail", "", "", why.as_str()),
    };
    tracing::info!(
        target: "nauthilus::auth",
        session = %req.session,
        service = req.service.as_str(),
        mode = if req.mode == AuthMode::NoAuth { "no-auth" } else { "auth" },
        protocol = %req.protocol,
        username = %req.username,
        account,
        client_ip = %req.client.ip,
        client_port = %req.client.port,
        local_ip = %req.local.ip,
        local_port = %req.local.port,
        tls = req.tls.is_tls(),
        backend,
        memory_cache = outcome.memory_cache_hit,
        result,
        reason,
        "authentication {result}"
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use nauthilus_backends::passwd_file::PasswdFile;
    use nauthilus_store::{KeyLayout, MemoryStore, Store};

    use super::*;
    use crate::outcome::BackendId;
    use crate::password::Password;
    use crate::password_digest::PasswordDigester;
    use crate::request::{Protocol, Service};
    use crate::session::SessionId;

    struct Fixture {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        file: Arc<PasswdFile>,
        store: Store,
    }

    fn fixture(users: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, users).unwrap();
        let file = Arc::new(PasswdFile::open(&path).unwrap());
        let store = Store::memory(MemoryStore::default(), KeyLayout::new("nauthilus:"));
        Fixture {
            _dir: dir,
            path,
            file,
            store,
        }
    }

    fn pipeline(f: &Fixture, with_cache: bool, memory: bool) -> Pipeline {
        let mut backends = Vec::new();
        if with_cache {
            let cache = PositiveCache::new(
                f.store.clone(),
                PasswordDigester::new("0123456789abcdef"),
                Duration::from_secs(3600),
            );
            backends.push(Backend::Cache(cache));
        }
        backends.push(Backend::PasswdFile(f.file.clone()));
        let memory = memory.then(|| MemoryAuthCache::new(Duration::from_secs(30)));
        Pipeline::new(
            backends,
            PasswordVerifier::new(1),
            memory,
            FailurePolicy::default(),
        )
    }

    fn req(user: &str, pw: &str) -> AuthRequest {
        let mut r = AuthRequest::new(
            SessionId::new(SystemTime::now()),
            Service::Json,
            user.into(),
            Password::from(pw),
        );
        r.protocol = Protocol::new("imap");
        r
    }

    fn replace_users(f: &Fixture, users: &str) {
        let tmp = f.path.with_extension("new");
        std::fs::write(&tmp, users).unwrap();
        std::fs::rename(&tmp, &f.path).unwrap();
        assert!(f.file.reload_if_changed().unwrap());
    }

    fn account(o: &AuthOutcome) -> &str {
        match &o.decision {
            Decision::Ok(u) => &u.account,
            other => panic!("expected Ok, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn right_wrong_and_unknown() {
        let f = fixture("alice:{PLAIN}pw:::Alice::\n");
        let p = pipeline(&f, false, false);
        let now = SystemTime::now();
        let ok = p.authenticate(&req("alice", "pw"), now).await;
        assert_eq!(account(&ok), "alice");
        assert!(matches!(
            p.authenticate(&req("alice", "nope"), now).await.decision,
            Decision::Fail(FailReason::WrongPassword)
        ));
        assert!(matches!(
            p.authenticate(&req("bob", "pw"), now).await.decision,
            Decision::Fail(FailReason::UnknownUser)
        ));
    }

    #[tokio::test]
    async fn an_empty_password_never_authenticates() {
        let f = fixture("alice:{PLAIN}pw\n");
        let p = pipeline(&f, false, false);
        assert!(matches!(
            p.authenticate(&req("alice", ""), SystemTime::now())
                .await
                .decision,
            Decision::Fail(_)
        ));
    }

    #[tokio::test]
    async fn no_auth_finds_the_user_without_a_password() {
        let f = fixture("alice:{PLAIN}pw\n");
        let p = pipeline(&f, true, true);
        let mut r = req("alice", "");
        r.mode = AuthMode::NoAuth;
        let o = p.authenticate(&r, SystemTime::now()).await;
        assert_eq!(account(&o), "alice");
        assert!(
            f.store
                .hash_get_all("nauthilus:ucp:__default__:alice")
                .await
                .unwrap()
                .is_empty(),
            "no-auth writes no cache"
        );
    }

    #[tokio::test]
    async fn a_verified_login_is_cached_and_answered_from_the_cache() {
        let f = fixture("alice:{PLAIN}pw\n");
        let p = pipeline(&f, true, false);
        let now = SystemTime::now();
        assert_eq!(account(&p.authenticate(&req("alice", "pw"), now).await), "alice");
        let entry = f
            .store
            .hash_get_all("nauthilus:ucp:__default__:alice")
            .await
            .unwrap();
        assert_eq!(entry["backend"], "5");
        assert_eq!(
            entry["password"],
            PasswordDigester::new("0123456789abcdef").digest(b"pw")
        );
        assert!(
            !entry.values().any(|v| v == "pw"),
            "the password itself is never stored"
        );

        replace_users(&f, "other:{PLAIN}x\n");
        let cached = p.authenticate(&req("alice", "pw"), now).await;
        assert_eq!(
            account(&cached),
            "alice",
            "answered from the cache after the user left the file"
        );
        let Decision::Ok(user) = cached.decision else {
            unreachable!()
        };
        assert_eq!(
            user.backend,
            BackendId::PasswdFile,
            "reports the backend that filled the cache"
        );
    }

    #[tokio::test]
    async fn a_different_password_falls_through_to_the_backend() {
        let f = fixture("alice:{PLAIN}old\n");
        let p = pipeline(&f, true, false);
        let now = SystemTime::now();
        assert!(p.authenticate(&req("alice", "old"), now).await.is_ok());
        replace_users(&f, "alice:{PLAIN}new\n");
        assert!(
            p.authenticate(&req("alice", "new"), now).await.is_ok(),
            "a changed password works at once"
        );
        let entry = f
            .store
            .hash_get_all("nauthilus:ucp:__default__:alice")
            .await
            .unwrap();
        assert_eq!(
            entry["password"],
            PasswordDigester::new("0123456789abcdef").digest(b"new"),
            "cache now holds the new password"
        );
        assert!(matches!(
            p.authenticate(&req("alice", "old"), now).await.decision,
            Decision::Fail(FailReason::WrongPassword)
        ));
    }

    #[tokio::test]
    async fn cache_0_neither_reads_nor_writes_the_positive_cache() {
        let f = fixture("alice:{PLAIN}pw\n");
        let p = pipeline(&f, true, false);
        let mut r = req("alice", "pw");
        r.cache_policy.use_positive_cache = false;
        assert!(p.authenticate(&r, SystemTime::now()).await.is_ok());
        assert!(!f.store.exists("nauthilus:ucp:__default__:alice").await.unwrap());
    }

    #[tokio::test]
    async fn the_memory_cache_answers_repeats_unless_told_not_to() {
        let f = fixture("alice:{PLAIN}pw\n");
        let p = pipeline(&f, false, true);
        let now = SystemTime::now();
        assert!(!p.authenticate(&req("alice", "pw"), now).await.memory_cache_hit);
        assert!(p.authenticate(&req("alice", "pw"), now).await.memory_cache_hit);
        let mut r = req("alice", "pw");
        r.cache_policy.use_memory_cache = false;
        assert!(!p.authenticate(&r, now).await.memory_cache_hit);
        assert!(
            !p.authenticate(&req("alice", "pw"), now + Duration::from_secs(31))
                .await
                .memory_cache_hit,
            "expired"
        );
    }

    #[tokio::test]
    async fn failures_carry_a_growing_auth_wait() {
        let f = fixture("alice:{PLAIN}pw\n");
        let p = pipeline(&f, false, false);
        let mut r = req("alice", "bad");
        r.login_attempt = 15;
        assert_eq!(p.authenticate(&r, SystemTime::now()).await.auth_wait, Some(4));
        r.login_attempt = 1;
        assert_eq!(p.authenticate(&r, SystemTime::now()).await.auth_wait, Some(0));
    }

    #[tokio::test]
    async fn flushing_a_user_removes_cache_entry_and_mapping() {
        let f = fixture("alice:{PLAIN}pw\n");
        let p = pipeline(&f, true, true);
        let now = SystemTime::now();
        assert!(p.authenticate(&req("alice", "pw"), now).await.is_ok());
        assert!(p.authenticate(&req("alice", "pw"), now).await.memory_cache_hit);
        let report = p.flush_user("alice").await.unwrap();
        assert_eq!(
            report.removed_keys,
            ["nauthilus:ucp:__default__:alice", "nauthilus:user:{47}"]
        );
        assert!(!f.store.exists("nauthilus:ucp:__default__:alice").await.unwrap());
        assert!(
            !p.authenticate(&req("alice", "pw"), now).await.memory_cache_hit,
            "in-process entry gone too"
        );
        assert!(
            p.flush_user("alice").await.unwrap().removed_keys.len() == 2,
            "the login above cached it again"
        );
        assert!(p.flush_user("alice").await.unwrap().removed_keys.is_empty());
    }

    #[tokio::test]
    async fn made_up_protocols_and_client_ids_do_not_grow_the_account_mapping() {
        let f = fixture("alice:{PLAIN}pw\n");
        let p = pipeline(&f, true, false);
        let now = SystemTime::now();
        for i in 0..20 {
            let mut r = req("alice", "pw");
            r.protocol = Protocol::new(&format!("made-up-{i}"));
            r.oidc_cid = format!("client-{i}");
            assert!(p.authenticate(&r, now).await.is_ok());
        }
        assert!(p.authenticate(&req("alice", "pw"), now).await.is_ok());
        let mut fields: Vec<String> = f
            .store
            .hash_fields_with_prefix("nauthilus:user:{47}", "alice|")
            .await
            .unwrap()
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        fields.sort();
        assert_eq!(fields, ["alice|default|", "alice|imap|"]);
    }

    #[tokio::test]
    async fn list_accounts_comes_from_listing_backends() {
        let f = fixture("b:{PLAIN}x\na:{PLAIN}y\n");
        let p = pipeline(&f, true, false);
        assert_eq!(p.list_accounts().await.unwrap(), ["b", "a"]);
    }
}
