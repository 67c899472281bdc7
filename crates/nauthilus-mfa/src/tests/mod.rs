#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The service over a real SQLite credential store and the in-process state store (the LDAP
//! store runs the same conformance checks against a real slapd, in `store_conformance`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nauthilus_config::Config;
use nauthilus_core::{AppPasswordVerdict, AuthRequest, Password, Protocol, Service, SessionId};
use nauthilus_store::{KeyLayout, MemoryStore, Store};

use crate::{CodeVerdict, Kind, Mfa, RECOVERY_CODES, SqlCredentials, TotpEnrolment, TotpParams, totp};

mod store_conformance;
mod webauthn_soft;

/// A test bed: a config, a SQLite file and a key file in a temporary directory.
pub(crate) struct Bed {
    pub _dir: tempfile::TempDir,
    pub config: Config,
    pub state: Store,
}

pub(crate) fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

impl Bed {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.mfa.enabled = true;
        config.mfa.sql.url = format!("sqlite://{}", dir.path().join("mfa.db").display());
        config.mfa.encryption_key_file = dir.path().join("mfa.key").display().to_string();
        config.mfa.totp.brute_force.failed_requests = 5;
        config.mfa.webauthn.rp_id = "localhost".into();
        config.mfa.webauthn.rp_origin = "https://localhost:8443".into();
        Self {
            _dir: dir,
            config,
            state: Self::fresh_state(),
        }
    }

    pub fn fresh_state() -> Store {
        Store::memory(MemoryStore::default(), KeyLayout::new("nauthilus:"))
    }

    /// A service as a (re)started server builds it.
    pub fn mfa(&self) -> Mfa {
        let credentials = Arc::new(SqlCredentials::open(&self.config.mfa.sql).unwrap());
        Mfa::new(&self.config, credentials, self.state.clone()).unwrap()
    }
}

fn secret_of(enrolment: &TotpEnrolment) -> Vec<u8> {
    data_encoding::BASE32_NOPAD
        .decode(enrolment.secret_base32.as_bytes())
        .unwrap()
}

fn params() -> TotpParams {
    TotpParams {
        digits: 6,
        step: 30,
        skew: 1,
    }
}

const T0: u64 = 1_800_000_000;

async fn enrolled(mfa: &Mfa, account: &str) -> Vec<u8> {
    let enrolment = mfa.begin_totp_enrolment(account).await.unwrap();
    let secret = secret_of(&enrolment);
    let code = totp::code_at(&secret, params(), T0).unwrap();
    let verdict = mfa
        .confirm_totp_enrolment(account, &code, "192.0.2.1", at(T0))
        .await
        .unwrap();
    assert_eq!(verdict, CodeVerdict::Accepted);
    secret
}

#[tokio::test]
async fn totp_enrolment_gives_uri_and_svg_and_waits_for_a_first_code() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let enrolment = mfa.begin_totp_enrolment("alice").await.unwrap();
    assert!(
        enrolment
            .uri
            .starts_with("otpauth://totp/Nauthilus%3Aalice?secret=")
    );
    assert!(enrolment.uri.contains(enrolment.secret_base32.as_str()));
    assert!(enrolment.qr_svg.contains("<svg"));
    assert!(!mfa.has_totp("alice").await.unwrap(), "not before the first code");
    let secret = secret_of(&enrolment);
    let wrong = mfa
        .confirm_totp_enrolment("alice", "000000", "192.0.2.1", at(T0))
        .await
        .unwrap();
    let right = totp::code_at(&secret, params(), T0).unwrap();
    assert!(wrong == CodeVerdict::Refused || right == "000000");
    assert!(!mfa.has_totp("alice").await.unwrap());
    let ok = mfa
        .confirm_totp_enrolment("alice", &right, "192.0.2.1", at(T0))
        .await
        .unwrap();
    assert_eq!(ok, CodeVerdict::Accepted);
    assert!(mfa.has_totp("alice").await.unwrap());
    assert!(mfa.has_second_factor("alice").await.unwrap());
}

#[tokio::test]
async fn totp_codes_match_oathtool() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let enrolment = mfa.begin_totp_enrolment("carol").await.unwrap();
    let oath = |t: u64| {
        let out = std::process::Command::new("oathtool")
            .args([
                "--totp",
                "-b",
                enrolment.secret_base32.as_str(),
                "-N",
                &format!("@{t}"),
            ])
            .output()
            .expect("oathtool (scripts/test installs it)");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let first = oath(T0);
    assert_eq!(
        mfa.confirm_totp_enrolment("carol", &first, "192.0.2.1", at(T0))
            .await
            .unwrap(),
        CodeVerdict::Accepted
    );
    let later = oath(T0 + 300);
    assert_eq!(
        mfa.verify_totp("carol", &later, "192.0.2.1", at(T0 + 300))
            .await
            .unwrap(),
        CodeVerdict::Accepted
    );
}

#[tokio::test]
async fn a_totp_code_works_once_and_older_steps_after_it_not_at_all() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let secret = enrolled(&mfa, "alice").await;
    let t = T0 + 600;
    let previous = totp::code_at(&secret, params(), t - 30).unwrap();
    let current = totp::code_at(&secret, params(), t).unwrap();
    let ip = "192.0.2.1";
    assert_eq!(
        mfa.verify_totp("alice", &current, ip, at(t)).await.unwrap(),
        CodeVerdict::Accepted
    );
    assert_eq!(
        mfa.verify_totp("alice", &current, ip, at(t)).await.unwrap(),
        CodeVerdict::Refused
    );
    // Within the skew window, but older than the step just used.
    assert_eq!(
        mfa.verify_totp("alice", &previous, ip, at(t)).await.unwrap(),
        CodeVerdict::Refused
    );
}

#[tokio::test]
async fn totp_accepts_one_step_of_skew_each_way_and_no_more() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let secret = enrolled(&mfa, "alice").await;
    let ip = "192.0.2.1";
    let t = T0 + 900;
    let late = totp::code_at(&secret, params(), t - 30).unwrap();
    assert_eq!(
        mfa.verify_totp("alice", &late, ip, at(t)).await.unwrap(),
        CodeVerdict::Accepted
    );
    let t = T0 + 1800;
    let early = totp::code_at(&secret, params(), t + 30).unwrap();
    assert_eq!(
        mfa.verify_totp("alice", &early, ip, at(t)).await.unwrap(),
        CodeVerdict::Accepted
    );
    let t = T0 + 3600;
    let stale = totp::code_at(&secret, params(), t - 60).unwrap();
    let current = totp::code_at(&secret, params(), t).unwrap();
    if stale != current {
        assert_eq!(
            mfa.verify_totp("alice", &stale, ip, at(t)).await.unwrap(),
            CodeVerdict::Refused
        );
    }
}

#[tokio::test]
async fn wrong_totp_codes_ban_the_client_and_account_per_their_own_rule() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let secret = enrolled(&mfa, "alice").await;
    let t = T0 + 6000;
    let right = totp::code_at(&secret, params(), t).unwrap();
    let wrong: Vec<String> = (0..6)
        .map(|i| format!("{:06}", (right.parse::<u32>().unwrap() + 1 + i) % 1_000_000))
        .collect();
    for code in &wrong[..5] {
        assert_eq!(
            mfa.verify_totp("alice", code, "192.0.2.7", at(t)).await.unwrap(),
            CodeVerdict::Refused
        );
    }
    // The right code is not even checked now, from that client or (per account) from another.
    assert_eq!(
        mfa.verify_totp("alice", &right, "192.0.2.7", at(t))
            .await
            .unwrap(),
        CodeVerdict::Banned
    );
    assert_eq!(
        mfa.verify_totp("alice", &right, "198.51.100.9", at(t))
            .await
            .unwrap(),
        CodeVerdict::Banned
    );
}

#[tokio::test]
async fn enrolments_survive_a_restart_and_a_state_store_flush() {
    let mut bed = Bed::new();
    let (secret, codes, password) = {
        let mfa = bed.mfa();
        let secret = enrolled(&mfa, "alice").await;
        let codes = mfa.regenerate_recovery_codes("alice", at(T0)).await.unwrap();
        let (_, password) = mfa
            .create_app_password("alice", &["imap"], "phone", at(T0))
            .await
            .unwrap();
        (secret, codes, password)
    };
    // A new process over the same database and key file, with an empty Redis.
    bed.state = Bed::fresh_state();
    let mfa = bed.mfa();
    let t = T0 + 12_000;
    let code = totp::code_at(&secret, params(), t).unwrap();
    assert_eq!(
        mfa.verify_totp("alice", &code, "192.0.2.1", at(t)).await.unwrap(),
        CodeVerdict::Accepted
    );
    assert_eq!(mfa.recovery_codes_left("alice").await.unwrap(), 10);
    assert_eq!(
        mfa.redeem_recovery_code("alice", &codes[3], "192.0.2.1", at(t))
            .await
            .unwrap(),
        CodeVerdict::Accepted
    );
    let req = mail_request("alice", &password, "imap");
    assert_eq!(
        mfa.judge_mail_login("alice", &req, false, at(t)).await.unwrap(),
        AppPasswordVerdict::AppPassword
    );
}

#[tokio::test]
async fn a_totp_secret_is_stored_encrypted() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let enrolment = mfa.begin_totp_enrolment("alice").await.unwrap();
    let secret = secret_of(&enrolment);
    let code = totp::code_at(&secret, params(), T0).unwrap();
    mfa.confirm_totp_enrolment("alice", &code, "192.0.2.1", at(T0))
        .await
        .unwrap();
    let records = mfa.credentials().list("alice", Kind::Totp).await.unwrap();
    assert_eq!(records.len(), 1);
    assert!(!records[0].data.contains(enrolment.secret_base32.as_str()));
    // Another key cannot read it.
    let mut other = Bed::new();
    other.config.mfa.sql.url = bed.config.mfa.sql.url.clone();
    let foreign = other.mfa();
    assert!(
        foreign
            .verify_totp("alice", &code, "192.0.2.1", at(T0 + 30))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let codes = mfa.regenerate_recovery_codes("alice", at(T0)).await.unwrap();
    assert_eq!(codes.len(), RECOVERY_CODES);
    let stored = mfa.credentials().list("alice", Kind::RecoveryCode).await.unwrap();
    assert!(
        stored
            .iter()
            .all(|r| !codes.iter().any(|c| r.data.contains(c.as_str())))
    );
    let ip = "192.0.2.1";
    let code = codes[0].to_uppercase();
    assert_eq!(
        mfa.redeem_recovery_code("alice", &code, ip, at(T0))
            .await
            .unwrap(),
        CodeVerdict::Accepted
    );
    assert_eq!(
        mfa.redeem_recovery_code("alice", &code, ip, at(T0))
            .await
            .unwrap(),
        CodeVerdict::Refused
    );
    assert_eq!(mfa.recovery_codes_left("alice").await.unwrap(), 9);
    assert_eq!(
        mfa.redeem_recovery_code("alice", "aaaaa-bbbbb", ip, at(T0))
            .await
            .unwrap(),
        CodeVerdict::Refused
    );
}

#[tokio::test]
async fn regenerating_recovery_codes_voids_the_old_ones() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let old = mfa.regenerate_recovery_codes("alice", at(T0)).await.unwrap();
    let new = mfa.regenerate_recovery_codes("alice", at(T0 + 1)).await.unwrap();
    let ip = "192.0.2.1";
    assert_eq!(
        mfa.redeem_recovery_code("alice", &old[0], ip, at(T0))
            .await
            .unwrap(),
        CodeVerdict::Refused
    );
    assert_eq!(
        mfa.redeem_recovery_code("alice", &new[0], ip, at(T0))
            .await
            .unwrap(),
        CodeVerdict::Accepted
    );
    assert_eq!(mfa.recovery_codes_left("alice").await.unwrap(), 9);
}

pub(crate) fn mail_request(user: &str, password: &str, protocol: &str) -> AuthRequest {
    let mut req = AuthRequest::new(
        SessionId::new(at(T0)),
        Service::Json,
        user.to_owned(),
        Password::new(password.as_bytes().to_vec()),
    );
    req.protocol = Protocol::new(protocol);
    req.client.ip = "192.0.2.44".into();
    req
}

#[tokio::test]
async fn an_app_password_works_for_its_protocols_only_until_revoked() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let changed = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = changed.clone();
    mfa.on_change(Arc::new(move |a: &str| -> crate::ChangeFuture {
        seen.lock().unwrap().push(a.to_owned());
        Box::pin(async {})
    }));
    let (info, password) = mfa
        .create_app_password("alice", &["IMAP", "sieve"], "Thunderbird", at(T0))
        .await
        .unwrap();
    assert_eq!(info.protocols, ["imap", "sieve"]);
    assert_eq!(password.len(), 23);
    let t = at(T0 + 100);
    let judge = |p: &str, proto: &str| {
        let req = mail_request("alice", p, proto);
        let mfa = &mfa;
        async move { mfa.judge_mail_login("alice", &req, false, t).await.unwrap() }
    };
    assert_eq!(judge(&password, "imap").await, AppPasswordVerdict::AppPassword);
    assert_eq!(judge(&password, "smtp").await, AppPasswordVerdict::Unchanged);
    assert_eq!(judge("wrong", "imap").await, AppPasswordVerdict::Unchanged);
    let listed = mfa.app_passwords("alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].device, "Thunderbird");
    assert_eq!(listed[0].last_used, Some(T0 + 100));
    assert_eq!(listed[0].last_address, "192.0.2.44");
    assert!(mfa.revoke_app_password("alice", &info.id).await.unwrap());
    assert!(!mfa.revoke_app_password("alice", &info.id).await.unwrap());
    assert_eq!(judge(&password, "imap").await, AppPasswordVerdict::Unchanged);
    assert_eq!(*changed.lock().unwrap(), ["alice"]);
    // Bad scopes are refused.
    assert!(
        mfa.create_app_password("alice", &["oidc"], "", at(T0))
            .await
            .is_err()
    );
    assert!(mfa.create_app_password("alice", &[], "", at(T0)).await.is_err());
}

#[tokio::test]
async fn with_the_mfa_rule_the_main_password_stops_working_once_a_factor_is_enrolled() {
    let mut bed = Bed::new();
    bed.config.mfa.require_app_password_for_mfa_users = true;
    let mfa = bed.mfa();
    let req = mail_request("alice", "main-password", "imap");
    assert_eq!(
        mfa.judge_mail_login("alice", &req, true, at(T0)).await.unwrap(),
        AppPasswordVerdict::Unchanged
    );
    enrolled(&mfa, "alice").await;
    assert_eq!(
        mfa.judge_mail_login("alice", &req, true, at(T0)).await.unwrap(),
        AppPasswordVerdict::MainPasswordRefused
    );
    assert!(mfa.remove_totp("alice").await.unwrap());
    assert_eq!(
        mfa.judge_mail_login("alice", &req, true, at(T0)).await.unwrap(),
        AppPasswordVerdict::Unchanged
    );
}
