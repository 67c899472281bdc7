//! Every endpoint: success, wrong password, unknown user, no-auth, list-accounts.

use serde_json::json;

use crate::support::{TestServer, assert_error, header};

const ALICE: (&str, &str) = ("alice@example.test", "alice-secret");

#[tokio::test]
async fn json_success_has_the_headers_and_body_clients_read() {
    let s = TestServer::start().await;
    let r = s
        .json(
            "",
            json!({"username": ALICE.0, "password": ALICE.1, "protocol": "imap", "client_ip": "192.0.2.10"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-status"), "OK");
    assert_eq!(header(&r, "auth-user"), ALICE.0);
    assert_eq!(header(&r, "x-nauthilus-memory-cache"), "Miss");
    assert_eq!(header(&r, "x-nauthilus-session").len(), 27);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(body["passdb_backend"], "passwdFilePassDB");
    assert_eq!(body["backend"], 5);
    assert_eq!(body["account_field"], "user");
    assert_eq!(body["totp_secret_field"], "");
    assert_eq!(body["webauth_userid_field"], "");
    assert_eq!(body["display_name_field"], "gecos");
    assert_eq!(body["attributes"]["mail"], json!(["alice@example.test"]));
    assert_eq!(body["attributes"]["uid"], json!(["1000"]));
}

#[tokio::test]
async fn a_repeated_login_is_answered_from_memory_unless_in_memory_0() {
    let s = TestServer::start().await;
    let login = json!({"username": ALICE.0, "password": ALICE.1, "protocol": "imap"});
    assert_eq!(
        header(&s.json("", login.clone()).await, "x-nauthilus-memory-cache"),
        "Miss"
    );
    let hit = s.json("", login.clone()).await;
    assert_eq!(hit.status(), 200);
    assert_eq!(header(&hit, "x-nauthilus-memory-cache"), "Hit");
    assert_eq!(
        header(&s.json("?in-memory=0", login).await, "x-nauthilus-memory-cache"),
        "Miss"
    );
}

#[tokio::test]
async fn json_wrong_password_and_unknown_user_are_403() {
    let s = TestServer::start().await;
    let r = s
        .json(
            "",
            json!({"username": ALICE.0, "password": "wrong", "auth_login_attempt": 15}),
        )
        .await;
    assert_eq!(header(&r, "auth-status"), "Invalid login or password");
    assert_eq!(header(&r, "auth-wait"), "4");
    assert_eq!(assert_error(r, 403).await, "Invalid login or password");
    let r = s
        .json("", json!({"username": "nobody@example.test", "password": "x"}))
        .await;
    assert_eq!(assert_error(r, 403).await, "Invalid login or password");
    let r = s
        .json(
            "",
            json!({"username": "carol@example.test", "password": "anything"}),
        )
        .await;
    assert_eq!(
        assert_error(r, 403).await,
        "Invalid login or password",
        "a user without password cannot log in"
    );
}

#[tokio::test]
async fn json_accepts_forms_and_the_service_alias() {
    let s = TestServer::start().await;
    let r = s
        .http
        .post(s.url("/api/v1/auth/json"))
        .form(&[("username", ALICE.0), ("password", ALICE.1), ("service", "pop3")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), ALICE.0);
}

#[tokio::test]
async fn no_auth_looks_users_up_without_a_password() {
    let s = TestServer::start().await;
    let r = s
        .json("?mode=no-auth", json!({"username": "carol@example.test"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), "carol@example.test");
    let r = s
        .get_with("/api/v1/auth/header?mode=no-auth", &[("Auth-User", ALICE.0)])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-nauthilus-mail"), ALICE.0);
    let r = s
        .json("?mode=no-auth", json!({"username": "nobody@example.test"}))
        .await;
    assert_error(r, 403).await;
}

#[tokio::test]
async fn list_accounts_as_json_or_lines() {
    let s = TestServer::start().await;
    let all = ["alice@example.test", "bob@example.test", "carol@example.test"];
    for path in [
        "/api/v1/auth/json",
        "/api/v1/auth/header",
        "/api/v1/auth/nginx",
        "/api/v1/auth/basic",
    ] {
        let r = s
            .get_with(
                &format!("{path}?mode=list-accounts"),
                &[("Accept", "application/json")],
            )
            .await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.json::<Vec<String>>().await.unwrap(), all, "{path}");
    }
    let r = s
        .get_with(
            "/api/v1/auth/json?mode=list-accounts",
            &[("Accept", "text/plain")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/plain"));
    assert_eq!(
        r.text().await.unwrap(),
        "alice@example.test\r\nbob@example.test\r\ncarol@example.test\r\n"
    );
    let r = s
        .get_with("/api/v1/auth/json?mode=list-accounts", &[("Accept", "text/html")])
        .await;
    assert_error(r, 415).await;
}

#[tokio::test]
async fn header_endpoint_sends_attributes_as_headers() {
    let s = TestServer::start().await;
    let r = s
        .get_with(
            "/api/v1/auth/header",
            &[
                ("Auth-User", ALICE.0),
                ("Auth-Pass", ALICE.1),
                ("Auth-Protocol", "imap"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-status"), "OK");
    assert_eq!(header(&r, "auth-user"), ALICE.0);
    assert_eq!(header(&r, "x-nauthilus-mail"), ALICE.0);
    assert_eq!(header(&r, "x-nauthilus-displayname"), "Alice");
    assert_eq!(header(&r, "x-nauthilus-home"), "/home/alice");
    assert_eq!(r.text().await.unwrap(), "OK");
    let r = s
        .http
        .post(s.url("/api/v1/auth/header"))
        .header("Auth-User", ALICE.0)
        .header("Auth-Pass", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "auth-wait"), "0");
    assert_error(r, 403).await;
}

#[tokio::test]
async fn header_passwords_may_be_percent_or_base64_encoded() {
    let users = "pct@example.test:{PLAIN}p%41ss+w!rd\nb64@example.test:{PLAIN}??>\n";
    let s = TestServer::with_users(users, "", "").await;
    // The password "p%41ss+w!rd" travels percent-encoded: % → %25.
    let r = s
        .get_with(
            "/api/v1/auth/header",
            &[
                ("Auth-User", "pct%40example.test"),
                ("Auth-Pass", "p%2541ss+w%21rd"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200, "percent-decoded user and password");
    // "??>" is "Pz8+" in standard base64 and "Pz8-" in the URL-safe alphabet; both are read.
    for (name, encoded) in [
        ("X-Auth-Password-Encoded", "Pz8+"),
        ("Auth-Password-Encoded", "Pz8-"),
    ] {
        let r = s
            .get_with(
                "/api/v1/auth/header",
                &[
                    ("Auth-User", "b64@example.test"),
                    ("Auth-Pass", encoded),
                    (name, "1"),
                ],
            )
            .await;
        assert_eq!(r.status(), 200, "base64 via {name}");
    }
}

#[tokio::test]
async fn nginx_always_answers_200_and_names_the_upstream() {
    let s = TestServer::with_config("nginx_backends:\n  imap: {address: 10.0.0.7, port: 1143}", "").await;
    let login = |user: &'static str, pass: &'static str, proto: &'static str| {
        vec![
            ("Auth-User", user),
            ("Auth-Pass", pass),
            ("Auth-Protocol", proto),
            ("Auth-Method", "plain"),
            ("Auth-Login-Attempt", "1"),
            ("Client-IP", "192.0.2.33"),
        ]
    };
    let r = s
        .get_with("/api/v1/auth/nginx", &login(ALICE.0, ALICE.1, "imap"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-status"), "OK");
    assert_eq!(header(&r, "auth-server"), "10.0.0.7");
    assert_eq!(header(&r, "auth-port"), "1143");
    let r = s
        .get_with("/api/v1/auth/nginx", &login(ALICE.0, ALICE.1, "smtp"))
        .await;
    assert_eq!(
        (header(&r, "auth-server"), header(&r, "auth-port")),
        ("127.0.0.1", "5871"),
        "Nauthilus defaults"
    );
    let r = s
        .get_with("/api/v1/auth/nginx", &login(ALICE.0, ALICE.1, "sieve"))
        .await;
    // Issue 10: an OK without Auth-Server/Auth-Port leaves nginx unable to proxy; it is a
    // temporary failure (and a log line naming the protocol).
    assert_eq!(r.status(), 200, "nginx answers are 200");
    assert_eq!(
        header(&r, "auth-status"),
        "Temporary server problem, try again later",
        "no upstream known for sieve"
    );
    assert_eq!(header(&r, "auth-server"), "");
    let r = s
        .get_with("/api/v1/auth/nginx", &login(ALICE.0, "wrong", "imap"))
        .await;
    assert_eq!(r.status(), 200, "nginx failures are 200");
    assert_eq!(header(&r, "auth-status"), "Invalid login or password");
    assert_eq!(header(&r, "auth-wait"), "0");
    assert_eq!(header(&r, "auth-server"), "");
}

#[tokio::test]
async fn nginx_upstreams_follow_the_nauthilus_top_level_knobs() {
    let s = TestServer::with_config("", "imap_backend_address: 192.0.2.143\nimap_backend_port: 10143").await;
    let r = s
        .get_with(
            "/api/v1/auth/nginx",
            &[
                ("Auth-User", ALICE.0),
                ("Auth-Pass", ALICE.1),
                ("Auth-Protocol", "imap"),
            ],
        )
        .await;
    assert_eq!(
        (header(&r, "auth-server"), header(&r, "auth-port")),
        ("192.0.2.143", "10143")
    );
}

#[tokio::test]
async fn saslauthd_joins_the_realm() {
    let s = TestServer::start().await;
    let form = [
        ("username", "alice"),
        ("realm", "example.test"),
        ("password", ALICE.1),
        ("service", "imap"),
        ("method", "PLAIN"),
    ];
    let r = s
        .http
        .post(s.url("/api/v1/auth/saslauthd"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-user"), ALICE.0);
    let bad = [
        ("username", "alice"),
        ("realm", "example.test"),
        ("password", "wrong"),
    ];
    let r = s
        .http
        .post(s.url("/api/v1/auth/saslauthd"))
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_error(r, 403).await;
}

#[tokio::test]
async fn basic_checks_the_credentials() {
    let s = TestServer::start().await;
    let r = s
        .http
        .get(s.url("/api/v1/auth/basic"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-status"), "OK");
    let r = s
        .http
        .post(s.url("/api/v1/auth/basic"))
        .basic_auth(ALICE.0, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_error(r, 403).await;
    let r = s.http.get(s.url("/api/v1/auth/basic")).send().await.unwrap();
    assert!(header(&r, "www-authenticate").starts_with("Basic realm="));
    assert_error(r, 401).await;
}

#[tokio::test]
async fn ping_answers_pong() {
    let s = TestServer::start().await;
    let r = s.http.get(s.url("/ping")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "pong");
}

#[tokio::test]
async fn disabled_endpoints_are_404() {
    let s = TestServer::with_config("disabled_endpoints: {auth_json: true, auth_nginx: true}", "").await;
    assert_error(
        s.json("", json!({"username": ALICE.0, "password": ALICE.1}))
            .await,
        404,
    )
    .await;
    assert_error(
        s.get_with(
            "/api/v1/auth/nginx",
            &[("Auth-User", ALICE.0), ("Auth-Pass", ALICE.1)],
        )
        .await,
        404,
    )
    .await;
    let r = s
        .get_with(
            "/api/v1/auth/header",
            &[("Auth-User", ALICE.0), ("Auth-Pass", ALICE.1)],
        )
        .await;
    assert_eq!(r.status(), 200, "others stay on");
}

#[tokio::test]
async fn cache_flush_removes_the_users_cache_entries() {
    let s = TestServer::start().await;
    assert_eq!(
        s.json(
            "",
            json!({"username": ALICE.0, "password": ALICE.1, "protocol": "imap"})
        )
        .await
        .status(),
        200
    );
    let r = s
        .http
        .delete(s.url("/api/v1/cache/flush"))
        .json(&json!({"user": ALICE.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = header(&r, "x-nauthilus-session").to_owned();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["guid"], session);
    assert_eq!(body["object"], "cache");
    assert_eq!(body["operation"], "flush");
    assert_eq!(body["result"]["user"], ALICE.0);
    assert_eq!(body["result"]["status"], "flushed");
    let removed: Vec<String> = serde_json::from_value(body["result"]["removed_keys"].clone()).unwrap();
    assert!(
        removed.contains(&format!("nauthilus:ucp:__default__:{}", ALICE.0)),
        "{removed:?}"
    );
    let again = s
        .http
        .delete(s.url("/api/v1/cache/flush"))
        .json(&json!({"user": ALICE.0}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = again.json().await.unwrap();
    assert_eq!(body["result"]["status"], "not flushed");
    assert_eq!(body["result"]["removed_keys"], json!([]));
    let login = s
        .json(
            "",
            json!({"username": ALICE.0, "password": ALICE.1, "protocol": "imap"}),
        )
        .await;
    assert_eq!(
        header(&login, "x-nauthilus-memory-cache"),
        "Miss",
        "the in-process entry went too"
    );
}

#[tokio::test]
async fn cache_flush_rejects_wildcards_and_missing_users() {
    let s = TestServer::start().await;
    for body in [
        json!({"user": "*"}),
        json!({"user": "ali*"}),
        json!({}),
        json!({"user": ""}),
    ] {
        let r = s
            .http
            .delete(s.url("/api/v1/cache/flush"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(r, 400).await;
    }
}
