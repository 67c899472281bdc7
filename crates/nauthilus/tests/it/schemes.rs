//! Every supported password scheme, end to end: the fixture holds one user per scheme, made by
//! independent tools (Dovecot's `doveadm pw`, OpenSSL, argon2-cffi).

use serde_json::json;

use crate::support::{TestServer, fixtures, header};

#[tokio::test]
async fn every_scheme_accepts_its_password_and_rejects_others() {
    let users = std::fs::read_to_string(fixtures().join("schemes.passwd")).unwrap();
    let s = TestServer::with_users(&users, "", "").await;
    let names: Vec<&str> = users
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(':').next())
        .collect();
    assert!(names.len() >= 18, "fixture lists every scheme: {names:?}");
    for user in names {
        let scheme = user.trim_end_matches("@schemes.test");
        let ok = s
            .json(
                "?in-memory=0&cache=0",
                json!({"username": user, "password": format!("pw-{scheme}")}),
            )
            .await;
        assert_eq!(ok.status(), 200, "{scheme}: right password");
        assert_eq!(header(&ok, "auth-user"), user);
        let bad = s
            .json(
                "?in-memory=0&cache=0",
                json!({"username": user, "password": format!("pw-{scheme}x")}),
            )
            .await;
        assert_eq!(bad.status(), 403, "{scheme}: wrong password");
    }
}
