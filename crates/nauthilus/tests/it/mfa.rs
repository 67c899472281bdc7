//! App passwords and the MFA-user rule through the real server: `/api/v1/auth/json` and
//! `/auth/nginx` accept an app password for its protocols only, never after it is revoked; with
//! `require_app_password_for_mfa_users` the main password stops working for mail once a TOTP
//! (confirmed with a code from `oathtool`) is enrolled; enrolments survive a restart, which
//! also empties the embedded state store (as a Redis flush would).

use std::time::SystemTime;

use serde_json::json;

use crate::support::{TestServer, header};

const ALICE: (&str, &str) = ("alice@example.test", "alice-secret");

fn mfa_yaml(dir: &std::path::Path, require: bool) -> String {
    format!(
        "mfa:\n  enabled: true\n  sql: {{url: 'sqlite://{}'}}\n  encryption_key_file: {}\n  require_app_password_for_mfa_users: {require}\n",
        dir.join("mfa.db").display(),
        dir.join("mfa.key").display()
    )
}

async fn server(state: &std::path::Path, require: bool) -> TestServer {
    TestServer::with_config("", &mfa_yaml(state, require)).await
}

async fn json_login(s: &TestServer, password: &str, protocol: &str) -> u16 {
    s.json(
        "",
        json!({"username": ALICE.0, "password": password, "protocol": protocol, "client_ip": "192.0.2.61"}),
    )
    .await
    .status()
    .as_u16()
}

async fn nginx_status(s: &TestServer, password: &str, protocol: &str) -> String {
    let r = s
        .get_with(
            "/api/v1/auth/nginx",
            &[
                ("Auth-User", ALICE.0),
                ("Auth-Pass", password),
                ("Auth-Protocol", protocol),
                ("Auth-Method", "plain"),
                ("Auth-Login-Attempt", "1"),
                ("Client-IP", "192.0.2.62"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    header(&r, "auth-status").to_owned()
}

#[tokio::test]
async fn an_app_password_works_for_its_protocol_only_until_revoked() {
    let state = tempfile::tempdir().unwrap();
    let s = server(state.path(), false).await;
    let mfa = s.server.services.mfa().unwrap().clone();
    let (info, password) = mfa
        .create_app_password(ALICE.0, &["imap"], "phone", SystemTime::now())
        .await
        .unwrap();
    assert_eq!(json_login(&s, &password, "imap").await, 200);
    assert_eq!(nginx_status(&s, &password, "imap").await, "OK");
    assert_eq!(json_login(&s, &password, "smtp").await, 403, "scoped to imap");
    assert_eq!(
        nginx_status(&s, &password, "smtp").await,
        "Invalid login or password"
    );
    // The main password still works without the MFA-user rule.
    assert_eq!(json_login(&s, ALICE.1, "imap").await, 200);
    let listed = mfa.app_passwords(ALICE.0).await.unwrap();
    assert_eq!(listed[0].last_address, "192.0.2.62");
    assert!(mfa.revoke_app_password(ALICE.0, &info.id).await.unwrap());
    assert_eq!(json_login(&s, &password, "imap").await, 403, "revoked");
    assert_eq!(
        nginx_status(&s, &password, "imap").await,
        "Invalid login or password"
    );
}

fn oathtool(secret: &str, at: SystemTime) -> String {
    let t = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let out = std::process::Command::new("oathtool")
        .args(["--totp", "-b", secret, "-N", &format!("@{t}")])
        .output()
        .expect("oathtool (scripts/test installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn with_the_mfa_rule_the_main_password_stops_working_for_mail_once_totp_is_enrolled() {
    let state = tempfile::tempdir().unwrap();
    let s = server(state.path(), true).await;
    let mfa = s.server.services.mfa().unwrap().clone();
    // Before any second factor: the main password works (and is now cached).
    assert_eq!(json_login(&s, ALICE.1, "imap").await, 200);
    let enrolment = mfa.begin_totp_enrolment(ALICE.0).await.unwrap();
    let now = SystemTime::now();
    let code = oathtool(&enrolment.secret_base32, now);
    let verdict = mfa
        .confirm_totp_enrolment(ALICE.0, &code, "192.0.2.61", now)
        .await
        .unwrap();
    assert_eq!(verdict, nauthilus_mfa::CodeVerdict::Accepted);
    // Enrolment forgot the cached login: the main password is refused for mail at once.
    assert_eq!(json_login(&s, ALICE.1, "imap").await, 403);
    assert_eq!(
        nginx_status(&s, ALICE.1, "imap").await,
        "Invalid login or password"
    );
    // Outside the mail protocols it still works.
    assert_eq!(json_login(&s, ALICE.1, "http").await, 200);
    let (_, password) = mfa
        .create_app_password(ALICE.0, &["imap", "smtp"], "", SystemTime::now())
        .await
        .unwrap();
    assert_eq!(json_login(&s, &password, "imap").await, 200);
    assert_eq!(json_login(&s, &password, "smtp").await, 200);
    // The code of the enrolment was used; it does not work again.
    assert_eq!(
        mfa.verify_totp(ALICE.0, &code, "192.0.2.61", now).await.unwrap(),
        nauthilus_mfa::CodeVerdict::Refused
    );
}

#[tokio::test]
async fn enrolments_survive_a_restart_with_an_empty_state_store() {
    let state = tempfile::tempdir().unwrap();
    let password = {
        let s = server(state.path(), true).await;
        let mfa = s.server.services.mfa().unwrap().clone();
        let enrolment = mfa.begin_totp_enrolment(ALICE.0).await.unwrap();
        let now = SystemTime::now();
        let code = oathtool(&enrolment.secret_base32, now);
        mfa.confirm_totp_enrolment(ALICE.0, &code, "192.0.2.61", now)
            .await
            .unwrap();
        let (_, password) = mfa
            .create_app_password(ALICE.0, &["imap"], "", now)
            .await
            .unwrap();
        s.server.shutdown().await.unwrap();
        password
    };
    let s = server(state.path(), true).await;
    assert_eq!(json_login(&s, &password, "imap").await, 200);
    assert_eq!(json_login(&s, ALICE.1, "imap").await, 403, "still an MFA user");
    let mfa = s.server.services.mfa().unwrap();
    assert!(mfa.has_totp(ALICE.0).await.unwrap());
}
