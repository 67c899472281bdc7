//! Two server instances on one Redis (the testkit's, a prefix per test) and one key directory,
//! as behind a load balancer without sticky sessions: a login started on one finishes on the
//! other, and every token either issued works on both.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use nauthilus_testkit::shared_redis;
use reqwest::StatusCode;
use serde_json::Value;

use crate::idp_attacks::{
    ALICE, APP, Authorize, Browser, CALLBACK, Form, active, code_via, exchange, idp_server, location,
    query_of, token,
};
use crate::support::TestServer;

/// Two instances sharing Redis under `prefix` and the signing keys of `keys`.
async fn pair(prefix: &str, keys: &tempfile::TempDir) -> (TestServer, TestServer) {
    let redis = shared_redis().unwrap();
    let store = format!(
        "redis:\n  master: {{address: \"{}\"}}\n  prefix: \"{prefix}\"\n  password_nonce: it-nonce-0123456789abcdef",
        redis.addr()
    );
    let dir = keys.path().to_str().unwrap();
    // A first: it generates the keys; B finds them in the shared directory.
    let a = idp_server(&store, "", dir).await;
    let b = idp_server(&store, "", dir).await;
    (a, b)
}

/// The JWKS an instance publishes.
async fn jwks(s: &TestServer) -> JwkSet {
    let r = s.http.get(s.url("/oidc/jwks")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Verifies an ID token's signature with `set` and returns its claims (audience `aud`).
fn verify(id_token: &str, set: &JwkSet, aud: &str) -> Value {
    let header = decode_header(id_token).unwrap();
    let kid = header.kid.clone().expect("the ID token names its key");
    let jwk = set
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} not published"));
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[aud]);
    decode::<Value>(id_token, &key, &validation).unwrap().claims
}

#[tokio::test]
async fn a_login_started_on_one_instance_finishes_on_the_other() {
    let keys = tempfile::tempdir().unwrap();
    let (a, b) = pair("it-idp-scale-1:", &keys).await;
    let mut browser = Browser::new();
    let req = Authorize::new(APP.0);
    // Authorize on A; the login page and its POST on B.
    let code = code_via(&mut browser, &a, &b, &req, ALICE).await;
    // The code exchange on B.
    let (status, body, _) = exchange(&b, (APP.0, Some(APP.1)), &code, CALLBACK, Some(&req.verifier)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id_token = body["id_token"].as_str().unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    // Both instances publish the key that signed it.
    for s in [&a, &b] {
        let claims = verify(id_token, &jwks(s).await, APP.0);
        assert_eq!(claims["nonce"], req.nonce.as_str());
    }
    // The access token B issued introspects as active on A.
    assert!(active(&a, &access).await);
    // The refresh on A.
    let (status, refreshed, _) = token(
        &a,
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let rotated = refreshed["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, refresh);
    // Reuse of the old one, on B, is seen: the family is revoked on both.
    let (status, reuse, _) = token(
        &b,
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, after, _) = token(
        &a,
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", rotated)],
    )
    .await;
    assert_eq!(
        (status, after["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_login_page_served_by_one_instance_is_accepted_by_the_other_and_the_session_is_shared() {
    let keys = tempfile::tempdir().unwrap();
    let (a, b) = pair("it-idp-scale-2:", &keys).await;
    let mut browser = Browser::new();
    let req = Authorize::new(APP.0);
    // Authorize and the login page on A, its POST (with A's CSRF token) on B.
    let r = browser.get(&a, &req.path()).await;
    let (status, html) = browser.follow(&a, r).await.page();
    assert_eq!(status, StatusCode::OK, "{html}");
    let mut form = Form::find(&html, "/login");
    form.set("username", ALICE.0).set("password", ALICE.1);
    let r = browser.post(&b, &form.path(), &form.fields).await;
    let away = browser.follow(&b, r).await.away();
    assert!(query_of(&away).contains_key("code"), "{away}");
    // The session B created is known to A: a second authorization there skips the login.
    let again = Authorize::new(APP.0);
    let r = browser.get(&a, &again.path()).await;
    let to = location(&r);
    assert!(
        to.starts_with(CALLBACK),
        "A knows B's session: {} {to}",
        r.status()
    );
    let q = query_of(&to);
    assert_eq!(q.get("state"), Some(&again.state));
    let code = q.get("code").expect("a code").clone();
    let (status, body, _) = exchange(&a, (APP.0, Some(APP.1)), &code, CALLBACK, Some(&again.verifier)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
