use std::time::Duration;

use nauthilus_backends::passwd_file::PasswdFile;
use nauthilus_store::{KeyLayout, MemoryStore, Store};

use super::*;
use crate::outcome::{BackendId, Decision};
use crate::password::Password;
use crate::password_digest::PasswordDigester;
use crate::request::AuthMode;
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
    let mut parts = PipelineParts::new(PasswordVerifier::new(1));
    parts.positive_cache = backends.iter().find_map(|b| match b {
        Backend::Cache(c) => Some(c.clone()),
        _ => None,
    });
    parts.backends = backends;
    parts.memory_cache = memory.then(|| MemoryAuthCache::new(Duration::from_secs(30)));
    Pipeline::new(parts)
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
    let flusher = p.flusher();
    let now = SystemTime::now();
    assert!(p.authenticate(&req("alice", "pw"), now).await.is_ok());
    assert!(p.authenticate(&req("alice", "pw"), now).await.memory_cache_hit);
    let report = flusher.flush_user("alice").await.unwrap();
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
        flusher.flush_user("alice").await.unwrap().removed_keys.len() == 2,
        "the login above cached it again"
    );
    assert!(flusher.flush_user("alice").await.unwrap().removed_keys.is_empty());
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

/// Refuses one account and tags every verdict it sees (a real filter, as a Lua filter would be).
#[derive(Debug)]
struct RefuseAccount {
    account: &'static str,
    seen: std::sync::atomic::AtomicUsize,
}

impl Filter for RefuseAccount {
    fn name(&self) -> &str {
        "refuse-account"
    }

    fn apply<'a>(
        &'a self,
        _req: &'a AuthRequest,
        outcome: &'a mut AuthOutcome,
    ) -> futures::future::BoxFuture<'a, Result<(), FilterError>> {
        Box::pin(async move {
            self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if let Decision::Ok(user) = &outcome.decision
                && user.account == self.account
            {
                outcome.decision = Decision::Fail(FailReason::Filtered);
                outcome.status_message = Some("account locked".into());
            }
            outcome.log_fields.push(("filter".into(), "seen".into()));
            Ok(())
        })
    }
}

#[tokio::test]
async fn filters_see_memory_cache_hits_and_may_flip_the_verdict() {
    let f = fixture("alice:{PLAIN}pw\nbob:{PLAIN}pw\n");
    let filter = Arc::new(RefuseAccount {
        account: "bob",
        seen: Default::default(),
    });
    let mut parts = PipelineParts::new(PasswordVerifier::new(1));
    parts.backends = vec![Backend::PasswdFile(f.file.clone())];
    parts.memory_cache = Some(MemoryAuthCache::new(Duration::from_secs(30)));
    parts.filters = vec![filter.clone()];
    let p = Pipeline::new(parts);
    let now = SystemTime::now();
    assert!(p.authenticate(&req("alice", "pw"), now).await.is_ok());
    let hit = p.authenticate(&req("alice", "pw"), now).await;
    assert!(hit.memory_cache_hit && hit.is_ok());
    assert_eq!(
        filter.seen.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the cache hit was filtered too"
    );
    assert_eq!(hit.log_fields, [("filter".to_owned(), "seen".to_owned())]);

    let refused = p.authenticate(&req("bob", "pw"), now).await;
    assert!(matches!(refused.decision, Decision::Fail(FailReason::Filtered)));
    assert_eq!(refused.status_message.as_deref(), Some("account locked"));
    assert!(
        refused.auth_wait.is_some(),
        "a refused login waits like any failure"
    );
    assert!(
        !p.authenticate(&req("bob", "pw"), now).await.memory_cache_hit,
        "a refused login is not remembered"
    );
}

#[derive(Debug)]
struct Notify(tokio::sync::mpsc::UnboundedSender<(String, bool)>);

impl PostAction for Notify {
    fn name(&self) -> &str {
        "notify"
    }

    fn run(
        &self,
        req: Arc<AuthRequest>,
        outcome: Arc<AuthOutcome>,
    ) -> futures::future::BoxFuture<'static, ()> {
        let tx = self.0.clone();
        Box::pin(async move {
            let _ = tx.send((req.username.clone(), outcome.is_ok()));
        })
    }
}

#[tokio::test]
async fn post_actions_run_after_the_answer() {
    let f = fixture("alice:{PLAIN}pw\n");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut parts = PipelineParts::new(PasswordVerifier::new(1));
    parts.backends = vec![Backend::PasswdFile(f.file.clone())];
    parts.post_actions = vec![Arc::new(Notify(tx))];
    let p = Pipeline::new(parts);
    assert!(
        p.authenticate(&req("alice", "pw"), SystemTime::now())
            .await
            .is_ok()
    );
    assert!(
        !p.authenticate(&req("alice", "x"), SystemTime::now())
            .await
            .is_ok()
    );
    assert_eq!(rx.recv().await, Some(("alice".into(), true)));
    assert_eq!(rx.recv().await, Some(("alice".into(), false)));
}

#[tokio::test(start_paused = true)]
async fn unknown_users_take_as_long_as_known_ones_when_timing_is_on() {
    let f = fixture("alice:{PLAIN}pw\n");
    let mut parts = PipelineParts::new(PasswordVerifier::new(1));
    parts.backends = vec![Backend::PasswdFile(f.file.clone())];
    parts.timing = FailureTiming::on();
    let timing = parts.timing.clone();
    let p = Pipeline::new(parts);
    assert_eq!(timing.mean(), Duration::ZERO);
    // A known user's login teaches the average; paused time makes it exactly zero, so seed one.
    timing.learn_for_test(Duration::from_millis(40));
    let started = tokio::time::Instant::now();
    let o = p.authenticate(&req("nobody", "pw"), SystemTime::now()).await;
    assert!(matches!(o.decision, Decision::Fail(FailReason::UnknownUser)));
    assert!(
        started.elapsed() >= Duration::from_millis(40),
        "held back to the average"
    );

    let off = pipeline(&f, false, false);
    let started = tokio::time::Instant::now();
    let _ = off.authenticate(&req("nobody", "pw"), SystemTime::now()).await;
    assert_eq!(started.elapsed(), Duration::ZERO, "off: answered at once");
}

/// App passwords held in the test: one per account, for one protocol; `mfa` accounts need one.
#[derive(Debug, Default)]
struct TableAppPasswords {
    entries: std::sync::Mutex<Vec<(String, String, String)>>,
    mfa_accounts: Vec<String>,
    broken: bool,
}

impl crate::app_password::AppPasswords for TableAppPasswords {
    fn applies_to(&self, protocol: &str) -> bool {
        protocol == "imap" || protocol == "smtp"
    }

    fn judge<'a>(
        &'a self,
        account: &'a str,
        req: &'a AuthRequest,
        main_password_ok: bool,
        _now: SystemTime,
    ) -> futures::future::BoxFuture<'a, Result<crate::AppPasswordVerdict, String>> {
        use crate::AppPasswordVerdict as V;
        let verdict = if self.broken {
            Err("store down".to_owned())
        } else if main_password_ok {
            Ok(if self.mfa_accounts.iter().any(|a| a == account) {
                V::MainPasswordRefused
            } else {
                V::Unchanged
            })
        } else {
            let entries = self.entries.lock().unwrap();
            let hit = entries.iter().any(|(a, p, proto)| {
                a == account && p.as_bytes() == req.password.expose() && proto == req.protocol.as_str()
            });
            Ok(if hit { V::AppPassword } else { V::Unchanged })
        };
        Box::pin(async move { verdict })
    }
}

fn with_app_passwords(f: &Fixture, table: Arc<TableAppPasswords>) -> Pipeline {
    let p = pipeline(f, true, true);
    let mut parts = (*p.parts).clone();
    parts.app_passwords = Some(table);
    Pipeline::new(parts)
}

fn req_for(user: &str, pw: &str, protocol: &str) -> AuthRequest {
    let mut r = req(user, pw);
    r.protocol = Protocol::new(protocol);
    r
}

#[tokio::test]
async fn an_app_password_opens_its_protocol_only_and_is_never_cached() {
    let f = fixture("alice:{PLAIN}main:::Alice::\n");
    let table = Arc::new(TableAppPasswords::default());
    table
        .entries
        .lock()
        .unwrap()
        .push(("alice".into(), "app-pw".into(), "imap".into()));
    let p = with_app_passwords(&f, table.clone());
    let now = SystemTime::now();
    assert_eq!(
        account(&p.authenticate(&req_for("alice", "app-pw", "imap"), now).await),
        "alice"
    );
    assert!(
        !p.authenticate(&req_for("alice", "app-pw", "smtp"), now)
            .await
            .is_ok()
    );
    // Revoked: the next login fails although caches are on (the success was not cached).
    table.entries.lock().unwrap().clear();
    assert!(
        !p.authenticate(&req_for("alice", "app-pw", "imap"), now)
            .await
            .is_ok()
    );
    // The main password is untouched.
    assert!(
        p.authenticate(&req_for("alice", "main", "imap"), now)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_main_password_of_an_mfa_account_is_refused_and_a_broken_store_is_a_temporary_failure() {
    let f = fixture("alice:{PLAIN}main:::Alice::\n");
    let table = Arc::new(TableAppPasswords {
        mfa_accounts: vec!["alice".into()],
        ..TableAppPasswords::default()
    });
    let p = with_app_passwords(&f, table);
    let now = SystemTime::now();
    assert!(matches!(
        p.authenticate(&req_for("alice", "main", "imap"), now)
            .await
            .decision,
        Decision::Fail(FailReason::WrongPassword)
    ));
    // Protocols outside the step keep the main password.
    assert!(
        p.authenticate(&req_for("alice", "main", "http"), now)
            .await
            .is_ok()
    );
    let broken = Arc::new(TableAppPasswords {
        broken: true,
        ..TableAppPasswords::default()
    });
    let p = with_app_passwords(&f, broken);
    assert!(matches!(
        p.authenticate(&req_for("alice", "other", "imap"), now)
            .await
            .decision,
        Decision::TempFail(_)
    ));
}

/// Every layer of the HTTP stack moves the pipeline's future, so its size is paid in copies on
/// every login: the network backends and the master-user path are boxed to keep it small
/// (9 KiB before, 3.3 KiB after).
#[test]
fn a_login_future_stays_small() {
    let f = fixture("alice:{PLAIN}pw:::Alice::\n");
    let p = pipeline(&f, true, true);
    let r = req("alice", "pw");
    let size = std::mem::size_of_val(&p.authenticate(&r, SystemTime::now()));
    assert!(size <= 4096, "the login future is {size} bytes");
}
