//! Bad input gets a clear error with the right status and the session id — never a panic and
//! never `Auth-Status: OK`.

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;

use crate::support::{TestServer, assert_error};

#[tokio::test]
async fn a_body_over_1_mib_is_413() {
    let s = TestServer::start().await;
    let big = format!(
        r#"{{"username":"alice@example.test","password":"{}"}}"#,
        "x".repeat(1024 * 1024 + 1)
    );
    let r = s
        .http
        .post(s.url("/api/v1/auth/json"))
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert!(assert_error(r, 413).await.contains("larger than"));
}

#[tokio::test]
async fn invalid_json_is_400() {
    let s = TestServer::start().await;
    for body in [
        r#"{"username": "alice@example.test", "password": "#,
        "",
        "[1,2]",
        r#"{"username": 5, "password": {}}"#,
    ] {
        let r = s
            .http
            .post(s.url("/api/v1/auth/json"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let message = assert_error(r, 400).await;
        assert!(
            message.contains("JSON") || message.contains("empty"),
            "{body:?}: {message}"
        );
    }
}

#[tokio::test]
async fn invalid_utf8_is_400() {
    let s = TestServer::start().await;
    let body = b"{\"username\":\"al\xffice\",\"password\":\"x\"}".to_vec();
    let r = s
        .http
        .post(s.url("/api/v1/auth/json"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(assert_error(r, 400).await.contains("UTF-8"));
    let mut headers = HeaderMap::new();
    headers.insert("Auth-User", HeaderValue::from_bytes(b"al\xffice").unwrap());
    headers.insert("Auth-Pass", HeaderValue::from_static("x"));
    let r = s
        .http
        .get(s.url("/api/v1/auth/header"))
        .headers(headers)
        .send()
        .await
        .unwrap();
    assert!(assert_error(r, 400).await.contains("UTF-8"));
}

#[tokio::test]
async fn bad_base64_is_400() {
    let s = TestServer::start().await;
    let r = s
        .get_with(
            "/api/v1/auth/header",
            &[
                ("Auth-User", "alice@example.test"),
                ("Auth-Pass", "!!not-base64!!"),
                ("X-Auth-Password-Encoded", "1"),
            ],
        )
        .await;
    assert!(assert_error(r, 400).await.contains("base64"));
    let r = s
        .http
        .get(s.url("/api/v1/auth/basic"))
        .header("Authorization", "Basic %%%")
        .send()
        .await
        .unwrap();
    assert_error(r, 401).await;
}

#[tokio::test]
async fn a_missing_username_or_password_is_400() {
    let s = TestServer::start().await;
    assert!(
        assert_error(s.json("", json!({"password": "x"})).await, 400)
            .await
            .contains("username")
    );
    assert!(
        assert_error(s.json("", json!({"username": "alice@example.test"})).await, 400)
            .await
            .contains("password")
    );
    assert!(
        assert_error(
            s.get_with("/api/v1/auth/header", &[("Auth-Pass", "x")]).await,
            400
        )
        .await
        .contains("username")
    );
    assert!(
        assert_error(
            s.get_with("/api/v1/auth/nginx", &[("Auth-User", "a@b")]).await,
            400
        )
        .await
        .contains("password")
    );
    let r = s
        .http
        .post(s.url("/api/v1/auth/saslauthd"))
        .form(&[("password", "x")])
        .send()
        .await
        .unwrap();
    assert_error(r, 400).await;
}

#[tokio::test]
async fn usernames_with_forbidden_characters_are_400() {
    let s = TestServer::start().await;
    for user in ["alice smith", "a(b)", "x\"y", "a%b"] {
        assert_error(s.json("", json!({"username": user, "password": "x"})).await, 400).await;
    }
}

#[tokio::test]
async fn an_unknown_mode_is_400() {
    let s = TestServer::start().await;
    let r = s
        .json(
            "?mode=everything",
            json!({"username": "alice@example.test", "password": "alice-secret"}),
        )
        .await;
    assert!(assert_error(r, 400).await.contains("mode"));
    let r = s
        .json(
            "?in-memory=perhaps",
            json!({"username": "alice@example.test", "password": "alice-secret"}),
        )
        .await;
    assert_error(r, 400).await;
}

#[tokio::test]
async fn unsupported_media_types_are_415() {
    let s = TestServer::start().await;
    let r = s
        .get_with(
            "/api/v1/auth/header?mode=list-accounts",
            &[("Accept", "image/png")],
        )
        .await;
    assert_error(r, 415).await;
    let r = s
        .http
        .post(s.url("/api/v1/auth/json"))
        .header("Content-Type", "text/xml")
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_error(r, 415).await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let s = TestServer::start().await;
    assert_error(s.http.get(s.url("/api/v1/auth/nope")).send().await.unwrap(), 404).await;
    assert_error(s.http.put(s.url("/api/v1/auth/json")).send().await.unwrap(), 405).await;
    assert_error(
        s.http.get(s.url("/api/v1/auth/saslauthd")).send().await.unwrap(),
        405,
    )
    .await;
}

#[tokio::test]
async fn a_bad_login_attempt_header_is_400() {
    let s = TestServer::start().await;
    let r = s
        .get_with(
            "/api/v1/auth/nginx",
            &[
                ("Auth-User", "a@b"),
                ("Auth-Pass", "x"),
                ("Auth-Login-Attempt", "many"),
            ],
        )
        .await;
    assert_error(r, 400).await;
}
