//! `server.master_user`: `user*master` logs in with the master's password as the user.

use serde_json::json;

use crate::support::{TestServer, header};

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

async fn login(s: &TestServer, query: &str, username: &str, password: &str) -> reqwest::Response {
    s.json(
        query,
        json!({"username": username, "password": password, "client_ip": "198.51.100.9", "protocol": "imap"}),
    )
    .await
}

#[tokio::test]
async fn a_master_login_authenticates_the_master_and_answers_as_the_user() {
    let s = TestServer::with_config("master_user:\n  enabled: true\n", "").await;
    // Bob's mailbox, opened with Alice's (the master's) password.
    let r = login(&s, "", &format!("{BOB}*{ALICE}"), "alice-secret").await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(header(&r, "auth-user"), BOB);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["attributes"]["mail"], json!([BOB]), "the user's attributes");
    // Again: no cache answers a master login, the master is verified every time.
    let r = login(&s, "", &format!("{BOB}*{ALICE}"), "alice-secret").await;
    assert_eq!(header(&r, "auth-user"), BOB);
    // The user's own password is not the master's.
    let r = login(&s, "", &format!("{BOB}*{ALICE}"), "bob-secret").await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(header(&r, "auth-user"), "");
    // An unknown master or user fails.
    assert_eq!(
        login(&s, "", &format!("{BOB}*nobody@example.test"), "alice-secret")
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        login(&s, "", &format!("nobody@example.test*{ALICE}"), "alice-secret")
            .await
            .status()
            .as_u16(),
        403
    );
    // Not a master login: two delimiters, or nothing on one side.
    assert_eq!(
        login(&s, "", &format!("{BOB}*{ALICE}*x"), "alice-secret")
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        login(&s, "", &format!("*{ALICE}"), "alice-secret")
            .await
            .status()
            .as_u16(),
        403
    );
    // A lookup of a master name answers as the user.
    let r = s
        .json(
            "?mode=no-auth",
            json!({"username": format!("{BOB}*{ALICE}"), "client_ip": "198.51.100.9"}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(header(&r, "auth-user"), BOB);
    // Ordinary logins are unchanged.
    assert_eq!(
        header(&login(&s, "", ALICE, "alice-secret").await, "auth-user"),
        ALICE
    );
}

#[tokio::test]
async fn off_by_default_and_the_delimiter_is_configurable() {
    let s = TestServer::start().await;
    let r = login(&s, "", &format!("{BOB}*{ALICE}"), "alice-secret").await;
    assert_eq!(r.status().as_u16(), 403, "no master logins unless enabled");
    let s = TestServer::with_config("master_user:\n  enabled: true\n  delimiter: \"#\"\n", "").await;
    assert_eq!(
        login(&s, "", &format!("{BOB}*{ALICE}"), "alice-secret")
            .await
            .status()
            .as_u16(),
        403
    );
    let r = login(&s, "", &format!("{BOB}#{ALICE}"), "alice-secret").await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(header(&r, "auth-user"), BOB);
}
